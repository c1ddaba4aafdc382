"""One engine entry point per worker job kind: what a job asks the engine for, in one call.

A webapp runner loads its inputs (the cached generator, encoder, branch, stored pixels) and calls
one function here, which returns file bytes and numbers ready to store; the engine's internals
(tensors, devices, file formats) stay on this side of the boundary.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from .checkpoints import LoadedModel
from .editing import EditResult
from .encoder import Encoder
from .losses import PerceptualDistance
from .progress import CancelCheck, ProgressCallback


@dataclass(frozen=True)
class RenderedSample:
    """A sampled image: its PNG at the model's resolution and its latent file."""

    png: bytes
    latent: bytes


@dataclass(frozen=True)
class EmbeddedPhoto:
    """An embedded photo: the best latent's file, its reconstruction loss, PSNR and rendering (PNG)."""

    latent: bytes
    reconstruction_loss: float
    psnr: float
    best_step: int
    reconstruction_png: bytes


@dataclass(frozen=True)
class PackagedVector:
    """An edit result as a library vector: its file, labels, loss curve and before/after renderings (PNG)."""

    data: bytes
    labels: list[int]
    loss_curve: list[float]
    before_png: bytes
    after_png: bytes


def render_sample(
    loaded: LoadedModel, seed: int, truncation_psi: float, source: dict[str, Any]
) -> RenderedSample:
    """Render the sample of ``seed`` at ``truncation_psi``; ``source`` goes into the latent's metadata."""
    from .rendering import encode_png, render_latent, seed_latent
    from .vectors import latent_to_bytes

    ws = seed_latent(loaded.generator, seed, truncation_psi)
    pixels, _ = render_latent(loaded.generator, ws)
    return RenderedSample(png=encode_png(pixels), latent=latent_to_bytes(ws, loaded.weights_hash, source))


def embed_photo(
    loaded: LoadedModel,
    encoder: Encoder | None,
    pixels: np.ndarray,
    steps: int,
    perceptual: PerceptualDistance | None,
    source: dict[str, Any],
    progress: ProgressCallback | None = None,
    should_cancel: CancelCheck | None = None,
) -> EmbeddedPhoto:
    """Embed RGB ``pixels`` into W+; the latent's metadata is ``source`` plus ``psnr`` and ``best_step``."""
    from .embedding import embed_image, image_to_tensor
    from .rendering import encode_png
    from .vectors import latent_to_bytes

    # The target goes in on the generator's device (the engine keeps a tensor input where it is).
    device = next(loaded.generator.parameters()).device
    target = image_to_tensor(pixels, loaded.config.resolution).to(device)
    result = embed_image(loaded.generator, encoder, target, steps=steps, perceptual=perceptual,
                         progress=progress, should_cancel=should_cancel)
    psnr = round(result.psnr, 3)
    metadata = {**source, "psnr": psnr, "best_step": result.best_step}
    return EmbeddedPhoto(
        latent=latent_to_bytes(result.ws, loaded.weights_hash, metadata),
        reconstruction_loss=float(result.reconstruction_losses[result.best_step]),
        psnr=psnr,
        best_step=result.best_step,
        reconstruction_png=encode_png(result.image),
    )


def package_vector(
    loaded: LoadedModel,
    result: EditResult,
    before: torch.Tensor,
    *,
    name: str,
    model_id: str,
    label_names: list[str],
    source: dict[str, Any],
) -> PackagedVector:
    """Turn an edit (or refinement) result made from latent ``before`` into a vector file with thumbnails."""
    from .editing import result_to_vector
    from .generator import to_uint8_image
    from .rendering import encode_png
    from .vectors import vector_to_bytes

    vector = result_to_vector(result, loaded.weights_hash, model_id=model_id, name=name,
                              label_names=label_names, source=source)
    with torch.no_grad():
        before_image = loaded.generator.synthesis(before, noise_mode="const")[0]
    return PackagedVector(
        data=vector_to_bytes(vector),
        labels=list(result.involved_labels),
        loss_curve=[round(step["total"], 6) for step in result.losses],
        before_png=encode_png(to_uint8_image(before_image)),
        after_png=encode_png(to_uint8_image(result.image)),
    )
