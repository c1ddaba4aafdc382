"""StyleGAN2 generator in plain PyTorch (no custom CUDA ops).

Parameter names and storage conventions follow NVIDIA's stylegan2-ada-pytorch so that
checkpoints map by name (upsampling conv weights are stored flipped there; the importer
flips them, see docs/checkpoints.md): equalized learning rate is applied at run time (weights are
stored as N(0, 1) / lr_multiplier), modulated convolutions demodulate their weights, the
4x4 input is a learned constant and RGB is accumulated through a toRGB skip path.

W+ layout for a resolution R (num_ws = 2*log2(R) - 2): block 4 uses ws[0] for its conv and
ws[1] for toRGB; every later block b (index i >= 1) uses ws[2i-1] (upsampling conv),
ws[2i] (second conv) and ws[2i+1] (toRGB).

Feature taps (``synthesis(..., return_features=True)``): one activation map per synthesis
conv layer, after noise, bias and activation, in order of depth: ``num_ws - 1`` maps,
``[B, channels(res), res, res]`` for the 4x4 conv then two maps per resolution from 8 up.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Literal, overload

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from editing_engine.shapes import assert_shape

NoiseMode = Literal["const", "random", "none"]

LRELU_SLOPE = 0.2
LRELU_GAIN = math.sqrt(2.0)


@dataclass(frozen=True)
class GeneratorConfig:
    """Everything needed to rebuild a generator; stored as JSON beside the weights."""

    resolution: int = 64
    z_dim: int = 256
    w_dim: int = 256
    mapping_layers: int = 4
    mapping_lr_multiplier: float = 0.01
    channel_base: int = 1024
    channel_max: int = 128
    img_channels: int = 3
    w_avg_beta: float = 0.995

    def __post_init__(self) -> None:
        log2 = math.log2(self.resolution)
        if self.resolution < 4 or log2 != int(log2):
            raise ValueError(f"resolution must be a power of two >= 4, got {self.resolution}")
        if self.resolution > 1024:
            raise ValueError(f"resolution above 1024 is not supported, got {self.resolution}")

    @property
    def num_ws(self) -> int:
        """Number of style vectors in W+ (2*log2(resolution) - 2)."""
        return 2 * int(math.log2(self.resolution)) - 2

    @property
    def block_resolutions(self) -> list[int]:
        """Resolutions of the synthesis blocks, 4 up to ``resolution``."""
        return [2**i for i in range(2, int(math.log2(self.resolution)) + 1)]

    def channels(self, res: int) -> int:
        """Feature channels of the synthesis block at resolution ``res``."""
        return min(self.channel_base // res, self.channel_max)

    def feature_shapes(self) -> list[tuple[int, int, int]]:
        """(channels, height, width) of each feature tap, in the order synthesis returns them."""
        shapes = [(self.channels(4), 4, 4)]
        for res in self.block_resolutions[1:]:
            shapes += [(self.channels(res), res, res)] * 2
        return shapes

    def to_dict(self) -> dict[str, float | int]:
        """Plain-dict form for JSON."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, object]) -> GeneratorConfig:
        """Build from a JSON dict, refusing unknown keys with a clear error."""
        known = set(cls.__dataclass_fields__)
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"unknown generator config keys: {sorted(unknown)}")
        return cls(**data)  # type: ignore[arg-type]


def normalize_2nd_moment(x: torch.Tensor, dim: int = 1, eps: float = 1e-8) -> torch.Tensor:
    """Scale ``x`` so its mean square along ``dim`` is one (pixel norm)."""
    return x * (x.square().mean(dim=dim, keepdim=True) + eps).rsqrt()


def lowpass_filter(device: torch.device | None = None) -> torch.Tensor:
    """The separable [1,3,3,1] low-pass filter as a normalized 4x4 kernel."""
    taps = torch.tensor([1.0, 3.0, 3.0, 1.0], device=device)
    kernel = taps[:, None] * taps[None, :]
    return kernel / kernel.sum()


def upsample2x(x: torch.Tensor, kernel: torch.Tensor, keep_border: bool = False) -> torch.Tensor:
    """Upsample by 2 with zero insertion followed by the low-pass ``kernel`` (gain 4).

    The result is ``2H x 2W``; with ``keep_border`` it is the full ``(2H+2) x (2W+2)`` filter
    response, which an unpadded 3x3 conv then brings back to ``2H`` exactly as StyleGAN2 does.
    """
    channels = x.shape[1]
    weight = (kernel * 4).to(x.dtype)[None, None].expand(channels, 1, *kernel.shape)
    return F.conv_transpose2d(x, weight, stride=2, padding=0 if keep_border else 1, groups=channels)


class FullyConnected(nn.Module):
    """Linear layer with equalized learning rate and optional leaky-ReLU."""

    def __init__(
        self,
        in_features: int,
        out_features: int,
        activation: bool = False,
        lr_multiplier: float = 1.0,
        bias_init: float = 0.0,
    ) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_features, in_features) / lr_multiplier)
        self.bias = nn.Parameter(torch.full([out_features], float(bias_init)))
        self.weight_gain = lr_multiplier / math.sqrt(in_features)
        self.bias_gain = lr_multiplier
        self.activation = activation

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Apply the scaled affine map (and activation)."""
        x = torch.addmm(self.bias * self.bias_gain, x, (self.weight * self.weight_gain).t())
        if self.activation:
            x = F.leaky_relu(x, LRELU_SLOPE) * LRELU_GAIN
        return x


class MappingNetwork(nn.Module):
    """z -> w through pixel norm and an MLP; tracks the running mean w for truncation."""

    w_avg: torch.Tensor

    def __init__(self, config: GeneratorConfig) -> None:
        super().__init__()
        self.config = config
        dims = [config.z_dim] + [config.w_dim] * config.mapping_layers
        for index in range(config.mapping_layers):
            layer = FullyConnected(
                dims[index], dims[index + 1], activation=True,
                lr_multiplier=config.mapping_lr_multiplier,
            )
            setattr(self, f"fc{index}", layer)
        self.register_buffer("w_avg", torch.zeros(config.w_dim))

    def forward(
        self, z: torch.Tensor, truncation_psi: float = 1.0, update_w_avg: bool = False
    ) -> torch.Tensor:
        """Map ``z [B, z_dim]`` to W+ ``[B, num_ws, w_dim]`` (all rows equal)."""
        assert_shape(z, ("B", self.config.z_dim), "z", ValueError)
        x = normalize_2nd_moment(z)
        for index in range(self.config.mapping_layers):
            x = getattr(self, f"fc{index}")(x)
        if update_w_avg:
            with torch.no_grad():
                batch_mean = x.detach().mean(dim=0).to(self.w_avg.dtype)
                self.w_avg.copy_(batch_mean.lerp(self.w_avg, self.config.w_avg_beta))
        if truncation_psi != 1.0:
            x = self.w_avg.lerp(x, truncation_psi)
        return x.unsqueeze(1).repeat(1, self.config.num_ws, 1)


FUSED_MIN_PIXELS_PER_CHANNEL = 64


def prefer_fused(batch: int, in_channels: int, kernel_size: int, pixels: int) -> bool:
    """Whether the fused (grouped) modulated conv is the faster path on CPU for this layer.

    One sample is an ordinary conv either way, and for 1x1 toRGB convs (3 output channels) the
    non-fused input scaling costs more than the conv; otherwise the grouped conv loses when the
    input has few pixels per channel (low resolution, many channels) and wins on large maps.
    Thresholds measured with one thread on CPU: docs/engine.md, "Timing".
    """
    if batch == 1 or kernel_size == 1:
        return True
    return pixels >= FUSED_MIN_PIXELS_PER_CHANNEL * in_channels


def demodulation_coefficients(weight: torch.Tensor, styles: torch.Tensor) -> torch.Tensor:
    """``[B, out]`` reciprocal norms of the style-modulated weights, without building them."""
    return (styles.square() @ weight.square().sum(dim=[2, 3]).t() + 1e-8).rsqrt()


def modulated_conv2d(
    x: torch.Tensor,
    weight: torch.Tensor,
    styles: torch.Tensor,
    demodulate: bool,
    padding: int,
    fused: bool | None = None,
) -> torch.Tensor:
    """Convolve each sample with its own style-modulated (and demodulated) weights.

    ``fused`` runs one grouped conv over the batch with per-sample weights; otherwise the
    activations are scaled by the styles, convolved with the shared weight and the output is
    scaled by the demodulation coefficients (stylegan2-ada's ``fused_modconv=False``). The two
    are mathematically identical; ``None`` picks the faster one with :func:`prefer_fused`.
    """
    batch, in_channels, height, width = x.shape
    if fused is None:
        fused = prefer_fused(batch, in_channels, weight.shape[2], height * width)
    if not fused:
        x = F.conv2d(x * styles.reshape(batch, in_channels, 1, 1), weight, padding=padding)
        if demodulate:
            x = x * demodulation_coefficients(weight, styles).reshape(batch, -1, 1, 1)
        return x
    out_channels = weight.shape[0]
    w = weight.unsqueeze(0) * styles.reshape(batch, 1, in_channels, 1, 1)
    if demodulate:
        w = w * (w.square().sum(dim=[2, 3, 4], keepdim=True) + 1e-8).rsqrt()
    w = w.reshape(batch * out_channels, in_channels, *weight.shape[2:])
    x = x.reshape(1, batch * in_channels, height, width)
    x = F.conv2d(x, w, padding=padding, groups=batch)
    return x.reshape(batch, out_channels, *x.shape[2:])


class SynthesisLayer(nn.Module):
    """Modulated 3x3 conv (optionally upsampling), noise, bias and leaky-ReLU."""

    noise_const: torch.Tensor
    resample_filter: torch.Tensor

    def __init__(self, in_channels: int, out_channels: int, w_dim: int, resolution: int,
                 up: bool = False) -> None:
        super().__init__()
        self.up = up
        self.resolution = resolution
        self.affine = FullyConnected(w_dim, in_channels, bias_init=1.0)
        self.weight = nn.Parameter(torch.randn(out_channels, in_channels, 3, 3))
        self.bias = nn.Parameter(torch.zeros(out_channels))
        self.noise_strength = nn.Parameter(torch.zeros([]))
        self.register_buffer("noise_const", torch.randn(resolution, resolution))
        self.register_buffer("resample_filter", lowpass_filter())

    def forward(self, x: torch.Tensor, w: torch.Tensor, noise_mode: NoiseMode,
                fused: bool | None = None) -> torch.Tensor:
        """Apply the layer to ``x`` with style vector ``w [B, w_dim]`` (``fused``: see modulated_conv2d)."""
        styles = self.affine(w)
        if self.up:
            x = upsample2x(x, self.resample_filter, keep_border=True)
        x = modulated_conv2d(x, self.weight, styles, demodulate=True, padding=0 if self.up else 1,
                             fused=fused)
        # In place where autograd allows: fewer fresh full-size tensors (docs/engine.md, "Timing").
        if noise_mode == "random":
            noise = torch.randn(x.shape[0], 1, self.resolution, self.resolution,
                                device=x.device, dtype=x.dtype)
            x.add_(noise * self.noise_strength)
        elif noise_mode == "const":
            x.add_(self.noise_const.to(x.dtype) * self.noise_strength)
        x.add_(self.bias.to(x.dtype).reshape(1, -1, 1, 1))
        activate = F.leaky_relu if x.requires_grad else F.leaky_relu_
        return activate(x, LRELU_SLOPE).mul_(LRELU_GAIN)


class ToRGBLayer(nn.Module):
    """Modulated 1x1 conv to RGB without demodulation."""

    def __init__(self, in_channels: int, out_channels: int, w_dim: int) -> None:
        super().__init__()
        self.affine = FullyConnected(w_dim, in_channels, bias_init=1.0)
        self.weight = nn.Parameter(torch.randn(out_channels, in_channels, 1, 1))
        self.bias = nn.Parameter(torch.zeros(out_channels))
        self.weight_gain = 1.0 / math.sqrt(in_channels)

    def forward(self, x: torch.Tensor, w: torch.Tensor, fused: bool | None = None) -> torch.Tensor:
        """Project ``x`` to RGB with style vector ``w`` (``fused``: see modulated_conv2d)."""
        styles = self.affine(w) * self.weight_gain
        x = modulated_conv2d(x, self.weight, styles, demodulate=False, padding=0, fused=fused)
        return x + self.bias.to(x.dtype).reshape(1, -1, 1, 1)


class SynthesisBlock(nn.Module):
    """One resolution of the synthesis network (const input at 4x4, skip RGB)."""

    resample_filter: torch.Tensor

    def __init__(self, config: GeneratorConfig, resolution: int) -> None:
        super().__init__()
        self.resolution = resolution
        out_channels = config.channels(resolution)
        self.is_first = resolution == 4
        if self.is_first:
            self.const = nn.Parameter(torch.randn(out_channels, 4, 4))
        else:
            in_channels = config.channels(resolution // 2)
            self.conv0 = SynthesisLayer(in_channels, out_channels, config.w_dim, resolution, up=True)
            self.register_buffer("resample_filter", lowpass_filter())
        self.conv1 = SynthesisLayer(out_channels, out_channels, config.w_dim, resolution)
        self.torgb = ToRGBLayer(out_channels, config.img_channels, config.w_dim)

    @property
    def num_conv(self) -> int:
        """Number of style-consuming convolutions (excluding toRGB)."""
        return 1 if self.is_first else 2

    def forward(
        self,
        x: torch.Tensor | None,
        img: torch.Tensor | None,
        ws: torch.Tensor,
        noise_mode: NoiseMode,
        features: list[torch.Tensor] | None,
        fused: bool | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Run the block on ``ws [B, num_conv + 1, w_dim]``; appends conv outputs to ``features``."""
        if self.is_first:
            x = self.const.unsqueeze(0).expand(ws.shape[0], -1, -1, -1)
            x = self.conv1(x, ws[:, 0], noise_mode, fused)
            if features is not None:
                features.append(x)
        else:
            assert x is not None
            x = self.conv0(x, ws[:, 0], noise_mode, fused)
            if features is not None:
                features.append(x)
            x = self.conv1(x, ws[:, 1], noise_mode, fused)
            if features is not None:
                features.append(x)
        rgb = self.torgb(x, ws[:, self.num_conv], fused)
        img = rgb if img is None else upsample2x(img, self.resample_filter) + rgb
        return x, img


class SynthesisNetwork(nn.Module):
    """W+ -> image, optionally returning per-layer feature maps.

    ``fused_modconv`` (a plain attribute, not stored in checkpoints) chooses the modulated-conv
    path of every layer: ``None`` (default) picks per layer with :func:`prefer_fused`, ``True``
    or ``False`` forces the fused (grouped) or non-fused path. The output is the same up to float
    rounding either way.
    """

    def __init__(self, config: GeneratorConfig) -> None:
        super().__init__()
        self.config = config
        self.fused_modconv: bool | None = None
        for res in config.block_resolutions:
            setattr(self, f"b{res}", SynthesisBlock(config, res))

    @overload
    def forward(self, ws: torch.Tensor, noise_mode: NoiseMode = ...,
                return_features: Literal[False] = ...) -> torch.Tensor: ...

    @overload
    def forward(self, ws: torch.Tensor, noise_mode: NoiseMode = ..., *,
                return_features: Literal[True]) -> tuple[torch.Tensor, list[torch.Tensor]]: ...

    def forward(
        self, ws: torch.Tensor, noise_mode: NoiseMode = "const", return_features: bool = False
    ) -> torch.Tensor | tuple[torch.Tensor, list[torch.Tensor]]:
        """Render ``ws [B, num_ws, w_dim]`` to images in [-1, 1] (roughly), ``[B, 3, R, R]``."""
        assert_shape(ws, ("B", self.config.num_ws, self.config.w_dim), "ws", ValueError)
        features: list[torch.Tensor] | None = [] if return_features else None
        x: torch.Tensor | None = None
        img: torch.Tensor | None = None
        index = 0
        for res in self.config.block_resolutions:
            block: SynthesisBlock = getattr(self, f"b{res}")
            x, img = block(x, img, ws[:, index:index + block.num_conv + 1], noise_mode, features,
                           self.fused_modconv)
            index += block.num_conv
        assert img is not None
        if features is not None:
            return img, features
        return img


class Generator(nn.Module):
    """StyleGAN2 generator: ``mapping`` (z -> W+) and ``synthesis`` (W+ -> image)."""

    def __init__(self, config: GeneratorConfig) -> None:
        super().__init__()
        self.config = config
        self.mapping = MappingNetwork(config)
        self.synthesis = SynthesisNetwork(config)

    @property
    def num_ws(self) -> int:
        """Number of style vectors in W+."""
        return self.config.num_ws

    @property
    def w_avg(self) -> torch.Tensor:
        """Running mean of w (truncation centre)."""
        return self.mapping.w_avg

    def forward(self, z: torch.Tensor, truncation_psi: float = 1.0,
                noise_mode: NoiseMode = "const") -> torch.Tensor:
        """Sample images for latent codes ``z``."""
        return self.synthesis(self.mapping(z, truncation_psi), noise_mode=noise_mode)


def seed_to_z(seed: int, z_dim: int) -> torch.Tensor:
    """The latent code ``z [1, z_dim]`` for an integer seed (stable across platforms)."""
    return torch.from_numpy(np.random.RandomState(seed).randn(1, z_dim)).float()


def to_uint8_image(img: torch.Tensor) -> np.ndarray:
    """Convert one generated image ``[3, H, W]`` in [-1, 1] to an ``HxWx3`` uint8 array."""
    pixels = (img.detach().float().clamp(-1, 1) + 1) * 127.5
    return pixels.round().to(torch.uint8).permute(1, 2, 0).cpu().numpy()
