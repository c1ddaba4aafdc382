"""Unit tests of the StyleGAN2 generator: shapes, W/W+ equivalence, truncation, gradients."""

import pytest
import torch

from editing_engine.generator import Generator, GeneratorConfig, seed_to_z

from .tiny import tiny_config


@pytest.fixture
def generator() -> Generator:
    torch.manual_seed(0)
    return Generator(tiny_config()).eval()


@pytest.mark.parametrize("resolution", [4, 8, 16, 32, 64])
def test_shapes_per_resolution(resolution: int) -> None:
    config = tiny_config(resolution)
    generator = Generator(config)
    ws = generator.mapping(torch.randn(2, config.z_dim))
    assert ws.shape == (2, config.num_ws, config.w_dim)
    assert config.num_ws == max(2 * resolution.bit_length() - 4, 2)
    img, features = generator.synthesis(ws, return_features=True)
    assert img.shape == (2, 3, resolution, resolution)
    assert [tuple(f.shape[1:]) for f in features] == config.feature_shapes()
    assert len(features) == config.num_ws - 1


def test_num_ws_formula() -> None:
    assert GeneratorConfig(resolution=512).num_ws == 16
    assert GeneratorConfig(resolution=1024).num_ws == 18
    assert GeneratorConfig(resolution=64).num_ws == 10


def test_invalid_resolution_refused() -> None:
    with pytest.raises(ValueError, match="power of two"):
        GeneratorConfig(resolution=48)


def test_w_equals_w_plus_with_equal_rows(generator: Generator) -> None:
    z = torch.randn(1, 32)
    ws = generator.mapping(z)
    single_w = ws[:, :1].clone()
    rebuilt = single_w.repeat(1, generator.num_ws, 1)
    assert torch.equal(generator.synthesis(ws), generator.synthesis(rebuilt))
    assert torch.equal(generator(z), generator.synthesis(ws))


def test_rows_of_w_plus_matter(generator: Generator) -> None:
    ws = generator.mapping(torch.randn(1, 32))
    changed = ws.clone()
    changed[:, -3] += 1.0
    assert not torch.allclose(generator.synthesis(ws), generator.synthesis(changed))


def test_truncation_zero_gives_w_avg(generator: Generator) -> None:
    generator.mapping.w_avg.normal_()
    ws = generator.mapping(torch.randn(3, 32), truncation_psi=0.0)
    assert torch.allclose(ws, generator.w_avg.expand_as(ws))


def test_w_avg_tracking_moves_toward_batch_mean(generator: Generator) -> None:
    before = generator.w_avg.clone()
    generator.mapping(torch.randn(64, 32), update_w_avg=True)
    assert not torch.equal(before, generator.w_avg)


def test_gradients_flow_to_ws(generator: Generator) -> None:
    ws = generator.mapping(torch.randn(1, 32)).detach().requires_grad_(True)
    img, features = generator.synthesis(ws, return_features=True)
    (img.square().mean() + features[-1].mean()).backward()
    assert ws.grad is not None
    assert (ws.grad.abs().sum(dim=2) > 0).all()


def test_const_noise_is_deterministic_and_random_is_not(generator: Generator) -> None:
    with torch.no_grad():
        generator.synthesis.b16.conv1.noise_strength.fill_(0.5)
        ws = generator.mapping(seed_to_z(3, 32))
        assert torch.equal(generator.synthesis(ws, noise_mode="const"),
                           generator.synthesis(ws, noise_mode="const"))
        assert not torch.equal(generator.synthesis(ws, noise_mode="random"),
                               generator.synthesis(ws, noise_mode="random"))


def test_seed_to_z_is_stable() -> None:
    assert torch.equal(seed_to_z(7, 16), seed_to_z(7, 16))
    assert not torch.equal(seed_to_z(7, 16), seed_to_z(8, 16))


def test_wrong_ws_shape_is_refused(generator: Generator) -> None:
    with pytest.raises(ValueError, match="ws must be"):
        generator.synthesis(torch.zeros(1, 3, 32))
