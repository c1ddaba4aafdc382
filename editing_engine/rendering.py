"""Rendering helpers shared by the CLI and the workers: seed -> image -> PNG bytes."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from .generator import Generator, seed_to_z, to_uint8_image


@torch.no_grad()
def render_seed(generator: Generator, seed: int, truncation_psi: float) -> np.ndarray:
    """The ``HxWx3`` uint8 image the generator makes for ``seed`` at ``truncation_psi``."""
    device = next(generator.parameters()).device
    z = seed_to_z(seed, generator.config.z_dim).to(device)
    ws = generator.mapping(z, truncation_psi=truncation_psi)
    return to_uint8_image(generator.synthesis(ws, noise_mode="const")[0])


def encode_png(pixels: np.ndarray) -> bytes:
    """PNG-encode an ``HxWx3`` or ``HxW`` uint8 array."""
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    return buffer.getvalue()


def save_png(pixels: np.ndarray, path: str | Path) -> None:
    """Write an image array as a PNG file."""
    Path(path).write_bytes(encode_png(pixels))
