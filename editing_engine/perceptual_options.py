"""The LPIPS command-line options shared by the engine's commands and benchmarks."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .checkpoints import LoadedModel
    from .losses import PerceptualDistance


def add_lpips_arguments(parser: argparse.ArgumentParser) -> None:
    """``--lpips-weights``, ``--lpips-lin-weights`` and ``--lpips-resize``."""
    parser.add_argument("--lpips-weights", type=Path,
                        help="local torchvision VGG16 weights for LPIPS (else the discriminator's features)")
    parser.add_argument("--lpips-lin-weights", type=Path,
                        help="the LPIPS v0.1 heads (lin0..lin4); not needed when --lpips-weights holds them")
    parser.add_argument("--lpips-resize", type=int,
                        help="upsample images to this size before VGG (default: as they are)")


def perceptual_from_args(model: LoadedModel, args: argparse.Namespace) -> PerceptualDistance | None:
    """The perceptual distance the LPIPS options ask for (``build_perceptual_distance``)."""
    from .losses import build_perceptual_distance

    return build_perceptual_distance(model, args.lpips_weights, args.lpips_lin_weights, args.lpips_resize)
