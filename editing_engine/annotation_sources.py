"""Where training data comes from: folders of annotated latents, oracle-labelled samples, procedural renders.

The ``train-branch`` and ``train-encoder`` commands and the benches in ``bench/`` draw their
annotations and real images from here.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from .checkpoints import LoadedModel
from .label_maps import read_label_png
from .segmentation import BranchError

ORACLE_SAMPLE_SEED_BASE = 60_000_000
"""Generator seeds whose oracle labels train the shipped branch (disjoint from every evaluation range)."""
ENCODER_REAL_SEED_BASE = 0
"""Procedural render seeds used as real images for the encoder: the GAN's own training range."""


def annotations_from_directory(
    directory: Path, model: LoadedModel, colours: list[tuple[int, int, int]]
) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """``(ws, labels)`` pairs from ``NAME.safetensors`` latents with ``NAME.png`` label maps in a folder."""
    from .vectors import load_latent

    pairs = []
    for latent_path in sorted(directory.glob("*.safetensors")):
        label_path = latent_path.with_suffix(".png")
        if not label_path.is_file():
            raise BranchError(f"annotation {latent_path.name} has no label map {label_path.name}")
        ws = load_latent(latent_path, model.weights_hash, (model.config.num_ws, model.config.w_dim))
        labels = read_label_png(label_path, colours)
        if bool((labels < 0).any()):
            raise BranchError(f"{label_path} holds colours that are not labels of this model")
        pairs.append((ws, labels))
    if not pairs:
        raise BranchError(f"no NAME.safetensors + NAME.png annotation pairs in {directory}")
    return pairs


def oracle_annotations(
    model: LoadedModel, oracle_path: Path, count: int, psi: float, seed_base: int = ORACLE_SAMPLE_SEED_BASE
) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """``(ws, oracle labels)`` for ``count`` sampled images (seeds from ``seed_base``)."""
    from .generator import seed_to_z, to_uint8_image
    from .oracle import load_oracle, predict

    oracle = load_oracle(oracle_path)
    pairs = []
    with torch.no_grad():
        for seed in range(seed_base, seed_base + count):
            ws = model.generator.mapping(seed_to_z(seed, model.config.z_dim), truncation_psi=psi)
            image = to_uint8_image(model.generator.synthesis(ws, noise_mode="const")[0])
            labels = torch.from_numpy(predict(oracle, image[None])[0].astype(np.int64))
            pairs.append((ws, labels))
    return pairs


def procedural_real_images(
    count: int, resolution: int, seed_base: int = ENCODER_REAL_SEED_BASE
) -> torch.Tensor:
    """``count`` in-domain procedural renders as ``[N, 3, R, R]`` in [-1, 1] (the encoder's real images)."""
    from .domain import render_face

    images = np.stack(
        [render_face(seed, size=resolution).image for seed in range(seed_base, seed_base + count)]
    )
    return torch.from_numpy(images).permute(0, 3, 1, 2).float() / 127.5 - 1.0
