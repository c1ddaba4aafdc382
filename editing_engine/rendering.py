"""Rendering helpers shared by the CLI and the workers: seed -> image -> PNG bytes."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from .generator import Generator, seed_to_z, to_uint8_image
from .segmentation import SegmentationBranch


@torch.no_grad()
def seed_latent(generator: Generator, seed: int, truncation_psi: float) -> torch.Tensor:
    """The W+ latent ``[1, num_ws, w_dim]`` of ``seed`` at ``truncation_psi``, on the generator's device."""
    device = next(generator.parameters()).device
    z = seed_to_z(seed, generator.config.z_dim).to(device)
    return generator.mapping(z, truncation_psi=truncation_psi)


@torch.no_grad()
def render_latent(
    generator: Generator, ws: torch.Tensor, branch: SegmentationBranch | None = None
) -> tuple[np.ndarray, np.ndarray | None]:
    """The ``HxWx3`` uint8 image of one latent ``[1, num_ws, w_dim]`` and, with ``branch``, its
    ``HxW`` uint8 label map. Every preview (samples, sessions) and the render job come through here."""
    if ws.ndim != 3 or ws.shape[0] != 1:
        raise ValueError(f"render_latent renders one latent [1, num_ws, w_dim], got {list(ws.shape)}")
    if branch is None:
        return to_uint8_image(generator.synthesis(ws, noise_mode="const")[0]), None
    image, features = generator.synthesis(ws, noise_mode="const", return_features=True)
    labels = branch.predict(features).labels[0]
    return to_uint8_image(image[0]), labels.to(device="cpu", dtype=torch.uint8).numpy()


def render_seed(generator: Generator, seed: int, truncation_psi: float) -> np.ndarray:
    """The ``HxWx3`` uint8 image the generator makes for ``seed`` at ``truncation_psi``."""
    return render_latent(generator, seed_latent(generator, seed, truncation_psi))[0]


def encode_png(pixels: np.ndarray) -> bytes:
    """PNG-encode an ``HxWx3`` or ``HxW`` uint8 array."""
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    return buffer.getvalue()


def save_png(pixels: np.ndarray, path: str | Path) -> None:
    """Write an image array as a PNG file."""
    Path(path).write_bytes(encode_png(pixels))
