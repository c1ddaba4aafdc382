"""Image distances used by embedding and editing: pixel MSE and pluggable perceptual distances.

Conventions shared by every distance here: images are ``[B, 3, H, W]`` in the generator's
range [-1, 1]; ``mask`` (optional) is ``[B, H, W]`` or ``[B, 1, H, W]`` with 1 where the
images are compared and 0 where they are not; the result is one distance per image, ``[B]``.

Unlike the release, masked distances average over the masked pixels only (the release
multiplies by the mask and then averages over the whole image, so the weight of the
preserved region depends on the edit's size). Perceptual distances zero the unmasked
pixels of both images before the network (as the release does) *and* average the per-layer
distance only over positions the mask covers (the mask is area-downsampled to each layer).

Two perceptual distances exist:

* ``DiscriminatorFeatureDistance`` — LPIPS-style distance on the model's own discriminator
  activations (channel-normalised, squared difference, spatial mean, summed over layers).
  Always available when the model file holds a discriminator.
* ``LPIPSVGG`` — LPIPS with a VGG16 backbone, from weight files the user provides locally
  (torchvision VGG16 ``features.*`` tensors, optionally the LPIPS v0.1 ``lin*`` heads). Nothing
  is ever downloaded.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

import torch
import torch.nn.functional as F
from safetensors.torch import load_file
from torch import nn

from editing_engine.errors import EngineError

from .checkpoints import CheckpointError, LoadedModel, fill_module
from .discriminator import Discriminator, DiscriminatorConfig

EPS = 1e-10


class LossError(EngineError):
    """A distance cannot be built (missing or malformed weights) or got inputs of the wrong shape."""


class PerceptualDistance(Protocol):
    """A differentiable image distance: ``distance(a, b, mask=None) -> [B]``."""

    def __call__(self, a: torch.Tensor, b: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        """Distance per image between ``a`` and ``b`` (``[B, 3, H, W]`` in [-1, 1]) over ``mask``."""
        ...


def _check_pair(a: torch.Tensor, b: torch.Tensor) -> None:
    if a.ndim != 4 or a.shape != b.shape:
        raise LossError(
            f"images must be two equal [B, C, H, W] tensors, got {list(a.shape)} and {list(b.shape)}"
        )


def normalise_mask(mask: torch.Tensor, images: torch.Tensor) -> torch.Tensor:
    """``mask`` as a float ``[B, 1, H, W]`` tensor matching ``images``; clear error on a shape mismatch."""
    if mask.ndim == 3:
        mask = mask.unsqueeze(1)
    batch, _, height, width = images.shape
    if (
        mask.ndim != 4
        or mask.shape[1] != 1
        or mask.shape[2:] != (height, width)
        or mask.shape[0] not in (1, batch)
    ):
        raise LossError(
            f"mask must be [B, H, W] or [B, 1, H, W] for images {list(images.shape)}, got {list(mask.shape)}"
        )
    return mask.to(images.dtype).expand(batch, 1, height, width)


def masked_mean(values: torch.Tensor, weights: torch.Tensor | None) -> torch.Tensor:
    """Per-image mean of ``values [B, C, H, W]`` over channels and the pixels weighted by ``weights``."""
    if weights is None:
        return values.mean(dim=(1, 2, 3))
    total = (values * weights).sum(dim=(1, 2, 3))
    return total / (weights.sum(dim=(1, 2, 3)) * values.shape[1]).clamp(min=EPS)


def pixel_mse(a: torch.Tensor, b: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
    """Mean squared error per image, averaged over the masked pixels only (all pixels without a mask)."""
    _check_pair(a, b)
    weights = None if mask is None else normalise_mask(mask, a)
    return masked_mean((a - b).square(), weights)


def psnr(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Peak signal-to-noise ratio per image in dB for images in [-1, 1] (peak-to-peak 2)."""
    _check_pair(a, b)
    mse = (a.clamp(-1, 1) - b.clamp(-1, 1)).square().mean(dim=(1, 2, 3))
    return 10.0 * torch.log10(4.0 / mse.clamp(min=EPS))


def unit_channels(x: torch.Tensor) -> torch.Tensor:
    """Scale each position's channel vector to unit length (LPIPS feature normalisation)."""
    # EPS inside the sqrt: an all-zero channel vector (a masked-out position) must not give NaN gradients.
    return x / (x.square().sum(dim=1, keepdim=True) + EPS).sqrt()


def layer_distance(
    fa: torch.Tensor, fb: torch.Tensor, mask: torch.Tensor | None, channel_weights: torch.Tensor | None = None
) -> torch.Tensor:
    """LPIPS-style distance of one layer's activations: normalised, squared, weighted, averaged -> ``[B]``."""
    diff = (unit_channels(fa) - unit_channels(fb)).square()
    diff = (
        diff.sum(dim=1, keepdim=True)
        if channel_weights is None
        else (diff * channel_weights).sum(dim=1, keepdim=True)
    )
    weights = None if mask is None else F.adaptive_avg_pool2d(mask, (diff.shape[-2], diff.shape[-1]))
    return masked_mean(diff, weights)


class DiscriminatorFeatureDistance(nn.Module):
    """Perceptual distance on the model's own discriminator activations (block outputs R/2 ... 4).

    The epilogue's 4x4 conv is left out: it follows the minibatch-std layer, so its value
    depends on which other images share the batch.
    """

    def __init__(self, discriminator: Discriminator) -> None:
        super().__init__()
        self.discriminator = discriminator.eval().requires_grad_(False)

    @classmethod
    def from_loaded_model(cls, model: LoadedModel) -> DiscriminatorFeatureDistance:
        """Build from a loaded model's discriminator state; ``LossError`` when it holds none."""
        if not model.discriminator_state:
            raise LossError("this model file holds no discriminator; give LPIPS-VGG weights instead")
        try:
            config = DiscriminatorConfig.from_dict(dict(model.discriminator_config))
            discriminator = Discriminator(config)
            fill_module(discriminator, model.discriminator_state, "discriminator")
        except (CheckpointError, ValueError, TypeError) as error:
            raise LossError(f"cannot rebuild the model's discriminator: {error}") from error
        return cls(discriminator)

    def forward(self, a: torch.Tensor, b: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        """Distance per image, ``[B]``."""
        _check_pair(a, b)
        weights = None if mask is None else normalise_mask(mask, a)
        if weights is not None:
            a, b = a * weights, b * weights
        fa = self.discriminator.features(a)[:-1]
        fb = self.discriminator.features(b)[:-1]
        return torch.stack([layer_distance(x, y, weights) for x, y in zip(fa, fb, strict=True)]).sum(dim=0)


# VGG16 "features" layout: conv indices in torchvision's nn.Sequential, grouped by the pooling stages.
VGG16_STAGES: tuple[tuple[int, ...], ...] = ((0, 2), (5, 7), (10, 12, 14), (17, 19, 21), (24, 26, 28))
VGG16_CHANNELS: tuple[int, ...] = (64, 128, 256, 512, 512)
LPIPS_SHIFT = (-0.030, -0.088, -0.188)
LPIPS_SCALE = (0.458, 0.448, 0.450)


class VGG16Features(nn.Module):
    """The conv part of VGG16 (torchvision ``features`` layout); returns relu1_2 ... relu5_3."""

    def __init__(self) -> None:
        super().__init__()
        self.convs = nn.ModuleDict()
        in_channels = 3
        for stage, channels in zip(VGG16_STAGES, VGG16_CHANNELS, strict=True):
            for index in stage:
                self.convs[str(index)] = nn.Conv2d(in_channels, channels, 3, padding=1)
                in_channels = channels

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        """The ReLU output at the end of each of the five stages."""
        outputs = []
        for number, stage in enumerate(VGG16_STAGES):
            if number > 0:
                x = F.max_pool2d(x, 2)
            for index in stage:
                x = F.relu(self.convs[str(index)](x))
            outputs.append(x)
        return outputs


def read_weight_file(path: str | Path) -> dict[str, torch.Tensor]:
    """Tensors from a local ``.safetensors`` file or a plain ``.pth`` state dict (never unpickles objects)."""
    path = Path(path)
    if not path.is_file():
        raise LossError(
            f"weights file {path} does not exist (LPIPS-VGG weights are never downloaded; "
            "give a local torchvision VGG16 state dict)"
        )
    try:
        if path.suffix == ".safetensors":
            return load_file(str(path))
        state = torch.load(str(path), map_location="cpu", weights_only=True)
    except Exception as error:  # any parse failure means the user's file is wrong
        raise LossError(f"cannot read weights file {path}: {error}") from error
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise LossError(f"{path} is not a state dict of tensors")
    return state


class LPIPSVGG(nn.Module):
    """LPIPS distance with a VGG16 backbone loaded from local files.

    ``vgg_weights`` holds torchvision VGG16 tensors (``features.N.weight/bias``; other keys are
    ignored). ``lin_weights`` (may be the same file) holds the LPIPS v0.1 heads
    ``lin{k}.model.1.weight``; without them every channel weighs 1 (the uncalibrated baseline).
    ``resize_to`` upsamples small images bilinearly before VGG (None keeps the input size).
    """

    shift: torch.Tensor
    scale: torch.Tensor

    def __init__(
        self, vgg_weights: str | Path, lin_weights: str | Path | None = None, resize_to: int | None = None
    ) -> None:
        super().__init__()
        self.vgg = VGG16Features()
        state = read_weight_file(vgg_weights)
        vgg_state = {
            f"convs.{k[len('features.') :]}": v for k, v in state.items() if k.startswith("features.")
        }
        try:
            fill_module(self.vgg, vgg_state, "VGG16")
        except CheckpointError as error:
            raise LossError(f"{vgg_weights} is not a torchvision VGG16 state dict: {error}") from error
        self.lin = nn.ParameterList()
        if lin_weights is not None:
            lin_state = read_weight_file(lin_weights)
            for k, channels in enumerate(VGG16_CHANNELS):
                tensor = lin_state.get(f"lin{k}.model.1.weight")
                if tensor is None or tensor.numel() != channels:
                    raise LossError(
                        f"{lin_weights} lacks LPIPS head lin{k}.model.1.weight with {channels} values"
                    )
                self.lin.append(nn.Parameter(tensor.reshape(1, channels, 1, 1).float()))
        self.register_buffer("shift", torch.tensor(LPIPS_SHIFT).reshape(1, 3, 1, 1))
        self.register_buffer("scale", torch.tensor(LPIPS_SCALE).reshape(1, 3, 1, 1))
        self.resize_to = resize_to
        self.eval().requires_grad_(False)

    @property
    def calibrated(self) -> bool:
        """True when the LPIPS heads are loaded (a real LPIPS distance, not unit channel weights)."""
        return len(self.lin) == len(VGG16_CHANNELS)

    def forward(self, a: torch.Tensor, b: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        """Distance per image, ``[B]``."""
        _check_pair(a, b)
        weights = None if mask is None else normalise_mask(mask, a)
        if weights is not None:
            a, b = a * weights, b * weights
        if self.resize_to is not None and a.shape[-1] != self.resize_to:
            size = (self.resize_to, self.resize_to)
            a = F.interpolate(a, size=size, mode="bilinear", align_corners=False)
            b = F.interpolate(b, size=size, mode="bilinear", align_corners=False)
            if weights is not None:
                weights = F.interpolate(weights, size=size, mode="bilinear", align_corners=False)
        fa = self.vgg((a - self.shift) / self.scale)
        fb = self.vgg((b - self.shift) / self.scale)
        heads: Sequence[torch.Tensor | None] = list(self.lin) if len(self.lin) else [None] * len(fa)
        return torch.stack(
            [layer_distance(x, y, weights, head) for x, y, head in zip(fa, fb, heads, strict=True)]
        ).sum(dim=0)


def has_lpips_heads(path: str | Path) -> bool:
    """Whether a weights file holds the LPIPS v0.1 linear heads (``lin0.model.1.weight`` ...)."""
    return all(f"lin{k}.model.1.weight" in read_weight_file(path) for k in range(len(VGG16_CHANNELS)))


def build_perceptual_distance(
    model: LoadedModel,
    lpips_weights: str | Path | None = None,
    lpips_lin_weights: str | Path | None = None,
    lpips_resize: int | None = None,
) -> PerceptualDistance | None:
    """The perceptual distance to use for ``model``: LPIPS-VGG when weights are given, else its discriminator.

    ``lpips_weights`` is a torchvision VGG16 state dict; the LPIPS heads come from
    ``lpips_lin_weights``, or from ``lpips_weights`` itself when it holds them (one merged
    file), else every channel weighs 1 (uncalibrated, and the caller is told so by
    ``LPIPSVGG.calibrated``). ``lpips_resize`` upsamples smaller images before VGG (LPIPS was
    calibrated on 64 x 64 patches, so the default keeps the input size). Returns None when
    neither is available (a generator-only model without LPIPS weights); callers then fall back
    to pixel MSE alone.
    """
    if lpips_weights is not None:
        if lpips_lin_weights is None and has_lpips_heads(lpips_weights):
            lpips_lin_weights = lpips_weights
        return LPIPSVGG(lpips_weights, lpips_lin_weights, resize_to=lpips_resize)
    if model.discriminator_state:
        return DiscriminatorFeatureDistance.from_loaded_model(model)
    return None
