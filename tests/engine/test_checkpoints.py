"""Checkpoint formats: native round trip, rosinality .pt and NVIDIA network-pickle import, safety.

Foreign checkpoints are built here in the public layouts (rosinality stylegan2-pytorch ``model.py``
state dicts; stylegan2-ada-pytorch ``torch_utils.persistence`` pickles) from random weights, and
the imported generator is compared with independent re-implementations of each source's forward
pass written below from the public code's math.
"""

from __future__ import annotations

import argparse
import math
import pickle
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from editing_engine.checkpoints import (
    FORMAT_NATIVE,
    FORMAT_NVIDIA,
    FORMAT_ROSINALITY,
    W_AVG_SAMPLES,
    CheckpointError,
    detect_format,
    load_generator,
    save_model,
)
from editing_engine.cli import main as cli_main
from editing_engine.generator import Generator, GeneratorConfig, upsample2x
from tests.engine.checkpoint_files import WIDTHS, blur_kernel, call_global, rosinality_g_ema, save_rosinality

SQRT2 = math.sqrt(2.0)


def upfirdn(x: torch.Tensor, kernel: torch.Tensor, up: int, pad: tuple[int, int]) -> torch.Tensor:
    """Zero-insert upsampling by ``up``, zero padding, then true convolution with ``kernel`` per channel."""
    batch, channels, height, width = x.shape
    if up > 1:
        inserted = x.new_zeros(batch, channels, height * up, width * up)
        inserted[:, :, ::up, ::up] = x
        x = inserted
    x = F.pad(x, [pad[0], pad[1], pad[0], pad[1]])
    weight = kernel.flip([0, 1])[None, None].repeat(channels, 1, 1, 1)
    return F.conv2d(x, weight, groups=channels)


def lrelu(x: torch.Tensor) -> torch.Tensor:
    return F.leaky_relu(x, 0.2) * SQRT2


# ----------------------------------------------------------------------------------------------
# rosinality stylegan2-pytorch: layout builder and reference forward pass.

def ros_linear(x: torch.Tensor, state: dict, prefix: str, lr_mul: float = 1.0,
               act: bool = False) -> torch.Tensor:
    weight = state[f"{prefix}.weight"]
    out = F.linear(x, weight * (lr_mul / math.sqrt(weight.shape[1])))
    bias = state[f"{prefix}.bias"] * lr_mul
    return lrelu(out + bias) if act else out + bias


def ros_modconv(x: torch.Tensor, style: torch.Tensor, state: dict, prefix: str, demodulate: bool,
                up: bool) -> torch.Tensor:
    """rosinality ModulatedConv2d (fused path), one sample at a time."""
    weight = state[f"{prefix}.weight"]
    _, out_ch, in_ch, k, _ = weight.shape
    styles = ros_linear(style, state, f"{prefix}.modulation")
    weight = weight / math.sqrt(in_ch * k * k) * styles.view(-1, 1, in_ch, 1, 1)
    if demodulate:
        weight = weight * torch.rsqrt(weight.pow(2).sum([2, 3, 4]) + 1e-8).view(-1, out_ch, 1, 1, 1)
    outputs = []
    for sample in range(x.shape[0]):
        if up:
            out = F.conv_transpose2d(x[sample:sample + 1], weight[sample].transpose(0, 1), stride=2)
            outputs.append(upfirdn(out, state[f"{prefix}.blur.kernel"], up=1, pad=(1, 1)))
        else:
            outputs.append(F.conv2d(x[sample:sample + 1], weight[sample], padding=k // 2))
    return torch.cat(outputs)


def ros_styled_conv(x: torch.Tensor, style: torch.Tensor, state: dict, prefix: str, noise: torch.Tensor,
                    up: bool) -> torch.Tensor:
    out = ros_modconv(x, style, state, f"{prefix}.conv", demodulate=True, up=up)
    out = out + state[f"{prefix}.noise.weight"] * noise
    return lrelu(out + state[f"{prefix}.activate.bias"].view(1, -1, 1, 1))


def ros_to_rgb(x: torch.Tensor, style: torch.Tensor, state: dict, prefix: str,
               skip: torch.Tensor | None) -> torch.Tensor:
    out = ros_modconv(x, style, state, f"{prefix}.conv", demodulate=False, up=False) + state[f"{prefix}.bias"]
    if skip is not None:
        out = out + upfirdn(skip, state[f"{prefix}.upsample.kernel"], up=2, pad=(2, 1))
    return out


def ros_mapping(state: dict, z: torch.Tensor, n_mlp: int) -> torch.Tensor:
    x = z * torch.rsqrt(torch.mean(z**2, dim=1, keepdim=True) + 1e-8)
    for index in range(1, n_mlp + 1):
        x = ros_linear(x, state, f"style.{index}", lr_mul=0.01, act=True)
    return x


def ros_generate(state: dict, w: torch.Tensor, resolution: int) -> torch.Tensor:
    """rosinality Generator.forward(input_is_latent=True, randomize_noise=False) for one w per sample."""
    noise = [state[f"noises.noise_{i}"] for i in range((int(math.log2(resolution)) - 2) * 2 + 1)]
    out = state["input.input"].repeat(w.shape[0], 1, 1, 1)
    out = ros_styled_conv(out, w, state, "conv1", noise[0], up=False)
    skip = ros_to_rgb(out, w, state, "to_rgb1", None)
    for block in range(int(math.log2(resolution)) - 2):
        out = ros_styled_conv(out, w, state, f"convs.{2 * block}", noise[2 * block + 1], up=True)
        out = ros_styled_conv(out, w, state, f"convs.{2 * block + 1}", noise[2 * block + 2], up=False)
        skip = ros_to_rgb(out, w, state, f"to_rgbs.{block}", skip)
    return skip


# ----------------------------------------------------------------------------------------------
# NVIDIA stylegan2-ada-pytorch: torch_utils.persistence emulation, layout builder, reference forward.


@dataclass
class Persistent:
    """Stands for an object of a ``@persistence.persistent_class`` (pickled as its meta record)."""

    class_name: str
    state: dict


class EasyDict(dict):
    """Pickled under dnnlib.util.EasyDict, like the kwargs NVIDIA's training loop stores."""


def _reconstruct_persistent_obj(meta: dict) -> None:
    """Placeholder pickled by reference as torch_utils.persistence._reconstruct_persistent_obj."""


class PersistencePickler(pickle._Pickler):  # the pure-Python pickler lets save_global be overridden
    """Writes ``Persistent`` objects exactly as torch_utils.persistence does, without that package."""

    def __init__(self, handle: object, protocol: int, module_src: str) -> None:
        super().__init__(handle, protocol=protocol)
        self.module_src = module_src

    def reducer_override(self, obj: object) -> object:
        if isinstance(obj, Persistent):
            meta = dict(type="class", version=6, module_src=self.module_src, class_name=obj.class_name,
                        state=obj.state)
            return (_reconstruct_persistent_obj, (meta,))
        return NotImplemented

    def save(self, obj: object, save_persistent_id: bool = True) -> None:
        names = {id(_reconstruct_persistent_obj): b"torch_utils.persistence\n_reconstruct_persistent_obj\n",
                 id(EasyDict): b"dnnlib.util\nEasyDict\n"}
        if id(obj) not in names:
            super().save(obj, save_persistent_id)
        elif id(obj) in self.memo:
            self.write(self.get(self.memo[id(obj)][0]))
        else:
            self.write(pickle.GLOBAL + names[id(obj)])
            self.memoize(obj)


def module(class_name: str, parameters: dict | None = None, buffers: dict | None = None,
           modules: dict | None = None, **attributes: object) -> Persistent:
    """A persistent torch.nn.Module's ``__dict__`` as NVIDIA pickles carry it."""
    state = {
        "training": False,
        "_parameters": OrderedDict((k, None if v is None else torch.nn.Parameter(v, requires_grad=False))
                                   for k, v in (parameters or {}).items()),
        "_buffers": OrderedDict(buffers or {}),
        "_non_persistent_buffers_set": set(),
        "_backward_hooks": OrderedDict(),
        "_forward_hooks": OrderedDict(),
        "_forward_pre_hooks": OrderedDict(),
        "_state_dict_hooks": OrderedDict(),
        "_load_state_dict_pre_hooks": OrderedDict(),
        "_modules": OrderedDict(modules or {}),
        "_init_args": (),
        "_init_kwargs": EasyDict(),
        **attributes,
    }
    return Persistent(class_name, state)


def nvidia_g_ema(resolution: int, z_dim: int = 24, w_dim: int = 20, layers: int = 2, seed: int = 1,
                 architecture: str = "skip") -> Persistent:
    """A random G_ema record tree with stylegan2-ada-pytorch's classes, names and shapes."""
    gen = torch.Generator().manual_seed(seed)

    def rand(*shape: int, scale: float = 1.0, offset: float = 0.0) -> torch.Tensor:
        return torch.randn(shape, generator=gen) * scale + offset

    def fc(cin: int, cout: int, lr: float, activation: str, bias_init: float = 0.0) -> Persistent:
        return module("FullyConnectedLayer", {"weight": rand(cout, cin, scale=1 / lr),
                                              "bias": rand(cout, scale=0.2, offset=bias_init)},
                      activation=activation, weight_gain=lr / math.sqrt(cin), bias_gain=lr)

    mapping_layers = {f"fc{i}": fc(z_dim if i == 0 else w_dim, w_dim, 0.01, "lrelu") for i in range(layers)}
    num_ws = 2 * int(math.log2(resolution)) - 2
    mapping = module("MappingNetwork", buffers={"w_avg": rand(w_dim)}, modules=mapping_layers, z_dim=z_dim,
                     c_dim=0, w_dim=w_dim, num_ws=num_ws, num_layers=layers, w_avg_beta=0.995)

    def layer(cin: int, cout: int, res: int, up: int) -> Persistent:
        return module("SynthesisLayer", {"weight": rand(cout, cin, 3, 3), "noise_strength": rand(scale=0.3),
                                         "bias": rand(cout, scale=0.2)},
                      {"resample_filter": blur_kernel(), "noise_const": rand(res, res)},
                      {"affine": fc(w_dim, cin, 1.0, "linear", bias_init=1.0)},
                      resolution=res, up=up, use_noise=True, activation="lrelu", conv_clamp=256, padding=1,
                      act_gain=SQRT2)

    blocks = {}
    for res in [2**i for i in range(2, int(math.log2(resolution)) + 1)]:
        cout = WIDTHS[res]
        children = {} if res == 4 else {"conv0": layer(WIDTHS[res // 2], cout, res, up=2)}
        children["conv1"] = layer(cout, cout, res, up=1)
        children["torgb"] = module("ToRGBLayer", {"weight": rand(3, cout, 1, 1), "bias": rand(3, scale=0.2)},
                                   modules={"affine": fc(w_dim, cout, 1.0, "linear", bias_init=1.0)},
                                   conv_clamp=256, weight_gain=1 / math.sqrt(cout))
        blocks[f"b{res}"] = module("SynthesisBlock", {"const": rand(cout, 4, 4)} if res == 4 else {},
                                   {"resample_filter": blur_kernel()}, children,
                                   in_channels=0 if res == 4 else WIDTHS[res // 2], resolution=res,
                                   architecture=architecture, conv_clamp=256, use_fp16=False)
    synthesis = module("SynthesisNetwork", modules=blocks, w_dim=w_dim, img_resolution=resolution,
                       block_resolutions=sorted(int(name[1:]) for name in blocks))
    return module("Generator", modules={"mapping": mapping, "synthesis": synthesis}, z_dim=z_dim, c_dim=0,
                  w_dim=w_dim, img_resolution=resolution, img_channels=3,
                  _init_kwargs=EasyDict(mapping_kwargs=EasyDict(num_layers=layers),
                                        synthesis_kwargs=EasyDict()))


def tiny_discriminator() -> Persistent:
    """A two-block D record: enough to check names are collected with dots and None params skipped."""
    conv = module("Conv2dLayer", {"weight": torch.randn(8, 3, 1, 1), "bias": torch.zeros(8)},
                  {"resample_filter": blur_kernel()}, activation="lrelu")
    skip = module("Conv2dLayer", {"weight": torch.randn(8, 8, 1, 1), "bias": None},
                  {"resample_filter": blur_kernel()})
    block = module("DiscriminatorBlock", buffers={"resample_filter": blur_kernel()},
                   modules={"fromrgb": conv, "skip": skip}, architecture="resnet")
    out = module("FullyConnectedLayer", {"weight": torch.randn(1, 8), "bias": torch.zeros(1)})
    return module("Discriminator", modules={"b8": block, "b4": module("DiscriminatorEpilogue",
                                                                      modules={"out": out})})


def record_tensors(record: Persistent, prefix: str = "") -> dict[str, torch.Tensor]:
    """The state dict a real nn.Module built from this record would have (test-side walker)."""
    tensors = {prefix + k: v.detach() for k, v in record.state["_parameters"].items() if v is not None}
    tensors.update({prefix + k: v for k, v in record.state["_buffers"].items()})
    for name, child in record.state["_modules"].items():
        tensors.update(record_tensors(child, f"{prefix}{name}."))
    return tensors


def save_nvidia(path: Path, g_ema: Persistent, protocol: int = 4,
                module_src: str = "raise SystemExit('module_src must never be executed')\n",
                **extra: object) -> Path:
    with path.open("wb") as handle:
        PersistencePickler(handle, protocol, module_src).dump({"G_ema": g_ema, **extra})
    return path


def nv_fc(x: torch.Tensor, state: dict, prefix: str, lr: float, act: bool) -> torch.Tensor:
    weight = state[f"{prefix}.weight"]
    out = x @ (weight * (lr / math.sqrt(weight.shape[1]))).t() + state[f"{prefix}.bias"] * lr
    return lrelu(out) if act else out


def nv_modconv(x: torch.Tensor, weight: torch.Tensor, styles: torch.Tensor, demodulate: bool,
               up: bool) -> torch.Tensor:
    """stylegan2-ada modulated_conv2d through conv2d_resample's generic reference path, per sample."""
    w = weight[None] * styles[:, None, :, None, None]
    if demodulate:
        w = w * (w.square().sum(dim=[2, 3, 4], keepdim=True) + 1e-8).rsqrt()
    outputs = []
    for sample in range(x.shape[0]):
        if up:  # flip_weight=False: a true convolution of the filtered, upsampled input
            upsampled = upfirdn(x[sample:sample + 1], blur_kernel() * 4, up=2, pad=(3, 2))
            outputs.append(F.conv2d(upsampled, w[sample].flip([2, 3])))
        else:
            outputs.append(F.conv2d(x[sample:sample + 1], w[sample], padding=w.shape[-1] // 2))
    return torch.cat(outputs)


def nv_generate(state: dict, w: torch.Tensor, resolution: int) -> torch.Tensor:
    """stylegan2-ada SynthesisNetwork (skip architecture, noise_mode='const') for one w per sample."""
    x = img = None
    for res in [2**i for i in range(2, int(math.log2(resolution)) + 1)]:
        block = f"synthesis.b{res}"
        names = ["conv1"] if res == 4 else ["conv0", "conv1"]
        if res == 4:
            x = state[f"{block}.const"][None].repeat(w.shape[0], 1, 1, 1)
        for name in names:
            prefix = f"{block}.{name}"
            styles = nv_fc(w, state, f"{prefix}.affine", 1.0, act=False)
            x = nv_modconv(x, state[f"{prefix}.weight"], styles, demodulate=True, up=name == "conv0")
            x = x + state[f"{prefix}.noise_const"] * state[f"{prefix}.noise_strength"]
            x = lrelu(x + state[f"{prefix}.bias"].view(1, -1, 1, 1))
        styles = nv_fc(w, state, f"{block}.torgb.affine", 1.0, act=False) / math.sqrt(x.shape[1])
        y = nv_modconv(x, state[f"{block}.torgb.weight"], styles, demodulate=False, up=False)
        y = y + state[f"{block}.torgb.bias"].view(1, -1, 1, 1)
        img = y if img is None else upfirdn(img, blur_kernel() * 4, up=2, pad=(2, 1)) + y
    return img


# ----------------------------------------------------------------------------------------------
# Native format.


def tiny_generator(resolution: int = 16, seed: int = 0) -> Generator:
    torch.manual_seed(seed)
    config = GeneratorConfig(resolution=resolution, z_dim=16, w_dim=16, mapping_layers=2, channel_base=256,
                             channel_max=32)
    return Generator(config).eval()


def test_native_round_trip_gives_identical_outputs_and_hash(tmp_path: Path) -> None:
    generator = tiny_generator()
    with torch.no_grad():
        generator.mapping.w_avg.normal_()
    d_state = {"b8.conv0.weight": torch.randn(4, 4, 3, 3)}
    save_model(tmp_path / "model", generator, discriminator_state=d_state, metadata={"note": "x"})
    loaded = load_generator(tmp_path / "model")
    z = torch.randn(3, 16)
    assert torch.equal(loaded.generator(z, truncation_psi=0.7), generator(z, truncation_psi=0.7))
    save_model(tmp_path / "again", loaded.generator)
    assert load_generator(tmp_path / "again").weights_hash == loaded.weights_hash
    assert torch.equal(loaded.discriminator_state["b8.conv0.weight"], d_state["b8.conv0.weight"])
    assert loaded.metadata == {"note": "x"}
    assert detect_format(tmp_path / "model") == FORMAT_NATIVE


def test_native_refuses_discriminator_module_and_state_together(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="not both"):
        save_model(tmp_path, tiny_generator(), discriminator=torch.nn.Linear(2, 2),
                   discriminator_state={"w": torch.zeros(1)})


# ----------------------------------------------------------------------------------------------
# rosinality import.


def test_rosinality_weights_land_in_place(tmp_path: Path) -> None:
    g_ema = rosinality_g_ema(16)
    latent_avg = torch.randn(24)
    d_state = {"convs.0.0.weight": torch.randn(8, 3, 1, 1), "final_linear.1.bias": torch.zeros(1)}
    path = save_rosinality(tmp_path / "ros.pt", g_ema, latent_avg=latent_avg, d=d_state, g=g_ema,
                           g_optim={"state": {}, "param_groups": [{"lr": 0.002, "betas": (0.0, 0.99)}]},
                           args=argparse.Namespace(size=16, latent=24, n_mlp=3), ada_aug_p=0.1)
    assert detect_format(path) == FORMAT_ROSINALITY
    model = load_generator(path)
    config = model.config
    assert (config.resolution, config.z_dim, config.w_dim, config.mapping_layers) == (16, 24, 24, 3)
    assert {res: config.channels(res) for res in (4, 8, 16)} == {4: 32, 8: 32, 16: 16}
    ours = model.generator.state_dict()
    expected = {
        "mapping.fc0.weight": g_ema["style.1.weight"],
        "mapping.fc2.bias": g_ema["style.3.bias"],
        "mapping.w_avg": latent_avg,
        "synthesis.b4.const": g_ema["input.input"][0],
        "synthesis.b4.conv1.weight": g_ema["conv1.conv.weight"][0],
        "synthesis.b4.conv1.affine.bias": g_ema["conv1.conv.modulation.bias"],
        "synthesis.b4.conv1.noise_strength": g_ema["conv1.noise.weight"][0],
        "synthesis.b4.conv1.noise_const": g_ema["noises.noise_0"][0, 0],
        "synthesis.b4.torgb.bias": g_ema["to_rgb1.bias"].flatten(),
        "synthesis.b8.conv0.weight": g_ema["convs.0.conv.weight"][0].flip([2, 3]),
        "synthesis.b8.conv0.noise_const": g_ema["noises.noise_1"][0, 0],
        "synthesis.b8.conv1.bias": g_ema["convs.1.activate.bias"],
        "synthesis.b16.conv0.affine.weight": g_ema["convs.2.conv.modulation.weight"],
        "synthesis.b16.conv1.noise_const": g_ema["noises.noise_4"][0, 0],
        "synthesis.b16.torgb.weight": g_ema["to_rgbs.1.conv.weight"][0],
    }
    for name, tensor in expected.items():
        assert torch.equal(ours[name], tensor), name
    assert torch.equal(model.discriminator_state["convs.0.0.weight"], d_state["convs.0.0.weight"])
    assert model.metadata["w_avg_source"] == "latent_avg"
    assert model.metadata["ignored_entries"] == ["ada_aug_p", "args", "g", "g_optim"]


def test_rosinality_legacy_torch_format_is_read(tmp_path: Path) -> None:
    g_ema = rosinality_g_ema(8)
    torch.save({"g_ema": g_ema}, tmp_path / "old.pt", _use_new_zipfile_serialization=False)
    assert detect_format(tmp_path / "old.pt") == FORMAT_ROSINALITY
    ours = load_generator(tmp_path / "old.pt").generator.state_dict()
    assert torch.equal(ours["synthesis.b8.conv1.weight"], g_ema["convs.1.conv.weight"][0])


def test_rosinality_output_matches_reference_forward(tmp_path: Path) -> None:
    g_ema = rosinality_g_ema(8, seed=3)
    model = load_generator(save_rosinality(tmp_path / "ros.pt", g_ema))
    z = torch.randn(2, 24)
    w = ros_mapping(g_ema, z, 3)
    ws = model.generator.mapping(z)
    torch.testing.assert_close(ws[:, 0], w, rtol=1e-4, atol=1e-4)
    ours = model.generator.synthesis(ws, noise_mode="const")
    reference = ros_generate(g_ema, w, 8)
    torch.testing.assert_close(ours, reference, rtol=1e-4, atol=1e-4)


def test_rosinality_layers_match_reference_at_16px(tmp_path: Path) -> None:
    g_ema = rosinality_g_ema(16, seed=4)
    synthesis = load_generator(save_rosinality(tmp_path / "ros.pt", g_ema)).generator.synthesis
    x, w = torch.randn(2, 32, 8, 8), torch.randn(2, 24)
    ours = synthesis.b16.conv0(x, w, "const")
    reference = ros_styled_conv(x, w, g_ema, "convs.2", g_ema["noises.noise_3"], up=True)
    torch.testing.assert_close(ours, reference, rtol=1e-4, atol=1e-4)
    h, img = torch.randn(2, 16, 16, 16), torch.randn(2, 3, 8, 8)
    torch.testing.assert_close(synthesis.b16.conv1(h, w, "const"),
                               ros_styled_conv(h, w, g_ema, "convs.3", g_ema["noises.noise_4"], up=False))
    torch.testing.assert_close(upsample2x(img, synthesis.b16.resample_filter) + synthesis.b16.torgb(h, w),
                               ros_to_rgb(h, w, g_ema, "to_rgbs.1", img))


def test_rosinality_without_latent_avg_estimates_it(tmp_path: Path) -> None:
    g_ema = rosinality_g_ema(8)
    model = load_generator(save_rosinality(tmp_path / "ros.pt", g_ema))
    z = torch.randn(W_AVG_SAMPLES, 24, generator=torch.Generator().manual_seed(0))
    expected = ros_mapping(g_ema, z, 3).mean(dim=0)
    torch.testing.assert_close(model.generator.w_avg, expected, rtol=1e-4, atol=1e-4)
    assert "estimated" in str(model.metadata["w_avg_source"])


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda g: g.pop("convs.1.noise.weight"), r"missing keys: \[convs\.1\.noise\.weight\]"),
        (lambda g: g.update({"convs.1.conv.extra": torch.zeros(1)}),
         r"unexpected keys: \[convs\.1\.conv\.extra\]"),
        (lambda g: g.update({"convs.0.conv.modulation.weight": torch.zeros(32, 5)}),
         r"shape of convs\.0\.conv\.modulation\.weight is \[32, 5\]"),
        (lambda g: g.update({"convs.0.conv.blur.kernel": torch.ones(4, 4)}), r"not the \[1,3,3,1\] low-pass"),
        (lambda g: g.pop("to_rgbs.0.conv.weight"), r"to_rgbs"),
        (lambda g: g.pop("style.2.weight"), r"mapping layer style\.\{i\} indices are \[1, 3\]"),
        (lambda g: g.update({"convs.3.conv.weight": torch.zeros(1, 12, 12, 3, 3)}), r"channel widths"),
    ],
)
def test_rosinality_mismatches_are_clear_errors(tmp_path: Path, change: object, message: str) -> None:
    g_ema = rosinality_g_ema(16)
    change(g_ema)  # type: ignore[operator]
    with pytest.raises(CheckpointError, match=message):
        load_generator(save_rosinality(tmp_path / "ros.pt", g_ema))


def test_rosinality_wrong_latent_avg_and_missing_g_ema(tmp_path: Path) -> None:
    with pytest.raises(CheckpointError, match=r"latent_avg has shape \[5\]"):
        load_generator(save_rosinality(tmp_path / "a.pt", rosinality_g_ema(8), latent_avg=torch.zeros(5)))
    torch.save({"state_dict": {"w": torch.zeros(1)}}, tmp_path / "b.pt")
    with pytest.raises(CheckpointError, match=r"no 'g_ema'; found \['state_dict'\]"):
        load_generator(tmp_path / "b.pt")


class _RunsCommand:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple:
        import os

        return (os.system, (f"touch {self.marker}",))


def test_malicious_torch_file_is_refused(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    torch.save({"g_ema": {}, "args": _RunsCommand(marker)}, tmp_path / "evil.pt")
    with pytest.raises(CheckpointError, match=r"weights-only loader: it references posix\.system"):
        load_generator(tmp_path / "evil.pt")
    assert not marker.exists()


# ----------------------------------------------------------------------------------------------
# NVIDIA network-pickle import.


@pytest.mark.parametrize("protocol", [2, 3, 4])
def test_nvidia_weights_land_in_place(tmp_path: Path, protocol: int) -> None:
    g_ema = nvidia_g_ema(16)
    marker = tmp_path / "module_src_ran"
    path = save_nvidia(tmp_path / "net.pkl", g_ema, protocol, f"open({str(marker)!r}, 'w').close()\n",
                       D=tiny_discriminator(), G=nvidia_g_ema(16),
                       augment_pipe=module("AugmentPipe", buffers={"p": torch.zeros([])}),
                       training_set_kwargs=EasyDict(path="~/data.zip", resolution=16, use_labels=False))
    assert detect_format(path) == FORMAT_NVIDIA
    model = load_generator(path)
    assert not marker.exists()
    config = model.config
    assert (config.resolution, config.z_dim, config.w_dim, config.mapping_layers) == (16, 24, 20, 2)
    assert config.mapping_lr_multiplier == pytest.approx(0.01)
    source = record_tensors(g_ema)
    ours = model.generator.state_dict()
    assert set(source) - set(ours) == {"synthesis.b4.resample_filter"}
    for name, tensor in ours.items():
        expected = source[name].flip([2, 3]) if name.endswith("conv0.weight") else source[name]
        assert torch.equal(tensor, expected), name
    assert set(model.discriminator_state) == {"b8.resample_filter", "b8.fromrgb.weight", "b8.fromrgb.bias",
                                              "b8.fromrgb.resample_filter", "b8.skip.weight",
                                              "b8.skip.resample_filter", "b4.out.weight", "b4.out.bias"}
    assert model.metadata["ignored_entries"] == ["G", "augment_pipe", "training_set_kwargs"]
    assert model.metadata["source_training_set_kwargs"] == {"path": "~/data.zip", "resolution": 16,
                                                            "use_labels": False}
    assert model.metadata["source_conv_clamp"] == [256]


def test_nvidia_output_matches_reference_forward(tmp_path: Path) -> None:
    g_ema = nvidia_g_ema(8, seed=5)
    model = load_generator(save_nvidia(tmp_path / "net.pkl", g_ema))
    state = record_tensors(g_ema)
    z = torch.randn(2, 24)
    x = z * (z.square().mean(dim=1, keepdim=True) + 1e-8).rsqrt()
    for index in range(2):
        x = nv_fc(x, state, f"mapping.fc{index}", 0.01, act=True)
    ws = model.generator.mapping(z)
    torch.testing.assert_close(ws[:, 0], x, rtol=1e-4, atol=1e-4)
    ours = model.generator.synthesis(ws, noise_mode="const")
    reference = nv_generate(state, x, 8)
    torch.testing.assert_close(ours[..., 2:-2, 2:-2], reference[..., 2:-2, 2:-2], rtol=1e-4, atol=1e-4)


def _edit_layer(g_ema: Persistent, block: str, layer: str) -> dict:
    return g_ema.state["_modules"]["synthesis"].state["_modules"][block].state["_modules"][layer].state


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda g: _edit_layer(g, "b8", "conv1")["_parameters"].pop("noise_strength"),
         r"missing keys: \[synthesis\.b8\.conv1\.noise_strength\]"),
        (lambda g: _edit_layer(g, "b8", "conv1")["_buffers"].update(extra=torch.zeros(2)),
         r"unexpected keys: \[synthesis\.b8\.conv1\.extra\]"),
        (lambda g: _edit_layer(g, "b8", "torgb")["_modules"]["affine"].state["_parameters"].update(
            weight=torch.zeros(16, 20)), r"shape of synthesis\.b8\.torgb\.affine\.weight is \[16, 20\]"),
        (lambda g: _edit_layer(g, "b8", "conv0")["_buffers"].update(resample_filter=torch.ones(4, 4)),
         r"not the \[1,3,3,1\] low-pass"),
        (lambda g: g.state.update(c_dim=10), r"conditional generators \(c_dim=10\)"),
        (lambda g: g.state.update(img_resolution=32), r"disagree with tensor shapes"),
        (lambda g: _edit_layer(g, "b8", "conv1").update(use_noise=False), r"use_noise=False"),
    ],
)
def test_nvidia_mismatches_are_clear_errors(tmp_path: Path, change: object, message: str) -> None:
    g_ema = nvidia_g_ema(8)
    change(g_ema)  # type: ignore[operator]
    with pytest.raises(CheckpointError, match=message):
        load_generator(save_nvidia(tmp_path / "net.pkl", g_ema))


def test_nvidia_resnet_generator_is_refused(tmp_path: Path) -> None:
    with pytest.raises(CheckpointError, match=r"architecture 'resnet'"):
        load_generator(save_nvidia(tmp_path / "net.pkl", nvidia_g_ema(8, architecture="resnet")))


def test_stylegan3_synthesis_is_refused_as_unsupported(tmp_path: Path) -> None:
    g_ema = nvidia_g_ema(8)
    layer = module("SynthesisLayer", {"weight": torch.randn(4, 4, 3, 3)}, {"up_filter": torch.ones(6)},
                   in_size=[36, 36], is_torgb=False)
    g_ema.state["_modules"]["synthesis"] = module(
        "SynthesisNetwork", modules={"input": module("SynthesisInput", {"weight": torch.randn(4, 2)},
                                                     {"freqs": torch.randn(4, 2)}), "L0_36_4": layer})
    with pytest.raises(CheckpointError, match=r"StyleGAN3 .* unsupported architecture"):
        load_generator(save_nvidia(tmp_path / "sg3.pkl", g_ema))


@pytest.mark.parametrize(
    ("module_name", "name", "command"),
    [
        ("posix", "system", "touch {marker}"),
        ("os", "system", "touch {marker}"),
        ("subprocess", "getoutput", "touch {marker}"),
        ("builtins", "eval", "open({marker!r}, 'w').close()"),
        ("builtins", "exec", "open({marker!r}, 'w').close()"),
    ],
)
def test_malicious_pickle_is_refused_without_running(tmp_path: Path, module_name: str, name: str,
                                                      command: str) -> None:
    marker = tmp_path / "pwned"
    path = tmp_path / "evil.pkl"
    path.write_bytes(call_global(module_name, name, command.format(marker=str(marker))) + pickle.STOP)
    with pytest.raises(CheckpointError, match=rf"refusing to load {module_name}\.{name}"):
        load_generator(path)
    assert not marker.exists()


def test_malicious_global_hidden_inside_a_record_is_refused(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    g_ema = nvidia_g_ema(8)
    g_ema.state["_init_kwargs"] = _Evil(marker)
    with pytest.raises(CheckpointError, match=r"refusing to load posix\.system"):
        load_generator(save_nvidia(tmp_path / "evil.pkl", g_ema))
    assert not marker.exists()


class _Evil:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple:
        import os

        return (os.system, (f"touch {self.marker}",))


# ----------------------------------------------------------------------------------------------
# Detection, wrong formats and the CLI.


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "unrecognised checkpoint format"),
        (b"hello, this is text", "unrecognised checkpoint format"),
        (bytes(range(256)), "unrecognised checkpoint format"),
        (pickle.dumps({"a": 1}, protocol=4), r"not an NVIDIA network pickle \(no 'G_ema'; found \['a'\]\)"),
        (pickle.dumps([1, 2], protocol=3), r"not an NVIDIA network pickle \(no 'G_ema'; found list\)"),
        (b"\x80\x04\x95garbage", "cannot unpickle"),
        (b"PK\x03\x04 truncated zip", "cannot read torch checkpoint"),
    ],
)
def test_wrong_format_files_get_clear_errors(tmp_path: Path, content: bytes, message: str) -> None:
    path = tmp_path / "model.bin"
    path.write_bytes(content)
    with pytest.raises(CheckpointError, match=message):
        load_generator(path)


def test_wrong_paths_get_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(CheckpointError, match="no checkpoint at"):
        load_generator(tmp_path / "absent.pt")
    with pytest.raises(CheckpointError, match=r"directory without config\.json"):
        load_generator(tmp_path)
    save_model(tmp_path / "model", tiny_generator(8))
    with pytest.raises(CheckpointError, match=r"pass .*model instead"):
        load_generator(tmp_path / "model" / "config.json")


def test_import_checkpoint_cli_converts_to_native(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    source = save_nvidia(tmp_path / "net.pkl", nvidia_g_ema(8), D=tiny_discriminator())
    imported = load_generator(source)
    assert cli_main(["import-checkpoint", str(source), str(tmp_path / "out")]) == 0
    native = load_generator(tmp_path / "out")
    assert native.weights_hash == imported.weights_hash
    assert native.metadata["source_format"] == FORMAT_NVIDIA
    assert set(native.discriminator_state) == set(imported.discriminator_state)
    z = torch.randn(2, 24)
    assert torch.equal(native.generator(z), imported.generator(z))
    assert "partedit" in capsys.readouterr().out
    assert cli_main(["import-checkpoint", str(source), str(tmp_path / "out")]) == 2
    assert "not empty" in capsys.readouterr().err
    assert cli_main(["import-checkpoint", str(tmp_path / "absent.pkl"), str(tmp_path / "x")]) == 2
