"""DiffAugment-style differentiable augmentation (Zhao et al. 2020), applied to real and fake alike.

Every op is differentiable with respect to the images, so the generator is trained through it,
and because the discriminator only ever sees augmented images of both kinds the augmentations
do not leak into generated samples.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F

from editing_engine.errors import EngineError

AugmentOp = Callable[[torch.Tensor], torch.Tensor]


class UnknownAugmentError(EngineError):
    """An augmentation policy names an op that does not exist."""


def brightness(x: torch.Tensor) -> torch.Tensor:
    """Add a random per-image offset in [-0.5, 0.5]."""
    return x + (torch.rand(x.shape[0], 1, 1, 1, dtype=x.dtype, device=x.device) - 0.5)


def saturation(x: torch.Tensor) -> torch.Tensor:
    """Scale the deviation from the per-pixel channel mean by a random factor in [0, 2]."""
    mean = x.mean(dim=1, keepdim=True)
    return (x - mean) * (torch.rand(x.shape[0], 1, 1, 1, dtype=x.dtype, device=x.device) * 2) + mean


def contrast(x: torch.Tensor) -> torch.Tensor:
    """Scale the deviation from the per-image mean by a random factor in [0.5, 1.5]."""
    mean = x.mean(dim=[1, 2, 3], keepdim=True)
    return (x - mean) * (torch.rand(x.shape[0], 1, 1, 1, dtype=x.dtype, device=x.device) + 0.5) + mean


def translation(x: torch.Tensor, ratio: float = 0.125) -> torch.Tensor:
    """Shift each image by up to ``ratio`` of its size, filling with zeros."""
    batch, _, height, width = x.shape
    shift_y, shift_x = int(height * ratio + 0.5), int(width * ratio + 0.5)
    ty = torch.randint(-shift_y, shift_y + 1, (batch, 1, 1), device=x.device)
    tx = torch.randint(-shift_x, shift_x + 1, (batch, 1, 1), device=x.device)
    grid_b, grid_y, grid_x = torch.meshgrid(
        torch.arange(batch, device=x.device), torch.arange(height, device=x.device),
        torch.arange(width, device=x.device), indexing="ij",
    )
    grid_y = torch.clamp(grid_y + ty + 1, 0, height + 1)
    grid_x = torch.clamp(grid_x + tx + 1, 0, width + 1)
    padded = F.pad(x, [1, 1, 1, 1])
    return padded.permute(0, 2, 3, 1)[grid_b, grid_y, grid_x].permute(0, 3, 1, 2)


def cutout(x: torch.Tensor, ratio: float = 0.5) -> torch.Tensor:
    """Zero a random square of ``ratio`` times the image size in each image."""
    batch, _, height, width = x.shape
    size_y, size_x = int(height * ratio + 0.5), int(width * ratio + 0.5)
    off_y = torch.randint(0, height + (1 - size_y % 2), (batch, 1, 1), device=x.device)
    off_x = torch.randint(0, width + (1 - size_x % 2), (batch, 1, 1), device=x.device)
    grid_b, grid_y, grid_x = torch.meshgrid(
        torch.arange(batch, device=x.device), torch.arange(size_y, device=x.device),
        torch.arange(size_x, device=x.device), indexing="ij",
    )
    grid_y = torch.clamp(grid_y + off_y - size_y // 2, 0, height - 1)
    grid_x = torch.clamp(grid_x + off_x - size_x // 2, 0, width - 1)
    mask = torch.ones(batch, height, width, dtype=x.dtype, device=x.device)
    mask[grid_b, grid_y, grid_x] = 0
    return x * mask.unsqueeze(1)


POLICY_OPS: dict[str, list[AugmentOp]] = {
    "color": [brightness, saturation, contrast],
    "translation": [translation],
    "cutout": [cutout],
}


def parse_policy(policy: str) -> list[str]:
    """Split a comma-separated policy (``""`` or ``"none"`` = no augmentation), checking each name."""
    names = [name.strip() for name in policy.split(",") if name.strip() and name.strip() != "none"]
    unknown = [name for name in names if name not in POLICY_OPS]
    if unknown:
        raise UnknownAugmentError(f"unknown augmentation {unknown}; choose from {sorted(POLICY_OPS)}")
    return names


def diff_augment(x: torch.Tensor, policy: str) -> torch.Tensor:
    """Apply every op of ``policy`` (e.g. ``"color,translation,cutout"``) to images ``x``."""
    for name in parse_policy(policy):
        for op in POLICY_OPS[name]:
            x = op(x)
    return x.contiguous()
