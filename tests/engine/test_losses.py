"""Image distances: masked pixel MSE, discriminator-feature distance, LPIPS-VGG from local files."""

from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file, save_file

from editing_engine.checkpoints import load_generator, save_model
from editing_engine.cli import build_parser
from editing_engine.discriminator import Discriminator, DiscriminatorConfig
from editing_engine.generator import Generator, GeneratorConfig
from editing_engine.losses import (
    LPIPSVGG,
    VGG16_CHANNELS,
    VGG16_STAGES,
    DiscriminatorFeatureDistance,
    LossError,
    build_perceptual_distance,
    pixel_mse,
    psnr,
)
from editing_engine.perceptual_options import perceptual_from_args


def images(seed: int, size: int = 16) -> torch.Tensor:
    return torch.rand(2, 3, size, size, generator=torch.Generator().manual_seed(seed)) * 2 - 1


def tiny_discriminator() -> Discriminator:
    torch.manual_seed(0)
    return Discriminator(DiscriminatorConfig(resolution=16, channel_base=128, channel_max=16))


def test_pixel_mse_averages_over_masked_pixels_only() -> None:
    a = torch.zeros(1, 3, 4, 4)
    b = torch.zeros(1, 3, 4, 4)
    b[..., 0, 0] = 2.0
    mask = torch.zeros(1, 4, 4)
    mask[0, :2, :2] = 1
    assert pixel_mse(a, b).item() == pytest.approx(4.0 / 16)
    assert pixel_mse(a, b, mask).item() == pytest.approx(4.0 / 4)
    assert pixel_mse(a, b, 1 - mask).item() == 0.0
    with pytest.raises(LossError, match="mask"):
        pixel_mse(a, b, torch.ones(1, 3, 3))


def test_psnr_of_known_error() -> None:
    a = torch.zeros(1, 3, 8, 8)
    assert psnr(a, a + 0.2).item() == pytest.approx(10 * torch.log10(torch.tensor(4 / 0.04)).item(), rel=1e-5)


def test_discriminator_distance_properties() -> None:
    distance = DiscriminatorFeatureDistance(tiny_discriminator())
    a, b = images(1), images(2)
    assert distance(a, a).abs().max().item() < 1e-6
    d = distance(a, b)
    assert d.shape == (2,) and (d > 0).all()
    mask = torch.zeros(2, 16, 16)
    mask[:, :8] = 1
    changed_outside = a.clone()
    changed_outside[..., 8:, :] = b[..., 8:, :]
    assert distance(a, changed_outside, mask).abs().max().item() < 1e-6
    assert (distance(a, changed_outside) > 0).all()


def test_discriminator_distance_is_differentiable() -> None:
    distance = DiscriminatorFeatureDistance(tiny_discriminator())
    a = images(1).requires_grad_(True)
    distance(a, images(2)).sum().backward()
    assert a.grad is not None and a.grad.abs().sum() > 0


def test_build_from_model_file(tmp_path: Path) -> None:
    torch.manual_seed(0)
    generator = Generator(
        GeneratorConfig(resolution=16, z_dim=16, w_dim=16, mapping_layers=1, channel_base=64, channel_max=16)
    )
    disc_config = DiscriminatorConfig(resolution=16, channel_base=128, channel_max=16)
    save_model(tmp_path / "with_d", generator, Discriminator(disc_config), disc_config.to_dict())
    save_model(tmp_path / "no_d", generator)
    assert isinstance(
        build_perceptual_distance(load_generator(tmp_path / "with_d")), DiscriminatorFeatureDistance
    )
    assert build_perceptual_distance(load_generator(tmp_path / "no_d")) is None
    with pytest.raises(LossError, match="does not exist"):
        build_perceptual_distance(load_generator(tmp_path / "no_d"), lpips_weights=tmp_path / "vgg.pth")


def random_vgg_file(path: Path) -> Path:
    generator = torch.Generator().manual_seed(0)
    state = {}
    in_channels = 3
    for stage, channels in zip(VGG16_STAGES, VGG16_CHANNELS, strict=True):
        for index in stage:
            state[f"features.{index}.weight"] = (
                torch.randn(channels, in_channels, 3, 3, generator=generator) * 0.05
            )
            state[f"features.{index}.bias"] = torch.zeros(channels)
            in_channels = channels
    state["classifier.0.weight"] = torch.zeros(2, 2)
    save_file(state, str(path))
    return path


def test_lpips_vgg_from_local_file(tmp_path: Path) -> None:
    vgg_file = random_vgg_file(tmp_path / "vgg16.safetensors")
    heads = {f"lin{k}.model.1.weight": torch.rand(1, c, 1, 1) for k, c in enumerate(VGG16_CHANNELS)}
    torch.save(heads, tmp_path / "lin.pth")
    for distance in [LPIPSVGG(vgg_file), LPIPSVGG(vgg_file, tmp_path / "lin.pth", resize_to=32)]:
        a, b = images(1), images(2)
        assert distance(a, a).abs().max().item() < 1e-6
        assert (distance(a, b) > 0).all()
        mask = torch.zeros(2, 16, 16)
        mask[:, :, :8] = 1
        changed_outside = a.clone()
        changed_outside[..., 8:] = b[..., 8:]
        assert distance(a, changed_outside, mask).abs().max().item() < 1e-6


def test_lpips_vgg_refuses_wrong_files(tmp_path: Path) -> None:
    with pytest.raises(LossError, match="never downloaded"):
        LPIPSVGG(tmp_path / "missing.pth")
    save_file({"features.0.weight": torch.zeros(1)}, str(tmp_path / "bad.safetensors"))
    with pytest.raises(LossError, match="not a torchvision VGG16"):
        LPIPSVGG(tmp_path / "bad.safetensors")
    (tmp_path / "garbage.pth").write_bytes(b"not a state dict")
    with pytest.raises(LossError, match="cannot read"):
        LPIPSVGG(tmp_path / "garbage.pth")
    vgg_file = random_vgg_file(tmp_path / "vgg16.safetensors")
    with pytest.raises(LossError, match="lin0"):
        LPIPSVGG(vgg_file, vgg_file)


def test_lpips_weights_give_lpips_with_its_heads(tmp_path: Path) -> None:
    torch.manual_seed(0)
    generator = Generator(
        GeneratorConfig(resolution=16, z_dim=16, w_dim=16, mapping_layers=1, channel_base=64, channel_max=16)
    )
    save_model(tmp_path / "model", generator)
    model = load_generator(tmp_path / "model")
    vgg_file = random_vgg_file(tmp_path / "vgg16.safetensors")
    heads = {f"lin{k}.model.1.weight": torch.rand(1, c, 1, 1) * 3 for k, c in enumerate(VGG16_CHANNELS)}
    torch.save(heads, tmp_path / "lin.pth")
    merged = {**load_file(str(vgg_file)), **heads}
    save_file(merged, str(tmp_path / "merged.safetensors"))

    plain = build_perceptual_distance(model, vgg_file)
    separate = build_perceptual_distance(model, vgg_file, tmp_path / "lin.pth")
    one_file = build_perceptual_distance(model, tmp_path / "merged.safetensors")
    resized = build_perceptual_distance(model, tmp_path / "merged.safetensors", lpips_resize=32)

    assert isinstance(plain, LPIPSVGG) and not plain.calibrated
    for distance in (separate, one_file, resized):
        assert isinstance(distance, LPIPSVGG) and distance.calibrated
    assert isinstance(resized, LPIPSVGG) and resized.resize_to == 32
    a, b = images(1), images(2)
    unit, weighted = plain(a, b), separate(a, b)
    torch.testing.assert_close(one_file(a, b), weighted)
    assert (weighted - unit).abs().min() > 1e-3 * unit.abs().max()
    assert (resized(a, b) - weighted).abs().max() > 1e-6


@pytest.mark.parametrize("command", [
    ["edit", "--branch", "b", "--seed", "1", "--edited-mask", "m.png", "--out", "o"],
    ["apply", "--seed", "1", "--vector", "v:1", "-o", "o.png"],
    ["embed", "--image", "i.png", "-o", "w.safetensors"],
    ["train-encoder"],
])
def test_every_perceptual_command_takes_the_lpips_heads(tmp_path: Path, command: list[str]) -> None:
    torch.manual_seed(0)
    generator = Generator(
        GeneratorConfig(resolution=16, z_dim=16, w_dim=16, mapping_layers=1, channel_base=64, channel_max=16)
    )
    save_model(tmp_path / "model", generator)
    vgg_file = random_vgg_file(tmp_path / "vgg16.safetensors")
    torch.save({f"lin{k}.model.1.weight": torch.rand(1, c, 1, 1) for k, c in enumerate(VGG16_CHANNELS)},
               tmp_path / "lin.pth")
    args = build_parser().parse_args([*command, "--lpips-weights", str(vgg_file), "--lpips-lin-weights",
                                      str(tmp_path / "lin.pth"), "--lpips-resize", "32"])
    distance = perceptual_from_args(load_generator(tmp_path / "model"), args)
    assert isinstance(distance, LPIPSVGG) and distance.calibrated and distance.resize_to == 32
