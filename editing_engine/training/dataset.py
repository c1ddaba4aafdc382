"""Training image sources: the procedural face domain, or any folder of images.

Both hand out batches ``[B, 3, R, R]`` float32 in [-1, 1] and draw them with a numpy
``Generator`` owned by the training loop, so its state can be saved and a resumed run sees
the same images a non-stopped run would have seen.
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError

from editing_engine.errors import EngineError

from ..domain import render_face

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".webp", ".bmp", ".gif", ".tif", ".tiff"}

TRAINING_SEED_LIMIT = 10_000_000
"""Procedural GAN training draws seeds below this; seeds from here up belong to the oracle and
the evaluation sets (``editing_engine.evaluation``) and are never trained on."""


class DatasetError(EngineError):
    """A dataset that cannot be used for training (missing, empty, unreadable)."""


class ImageSource(Protocol):
    """Anything that yields batches of training images."""

    description: str

    def sample(self, batch: int, rng: np.random.Generator) -> torch.Tensor:
        """A batch ``[batch, 3, R, R]`` in [-1, 1]."""
        ...


def to_tensor(images: np.ndarray) -> torch.Tensor:
    """``[B, H, W, 3]`` uint8 -> ``[B, 3, H, W]`` float32 in [-1, 1]."""
    return torch.from_numpy(images).permute(0, 3, 1, 2).float().div(127.5).sub(1.0).contiguous()


class ProceduralFaces:
    """Freshly rendered procedural faces for random seeds below ``TRAINING_SEED_LIMIT``."""

    def __init__(self, resolution: int, style: str = "in_domain") -> None:
        self.resolution = resolution
        self.style = style
        self.description = "procedural" if style == "in_domain" else f"procedural:{style}"

    def sample(self, batch: int, rng: np.random.Generator) -> torch.Tensor:
        """Render ``batch`` faces for seeds drawn from ``rng``."""
        seeds = rng.integers(0, TRAINING_SEED_LIMIT, batch)
        images = np.stack([render_face(int(seed), self.resolution, self.style).image for seed in seeds])
        return to_tensor(images)


def load_square_image(path: Path, resolution: int) -> np.ndarray:
    """Read an image as RGB, centre-crop it to a square and resize it to ``resolution``."""
    try:
        with Image.open(path) as opened:
            image = opened.convert("RGB")
    except (OSError, UnidentifiedImageError) as error:
        raise DatasetError(f"cannot read image {path}: {error}") from error
    side = min(image.size)
    left, top = (image.width - side) // 2, (image.height - side) // 2
    image = image.crop((left, top, left + side, top + side))
    image = image.resize((resolution, resolution), Image.Resampling.LANCZOS)
    return np.asarray(image, dtype=np.uint8)


class ImageFolder:
    """Every image under a folder (recursively), held in memory at the training resolution."""

    def __init__(self, folder: str | Path, resolution: int) -> None:
        folder = Path(folder)
        if not folder.is_dir():
            raise DatasetError(f"dataset folder {folder} does not exist")
        paths = sorted(p for p in folder.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())
        if not paths:
            raise DatasetError(f"no images ({', '.join(sorted(IMAGE_SUFFIXES))}) found in {folder}")
        self.images = np.stack([load_square_image(path, resolution) for path in paths])
        self.description = str(folder)

    def __len__(self) -> int:
        return len(self.images)

    def sample(self, batch: int, rng: np.random.Generator) -> torch.Tensor:
        """Draw ``batch`` images uniformly with replacement, each mirrored with probability 1/2."""
        indices = rng.integers(0, len(self.images), batch)
        flips = rng.random(batch) < 0.5
        images = np.stack([img[:, ::-1] if flip else img for img, flip in
                           zip(self.images[indices], flips, strict=True)])
        return to_tensor(np.ascontiguousarray(images))


def open_source(data: str, resolution: int) -> ImageSource:
    """``"procedural"`` (or ``"procedural:out_of_domain"``) or a folder path -> an image source."""
    if data == "procedural":
        return ProceduralFaces(resolution)
    if data.startswith("procedural:"):
        return ProceduralFaces(resolution, data.split(":", 1)[1])
    return ImageFolder(data, resolution)
