"""Label maps and masks as PNG files, and folders of annotated latents (the CLI's file inputs).

A label map is ``[H, W]`` label indices: read from a palette or grey PNG as indices, or from an
RGB PNG by exact match against the model's label colours; written as a palette PNG whose
indices are the labels and whose palette is their colours.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from editing_engine.errors import EngineError


class LabelImageError(EngineError):
    """A label-map PNG cannot be read as label indices for this model."""


def read_label_png(path: Path, colours: Sequence[tuple[int, int, int]]) -> torch.Tensor:
    """Label indices ``[H, W]`` from a palette/grey PNG (indices) or an RGB PNG (exact colour match)."""
    try:
        image = Image.open(path)
        image.load()
    except OSError as error:
        raise LabelImageError(f"cannot read label map {path}: {error}") from error
    if image.mode in ("P", "L", "I", "I;16"):
        return torch.from_numpy(np.asarray(image).astype(np.int64))
    pixels = np.asarray(image.convert("RGB")).astype(np.int64)
    codes = (pixels[..., 0] << 16) | (pixels[..., 1] << 8) | pixels[..., 2]
    lookup = {(r << 16) | (g << 8) | b: index for index, (r, g, b) in enumerate(colours)}
    labels = np.full(codes.shape, -1, dtype=np.int64)
    for code, index in lookup.items():
        labels[codes == code] = index
    if (labels < 0).any():
        unknown = sorted({int(c) for c in np.unique(codes[labels < 0])})[:5]
        raise LabelImageError(
            f"{path} has colours that are no label's colour: {[f'#{c:06x}' for c in unknown]}"
        )
    return torch.from_numpy(labels)


def write_label_png(path: Path, labels: torch.Tensor, colours: Sequence[tuple[int, int, int]]) -> None:
    """Write label indices as a palette PNG: exact indices when read back, the label colours when viewed."""
    image = Image.fromarray(labels.cpu().numpy().astype(np.uint8), mode="P")
    palette = [channel for colour in colours for channel in colour]
    image.putpalette(palette + [0] * (768 - len(palette)))
    image.save(path)


def read_mask_png(path: Path) -> torch.Tensor:
    """A bool mask from a PNG: pixels brighter than mid-grey are set."""
    try:
        grey = np.asarray(Image.open(path).convert("L"))
    except OSError as error:
        raise LabelImageError(f"cannot read mask {path}: {error}") from error
    return torch.from_numpy(grey > 127)


def write_mask_png(path: Path, mask: torch.Tensor) -> None:
    """Write a bool mask as a black/white PNG."""
    Image.fromarray((mask.cpu().numpy() * 255).astype(np.uint8), mode="L").save(path)
