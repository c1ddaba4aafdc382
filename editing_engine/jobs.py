"""One engine entry point per worker job kind: what a job asks the engine for, in one call.

A webapp runner loads its inputs (the cached generator, encoder, branch, stored pixels) and calls
one function here, which returns file bytes and numbers ready to store; the engine's internals
(tensors, devices, file formats) stay on this side of the boundary.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from .checkpoints import LoadedModel
from .editing import EditResult
from .encoder import Encoder
from .losses import PerceptualDistance
from .progress import CancelCheck, ProgressCallback
from .segmentation import SegmentationBranch

# One annotated image: its W+ latent ``[1, num_ws, w_dim]`` (on the generator's device) and its
# ``[H, W]`` label indices at the model's resolution.
Annotation = tuple[torch.Tensor, np.ndarray]


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


@dataclass(frozen=True)
class TrainedBranch:
    """A trained branch: its weights file (safetensors), config, final loss and held-out IoU figures."""

    weights: bytes
    config: dict[str, object]
    metrics: dict[str, Any]


@dataclass(frozen=True)
class PredictedMask:
    """A branch's prediction for one image: labels and ensemble disagreement as greyscale PNGs.

    ``uncertainty_png`` holds the Jensen-Shannon divergence per pixel on 0-255 (255: ln 2 nats
    or more, two members fully disagreeing); ``mean_uncertainty`` is its mean on 0-1.
    """

    labels_png: bytes
    uncertainty_png: bytes
    mean_uncertainty: float


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


def train_segmentation_branch(
    loaded: LoadedModel,
    training: Sequence[Annotation],
    held_out: Sequence[Annotation],
    label_names: Sequence[str],
    *,
    members: int,
    steps: int,
    pixels_per_step: int,
    seed: int,
    progress: ProgressCallback | None = None,
    should_cancel: CancelCheck | None = None,
) -> TrainedBranch:
    """Train a branch of ``members`` on ``training`` and measure per-label IoU on ``held_out`` (if any).

    ``metrics`` holds ``final_loss`` (the last step's loss) and, with held-out annotations,
    ``per_label_iou`` (by label name, 4 decimals, None for a label absent from both prediction
    and target) and ``mean_iou`` over the labels that have one.
    """
    from . import segmentation
    from .metrics import per_label_iou

    config = segmentation.BranchConfig.for_generator(
        loaded.config, num_labels=len(label_names), num_members=members
    )
    device = next(loaded.generator.parameters()).device
    branch = segmentation.SegmentationBranch(config, seed=seed).to(device)
    losses: list[float] = []

    def track(step: int, total: int, loss: float) -> None:
        losses[:] = [loss]
        if progress is not None:
            progress(step, total, loss)

    segmentation.train_branch(
        loaded.generator, branch, list(training), steps=steps, pixels_per_step=pixels_per_step,
        progress=track, should_cancel=should_cancel, seed=seed,
    )
    metrics: dict[str, Any] = {"final_loss": losses[-1]}
    if held_out:
        predictions = [segmentation.segment(loaded.generator, branch, ws) for ws, _ in held_out]
        predicted = torch.stack([prediction.labels[0].cpu() for prediction in predictions])
        target = torch.stack([torch.as_tensor(labels).long() for _, labels in held_out])
        iou = per_label_iou(predicted, target, len(label_names))
        present = [float(value) for value in iou if not math.isnan(value)]
        metrics["per_label_iou"] = {
            name: None if math.isnan(value) else round(float(value), 4)
            for name, value in zip(label_names, iou, strict=True)
        }
        metrics["mean_iou"] = round(sum(present) / len(present), 4) if present else None
    return TrainedBranch(weights=segmentation.branch_weights_bytes(branch), config=config.to_dict(),
                         metrics=metrics)


def score_uncertainty(
    loaded: LoadedModel,
    branch: SegmentationBranch,
    latents: Sequence[torch.Tensor],
    progress: ProgressCallback | None = None,
    should_cancel: CancelCheck | None = None,
) -> list[float]:
    """The ensemble's mean Jensen-Shannon divergence (nats) on each latent ``[1, num_ws, w_dim]``."""
    from .segmentation import image_uncertainty

    scores = image_uncertainty(loaded.generator, branch, torch.cat(list(latents)), progress=progress,
                               should_cancel=should_cancel)
    return [float(score) for score in scores.tolist()]


def predict_mask(loaded: LoadedModel, branch: SegmentationBranch, ws: torch.Tensor) -> PredictedMask:
    """Segment ``ws [1, num_ws, w_dim]`` with ``branch``: its labels and where the ensemble disagrees."""
    from .rendering import encode_png
    from .segmentation import segment

    with torch.no_grad():
        output = segment(loaded.generator, branch, ws)
    labels = output.labels[0].cpu().numpy().astype(np.uint8)
    uncertainty = np.clip(output.uncertainty[0].cpu().numpy() / math.log(2), 0, 1)
    return PredictedMask(labels_png=encode_png(labels),
                         uncertainty_png=encode_png(np.round(uncertainty * 255).astype(np.uint8)),
                         mean_uncertainty=float(uncertainty.mean()))
