"""StyleGAN2 residual discriminator in plain PyTorch (no custom CUDA ops).

Parameter names follow NVIDIA's stylegan2-ada-pytorch (``resnet`` architecture, no
conditioning): ``b{R}.fromrgb`` on the top block only, then per block ``conv0`` (3x3),
``conv1`` (3x3, downsampling) and ``skip`` (1x1, downsampling, no bias); the 4x4 epilogue
``b4`` holds minibatch standard deviation, ``conv``, ``fc`` and ``out``. Weights are stored
N(0, 1) and scaled at run time (equalized learning rate); downsampling blurs with the
[1,3,3,1] low-pass filter before striding.

Channels at resolution ``res`` are ``min(channel_base // res, channel_max)``; a block at ``res``
computes at ``channels(res)`` and outputs ``channels(res // 2)``.

``features(img)`` returns the activations usable as a perceptual distance: the output of
every residual block (resolutions R/2 down to 4) followed by the epilogue's 4x4 conv.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import nn

from editing_engine.shapes import assert_shape

from .generator import LRELU_GAIN, LRELU_SLOPE, FullyConnected, lowpass_filter


@dataclass(frozen=True)
class DiscriminatorConfig:
    """Everything needed to rebuild a discriminator; stored as JSON beside the weights."""

    resolution: int = 64
    img_channels: int = 3
    channel_base: int = 1024
    channel_max: int = 128
    mbstd_group_size: int = 4
    mbstd_num_channels: int = 1

    def __post_init__(self) -> None:
        log2 = math.log2(self.resolution)
        if self.resolution < 8 or log2 != int(log2):
            raise ValueError(f"resolution must be a power of two >= 8, got {self.resolution}")
        if self.mbstd_group_size < 1 or self.mbstd_num_channels < 1:
            raise ValueError("minibatch-std group size and channel count must be positive")

    @property
    def block_resolutions(self) -> list[int]:
        """Resolutions of the residual blocks, from ``resolution`` down to 8."""
        return [2**i for i in range(int(math.log2(self.resolution)), 2, -1)]

    def channels(self, res: int) -> int:
        """Feature channels at resolution ``res``."""
        return min(self.channel_base // res, self.channel_max)

    def to_dict(self) -> dict[str, int]:
        """Plain-dict form for JSON."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, object]) -> DiscriminatorConfig:
        """Build from a JSON dict, refusing unknown keys with a clear error."""
        known = set(cls.__dataclass_fields__)
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"unknown discriminator config keys: {sorted(unknown)}")
        return cls(**data)  # type: ignore[arg-type]


def downsample2x(x: torch.Tensor, kernel: torch.Tensor) -> torch.Tensor:
    """Low-pass filter with ``kernel`` and keep every second pixel (halves H and W)."""
    channels = x.shape[1]
    weight = kernel.to(x.dtype)[None, None].expand(channels, 1, *kernel.shape)
    return F.conv2d(F.pad(x, [1, 1, 1, 1]), weight, stride=2, groups=channels)


class Conv2dLayer(nn.Module):
    """Equalized-lr convolution, optionally blurred and strided by 2, with optional leaky-ReLU."""

    resample_filter: torch.Tensor

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, bias: bool = True,
                 activation: bool = True, down: bool = False) -> None:
        super().__init__()
        self.kernel_size = kernel_size
        self.activation = activation
        self.down = down
        self.weight = nn.Parameter(torch.randn(out_channels, in_channels, kernel_size, kernel_size))
        self.bias = nn.Parameter(torch.zeros(out_channels)) if bias else None
        self.weight_gain = 1.0 / math.sqrt(in_channels * kernel_size * kernel_size)
        if down:
            self.register_buffer("resample_filter", lowpass_filter())

    def forward(self, x: torch.Tensor, gain: float = 1.0) -> torch.Tensor:
        """Apply the layer; ``gain`` scales the output after the activation."""
        weight = self.weight * self.weight_gain
        bias = None if self.bias is None else self.bias.to(x.dtype)
        if self.down and self.kernel_size == 1:
            x = F.conv2d(downsample2x(x, self.resample_filter), weight, bias)
        elif self.down:
            blur = self.resample_filter.to(x.dtype)[None, None].expand(x.shape[1], 1, 4, 4)
            x = F.conv2d(F.pad(x, [2, 2, 2, 2]), blur, groups=x.shape[1])
            x = F.conv2d(x, weight, bias, stride=2)
        else:
            x = F.conv2d(x, weight, bias, padding=self.kernel_size // 2)
        if self.activation:
            x = F.leaky_relu(x, LRELU_SLOPE) * LRELU_GAIN
        return x * gain if gain != 1.0 else x


class DiscriminatorBlock(nn.Module):
    """One residual block: (fromrgb), conv0, downsampling conv1, plus a 1x1 downsampling skip."""

    def __init__(self, config: DiscriminatorConfig, resolution: int) -> None:
        super().__init__()
        self.is_first = resolution == config.resolution
        tmp_channels = config.channels(resolution)
        out_channels = config.channels(resolution // 2)
        if self.is_first:
            self.fromrgb = Conv2dLayer(config.img_channels, tmp_channels, 1)
        self.conv0 = Conv2dLayer(tmp_channels, tmp_channels, 3)
        self.conv1 = Conv2dLayer(tmp_channels, out_channels, 3, down=True)
        self.skip = Conv2dLayer(tmp_channels, out_channels, 1, bias=False, activation=False, down=True)

    def forward(self, x: torch.Tensor | None, img: torch.Tensor) -> torch.Tensor:
        """Downsample features ``x`` (or the image itself on the top block) by 2."""
        if self.is_first:
            x = self.fromrgb(img)
        assert x is not None
        y = self.skip(x, gain=math.sqrt(0.5))
        x = self.conv1(self.conv0(x), gain=math.sqrt(0.5))
        return x + y


def minibatch_std(x: torch.Tensor, group_size: int, num_channels: int) -> torch.Tensor:
    """Append the per-group feature standard deviation as extra channels (StyleGAN2 mbstd).

    The group is the largest divisor of the batch size not above ``group_size``.
    """
    batch, channels, height, width = x.shape
    group = max(g for g in range(1, min(group_size, batch) + 1) if batch % g == 0)
    y = x.reshape(group, -1, num_channels, channels // num_channels, height, width)
    y = (y - y.mean(dim=0)).square().mean(dim=0)
    y = (y + 1e-8).sqrt().mean(dim=[2, 3, 4])
    y = y.reshape(-1, num_channels, 1, 1).repeat(group, 1, height, width)
    return torch.cat([x, y], dim=1)


class DiscriminatorEpilogue(nn.Module):
    """The 4x4 head: minibatch std, 3x3 conv, fully connected layer and the scalar logit."""

    def __init__(self, config: DiscriminatorConfig) -> None:
        super().__init__()
        channels = config.channels(4)
        self.mbstd_group_size = config.mbstd_group_size
        self.mbstd_num_channels = config.mbstd_num_channels
        self.conv = Conv2dLayer(channels + config.mbstd_num_channels, channels, 3)
        self.fc = FullyConnected(channels * 16, channels, activation=True)
        self.out = FullyConnected(channels, 1)

    def conv_features(self, x: torch.Tensor) -> torch.Tensor:
        """The 4x4 conv activation after minibatch std."""
        return self.conv(minibatch_std(x, self.mbstd_group_size, self.mbstd_num_channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits ``[B, 1]`` from 4x4 features."""
        return self.out(self.fc(self.conv_features(x).flatten(1)))


class Discriminator(nn.Module):
    """StyleGAN2 residual discriminator: image ``[B, C, R, R]`` in [-1, 1] -> logit ``[B, 1]``."""

    def __init__(self, config: DiscriminatorConfig) -> None:
        super().__init__()
        self.config = config
        for res in config.block_resolutions:
            setattr(self, f"b{res}", DiscriminatorBlock(config, res))
        self.b4 = DiscriminatorEpilogue(config)

    def _check_input(self, img: torch.Tensor) -> None:
        size = self.config.resolution
        assert_shape(img, ("B", self.config.img_channels, size, size), "images", ValueError)

    def _blocks(self, img: torch.Tensor) -> list[torch.Tensor]:
        outputs: list[torch.Tensor] = []
        x: torch.Tensor | None = None
        for res in self.config.block_resolutions:
            x = getattr(self, f"b{res}")(x, img)
            assert x is not None
            outputs.append(x)
        return outputs

    def forward(self, img: torch.Tensor) -> torch.Tensor:
        """Realness logits ``[B, 1]``."""
        self._check_input(img)
        return self.b4(self._blocks(img)[-1])

    def features(self, img: torch.Tensor) -> list[torch.Tensor]:
        """Intermediate activations: each residual block's output (R/2 ... 4), then the 4x4 conv."""
        self._check_input(img)
        outputs = self._blocks(img)
        outputs.append(self.b4.conv_features(outputs[-1]))
        return outputs
