"""rosinality stylegan2-pytorch ``.pt`` checkpoints, read with ``torch.load(weights_only=True)``."""

from __future__ import annotations

import argparse
import pickle
import re
from collections.abc import Mapping
from pathlib import Path

import torch

from ..generator import Generator, GeneratorConfig, lowpass_filter
from .base import (
    FORMAT_ROSINALITY,
    ROSINALITY_MAPPING_LR,
    W_AVG_SAMPLES,
    CheckpointError,
    LoadedModel,
)
from .import_plan import (
    _assemble,
    _channel_params,
    _Copy,
    _estimate_w_avg,
    _expect_range,
    _file_sha256,
    _imported,
    _indices,
    _make_config,
    _shape_of,
    _tensor_dict,
)


def _rosinality_config(g: Mapping[str, torch.Tensor], what: str) -> GeneratorConfig:
    """Infer our GeneratorConfig from the shapes of a rosinality ``g_ema`` state dict."""
    layers = _expect_range(_indices(g, r"style\.(\d+)\.weight"), 1, what, "mapping layer style.{i}")
    w_dim, z_dim = _shape_of(g, "style.1.weight", 2, what)
    rgb_indices = _indices(g, r"to_rgbs\.(\d+)\.conv\.weight")
    upsampling_blocks = _expect_range(rgb_indices, 0, what, "to_rgbs.{i}") if rgb_indices else 0
    resolution = 2 ** (upsampling_blocks + 2)
    widths = {4: _shape_of(g, "conv1.conv.weight", 5, what)[1]}
    for block in range(upsampling_blocks):
        widths[2 ** (block + 3)] = _shape_of(g, f"convs.{2 * block + 1}.conv.weight", 5, what)[1]
    channel_base, channel_max = _channel_params(widths, what)
    return _make_config(
        what, resolution=resolution, z_dim=z_dim, w_dim=w_dim, mapping_layers=layers,
        mapping_lr_multiplier=ROSINALITY_MAPPING_LR, channel_base=channel_base, channel_max=channel_max,
        img_channels=_shape_of(g, "to_rgb1.conv.weight", 5, what)[1],
    )


def _rosinality_plan(generator: Generator) -> tuple[list[_Copy], dict[str, torch.Tensor]]:
    """The copies from rosinality names to ours, and the rosinality blur buffers to consume."""
    own = {name: tuple(tensor.shape) for name, tensor in generator.state_dict().items()}
    copies: list[_Copy] = []
    constants: dict[str, torch.Tensor] = {}
    upsample_kernel = lowpass_filter() * 4

    def add(target: str, source: str, source_shape: tuple[int, ...] | None = None,
            flip: bool = False) -> None:
        copies.append(_Copy(target, source, source_shape or own[target], flip))

    for index in range(generator.config.mapping_layers):
        add(f"mapping.fc{index}.weight", f"style.{index + 1}.weight")
        add(f"mapping.fc{index}.bias", f"style.{index + 1}.bias")

    def styled_conv(target: str, source: str, noise_index: int, up: bool) -> None:
        add(f"{target}.affine.weight", f"{source}.conv.modulation.weight")
        add(f"{target}.affine.bias", f"{source}.conv.modulation.bias")
        add(f"{target}.weight", f"{source}.conv.weight", (1, *own[f"{target}.weight"]), flip=up)
        add(f"{target}.bias", f"{source}.activate.bias")
        add(f"{target}.noise_strength", f"{source}.noise.weight", (1,))
        add(f"{target}.noise_const", f"noises.noise_{noise_index}", (1, 1, *own[f"{target}.noise_const"]))
        if up:
            constants[f"{source}.conv.blur.kernel"] = upsample_kernel

    def to_rgb(target: str, source: str, up: bool) -> None:
        add(f"{target}.affine.weight", f"{source}.conv.modulation.weight")
        add(f"{target}.affine.bias", f"{source}.conv.modulation.bias")
        add(f"{target}.weight", f"{source}.conv.weight", (1, *own[f"{target}.weight"]))
        add(f"{target}.bias", f"{source}.bias", (1, own[f"{target}.bias"][0], 1, 1))
        if up:
            constants[f"{source}.upsample.kernel"] = upsample_kernel

    add("synthesis.b4.const", "input.input", (1, *own["synthesis.b4.const"]))
    styled_conv("synthesis.b4.conv1", "conv1", 0, up=False)
    to_rgb("synthesis.b4.torgb", "to_rgb1", up=False)
    for block, res in enumerate(generator.config.block_resolutions[1:]):
        styled_conv(f"synthesis.b{res}.conv0", f"convs.{2 * block}", 2 * block + 1, up=True)
        styled_conv(f"synthesis.b{res}.conv1", f"convs.{2 * block + 1}", 2 * block + 2, up=False)
        to_rgb(f"synthesis.b{res}.torgb", f"to_rgbs.{block}", up=True)
    return copies, constants


def _torch_load_weights_only(path: Path) -> object:
    """``torch.load(weights_only=True)``, also admitting the argparse Namespace training runs store."""
    try:
        with torch.serialization.safe_globals([argparse.Namespace]):
            return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as error:
        found = re.search(r"GLOBAL ([\w.]+)", str(error))
        lines = [line for line in str(error).splitlines() if line.strip()]
        detail = f"it references {found.group(1)}" if found else lines[min(1, len(lines) - 1)]
        raise CheckpointError(f"{path}: refused by torch's weights-only loader: {detail}") from error
    except Exception as error:  # torch raises RuntimeError, EOFError, ... for damaged archives
        raise CheckpointError(f"{path}: cannot read torch checkpoint: {error}") from error


def load_rosinality(path: Path) -> LoadedModel:
    """Import a rosinality stylegan2-pytorch ``.pt`` file (``g_ema``, optional ``d`` and ``latent_avg``)."""
    data = _torch_load_weights_only(path)
    if not isinstance(data, dict) or "g_ema" not in data:
        keys = sorted(map(str, data)) if isinstance(data, dict) else type(data).__name__
        raise CheckpointError(
            f"{path}: not a rosinality stylegan2-pytorch checkpoint (no 'g_ema'; found {keys})"
        )
    what = f"{path} (rosinality g_ema)"
    g_ema = _tensor_dict(data["g_ema"], what)
    generator = Generator(_rosinality_config(g_ema, what))
    copies, constants = _rosinality_plan(generator)
    _assemble(generator, g_ema, copies, constants, (), what)
    metadata: dict[str, object] = {"source_format": FORMAT_ROSINALITY, "source_file": path.name,
                                   "source_sha256": _file_sha256(path)}
    latent_avg = data.get("latent_avg")
    if latent_avg is None:
        _estimate_w_avg(generator)
        metadata["w_avg_source"] = f"estimated from {W_AVG_SAMPLES} seeded z samples (no latent_avg)"
    else:
        if not isinstance(latent_avg, torch.Tensor):
            raise CheckpointError(f"{path}: latent_avg is a {type(latent_avg).__name__}, not a tensor")
        if latent_avg.numel() != generator.config.w_dim:
            raise CheckpointError(
                f"{path}: latent_avg has shape {list(latent_avg.shape)}, expected [{generator.config.w_dim}]"
            )
        generator.w_avg.copy_(latent_avg.detach().reshape(-1).float())
        metadata["w_avg_source"] = "latent_avg"
    discriminator_state: dict[str, torch.Tensor] = {}
    if data.get("d") is not None:
        discriminator_state = _tensor_dict(data["d"], f"{path} (rosinality d)")
        metadata["discriminator_layout"] = (
            "rosinality stylegan2-pytorch Discriminator state dict, names as in its model.py "
            "(convs.{i}, final_conv, final_linear); not loadable into PartEdit's discriminator"
        )
    known = {"g_ema", "latent_avg", "d"}
    metadata["ignored_entries"] = sorted(str(key) for key in data if key not in known)
    return _imported(generator, discriminator_state, metadata)
