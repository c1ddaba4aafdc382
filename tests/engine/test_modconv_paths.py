"""The fused (grouped) and non-fused modulated convolutions compute the same thing."""

import pytest
import torch
import torch.nn.functional as F

from editing_engine import generator as generator_module
from editing_engine.generator import Generator, modulated_conv2d, prefer_fused, upsample2x

from .tiny import tiny_config

ATOL = 1e-5
RTOL = 1e-4


def reference_modconv(x: torch.Tensor, weight: torch.Tensor, styles: torch.Tensor, demodulate: bool,
                      padding: int) -> torch.Tensor:
    """One ordinary conv per sample with explicitly modulated (and demodulated) weights."""
    outputs = []
    for sample in range(x.shape[0]):
        w = weight * styles[sample].reshape(1, -1, 1, 1)
        if demodulate:
            w = w * (w.square().sum(dim=[1, 2, 3], keepdim=True) + 1e-8).rsqrt()
        outputs.append(F.conv2d(x[sample:sample + 1], w, padding=padding))
    return torch.cat(outputs)


def distinct_ws(generator: Generator, batch: int) -> torch.Tensor:
    """W+ codes whose rows differ per sample and per layer."""
    ws = generator.mapping(torch.randn(batch, generator.config.z_dim))
    return ws + 0.3 * torch.randn_like(ws)


@pytest.fixture
def generator() -> Generator:
    torch.manual_seed(0)
    model = Generator(tiny_config(32)).eval()
    with torch.no_grad():
        for name, param in model.synthesis.named_parameters():
            if name.endswith("noise_strength"):
                param.fill_(0.3)
            elif name.endswith("bias"):
                param.normal_(std=0.1)
    return model


@pytest.mark.parametrize(("kernel", "demodulate", "up"),
                         [(3, True, False), (3, True, True), (1, False, False)])
@pytest.mark.parametrize("fused", [True, False])
def test_both_paths_match_per_sample_reference(kernel: int, demodulate: bool, up: bool, fused: bool) -> None:
    torch.manual_seed(1)
    x = torch.randn(3, 8, 6, 6)
    if up:
        x = upsample2x(x, generator_module.lowpass_filter(), keep_border=True)
    weight = torch.randn(5, 8, kernel, kernel)
    styles = torch.randn(3, 8) + 1.0
    padding = 1 if kernel == 3 and not up else 0
    expected = reference_modconv(x, weight, styles, demodulate, padding)
    result = modulated_conv2d(x, weight, styles, demodulate, padding, fused=fused)
    assert result.shape == expected.shape
    assert torch.allclose(result, expected, atol=ATOL, rtol=RTOL)


def render(generator: Generator, ws: torch.Tensor,
           fused: bool | None) -> tuple[torch.Tensor, list[torch.Tensor]]:
    """Image and feature taps with the modulated-conv path forced (or automatic for ``None``)."""
    generator.synthesis.fused_modconv = fused
    return generator.synthesis(ws, noise_mode="const", return_features=True)


def test_generator_outputs_agree(generator: Generator) -> None:
    ws = distinct_ws(generator, 4)
    with torch.no_grad():
        fused_img, fused_features = render(generator, ws, True)
        plain_img, plain_features = render(generator, ws, False)
        auto_img, _ = render(generator, ws, None)
    assert torch.allclose(fused_img, plain_img, atol=ATOL, rtol=RTOL)
    assert torch.allclose(auto_img, fused_img, atol=ATOL, rtol=RTOL)
    for fused_map, plain_map in zip(fused_features, plain_features, strict=True):
        assert torch.allclose(fused_map, plain_map, atol=ATOL, rtol=RTOL)


def test_generator_gradients_wrt_ws_agree(generator: Generator) -> None:
    ws = distinct_ws(generator, 3).detach()
    target = torch.randn(3, 3, 32, 32)
    grads = []
    for fused in (True, False):
        leaf = ws.clone().requires_grad_(True)
        img, features = render(generator, leaf, fused)
        loss = (img * target).sum() + sum(feature.square().mean() for feature in features)
        (grad,) = torch.autograd.grad(loss, leaf)
        grads.append(grad)
    assert grads[0].abs().amax() > 0
    assert torch.allclose(grads[0], grads[1], atol=1e-4, rtol=1e-3)


def test_batch_of_one_equals_batched_rows(generator: Generator) -> None:
    ws = distinct_ws(generator, 3)
    with torch.no_grad():
        batched, _ = render(generator, ws, None)
        singles = [render(generator, ws[i:i + 1], None)[0] for i in range(3)]
    assert torch.allclose(batched, torch.cat(singles), atol=ATOL, rtol=RTOL)


def test_attribute_decides_whether_the_rule_is_consulted(generator: Generator,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[int, int, int, int]] = []

    def recording_rule(batch: int, in_channels: int, kernel_size: int, pixels: int) -> bool:
        calls.append((batch, in_channels, kernel_size, pixels))
        return True

    monkeypatch.setattr(generator_module, "prefer_fused", recording_rule)
    ws = distinct_ws(generator, 2)
    with torch.no_grad():
        render(generator, ws, False)
        assert calls == []
        render(generator, ws, None)
    convs = generator.num_ws - 1
    to_rgb = len(generator.config.block_resolutions)
    assert len(calls) == convs + to_rgb


def test_rule() -> None:
    assert prefer_fused(1, 512, 3, 4 * 4)
    assert prefer_fused(8, 512, 1, 8 * 8)
    assert not prefer_fused(4, 512, 3, 8 * 8)
    assert not prefer_fused(16, 64, 3, 16 * 16)
    assert prefer_fused(16, 16, 3, 64 * 64)
    assert prefer_fused(4, 128, 3, 256 * 256)


def test_attribute_is_not_part_of_the_checkpoint(generator: Generator) -> None:
    keys = set(generator.state_dict())
    generator.synthesis.fused_modconv = False
    assert set(generator.state_dict()) == keys
    rebuilt = Generator(generator.config)
    rebuilt.load_state_dict(generator.state_dict())
    assert rebuilt.synthesis.fused_modconv is None


def test_in_place_epilogue_gives_the_same_image_with_and_without_autograd(generator: Generator) -> None:
    ws = distinct_ws(generator, 3).detach()
    with torch.no_grad():
        without, _ = render(generator, ws, None)
    with_grad, _ = render(generator, ws.clone().requires_grad_(True), None)
    assert torch.equal(without, with_grad.detach())
