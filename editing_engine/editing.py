"""Editing by segmentation change: conditional optimisation of W+ and self-supervised refinement.

``optimize_edit`` finds ``delta`` so that the branch's segmentation of ``G(ws + delta)`` matches
an edited label map inside the edit region while the image stays the same outside it:

    loss = w_p * perceptual(outside) + w_mse * MSE(outside)          vs the original image
         + w_ce * CE(branch at region pixels, edited labels)           only region pixels evaluated
         + w_enc * MSE(ws + delta, encoder(G(ws + delta)))             when an encoder is given

Adam on ``delta`` over the full W+; the latent with the lowest total loss seen is kept.
``refine_edit`` runs the same loop after a vector was applied to an image: the target is the
branch's own segmentation of the vector-edited image, inside the region of the involved labels.

``RELEASE_RECIPE`` is the EditGAN release's setting (brush-only region, logit averaging, MSE
averaged over all pixels, 150/75/1 weights, 29 steps) so it can be compared by the same code.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Collection, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, replace
from typing import Any, Literal

import torch
import torch.nn.functional as F

from editing_engine.errors import EngineError
from editing_engine.shapes import assert_shape

from .generator import Generator
from .losses import PerceptualDistance, pixel_mse
from .progress import CancelCheck, ProgressCallback, check_cancel, report
from .regions import (
    DEFAULT_DILATION,
    as_label_map,
    brush_region,
    edit_region,
    involved_labels,
    painted_labels,
    refinement_region,
    region_statistics,
)
from .segmentation import SegmentationBranch
from .vectors import EditVector

RegionMode = Literal["labels", "brush"]
Averaging = Literal["probabilities", "logits"]
ImageRange = Literal["signed", "unit"]
Encoder = torch.nn.Module

# Called with (step, image [1, 3, R, R]) after each optimisation step: intermediate previews.
ImageCallback = Callable[[int, torch.Tensor], None]

class EditError(EngineError):
    """An edit request that cannot be run (bad latent, label map, brush mask or settings)."""


@dataclass(frozen=True)
class EditConfig:
    """Loss weights, region rule and optimiser settings of one edit or refinement run."""

    steps: int = 30
    learning_rate: float = 0.02
    perceptual_weight: float = 150.0
    mse_weight: float = 75.0
    ce_weight: float = 10.0
    encoder_weight: float = 1.0
    region: RegionMode = "labels"
    dilation: int = DEFAULT_DILATION
    averaging: Averaging = "probabilities"
    masked_mean: bool = True
    context_labels: tuple[int, ...] = ()
    balance_changed: bool = True
    image_range: ImageRange = "signed"

    def __post_init__(self) -> None:
        if self.steps < 1:
            raise EditError(f"steps must be at least 1, got {self.steps}")
        if not self.learning_rate > 0:
            raise EditError(f"learning_rate must be positive, got {self.learning_rate}")
        weights = (self.perceptual_weight, self.mse_weight, self.ce_weight, self.encoder_weight)
        if min(weights) < 0 or not all(math.isfinite(w) for w in weights):
            raise EditError(f"loss weights must be finite and >= 0, got {weights}")
        if self.region not in ("labels", "brush"):
            raise EditError(f"region must be 'labels' or 'brush', got {self.region!r}")
        if self.averaging not in ("probabilities", "logits"):
            raise EditError(f"averaging must be 'probabilities' or 'logits', got {self.averaging!r}")
        if self.dilation < 0:
            raise EditError(f"dilation must be >= 0, got {self.dilation}")
        if self.image_range not in ("signed", "unit"):
            raise EditError(f"image_range must be 'signed' or 'unit', got {self.image_range!r}")

    def to_dict(self) -> dict[str, Any]:
        """Plain-dict form (stored in edit-vector metadata)."""
        data = asdict(self)
        data["context_labels"] = list(self.context_labels)
        return data


DEFAULT_EDIT = EditConfig()
"""PartEdit's edit: label-derived region, probability averaging, masked means, CE weight 10, 30 steps.

The CE weight was raised from the release's 1 by measurement (docs/engine.md, "Edit quality")."""

DEFAULT_REFINE = EditConfig(steps=10, encoder_weight=0.0)
"""Refinement after applying vectors (the release has no encoder term there)."""

RELEASE_RECIPE = EditConfig(
    steps=29,
    learning_rate=0.02,
    perceptual_weight=150.0,
    mse_weight=75.0,
    ce_weight=1.0,
    encoder_weight=1.0,
    region="brush",
    dilation=3,
    averaging="logits",
    masked_mean=False,
    balance_changed=False,
    image_range="unit",
)
"""The release's edit: brush footprint dilated 3x3 x3, averaged logits, all-pixel MSE, 29 steps.

Its preservation terms are on the release's scale: images in [0, 1] multiplied by the mask (MSE
there is a quarter of MSE on [-1, 1]; the perceptual distance sees the masked pixels as black,
as the release's LPIPS with ``normalize=True`` does). The release's perceptual term is LPIPS-VGG;
callers without LPIPS weights substitute another distance and must say so."""


@dataclass
class EditResult:
    """Outcome of an edit or refinement: the kept latent, its image and segmentation, and the losses."""

    delta: torch.Tensor
    ws_result: torch.Tensor
    image: torch.Tensor
    segmentation: torch.Tensor
    region: torch.Tensor
    involved_labels: list[int]
    losses: list[dict[str, float]]
    best_step: int
    config: EditConfig
    seconds: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)
    # What an optimised edit paints (``regions.painted_labels``), for naming it; empty after a refinement.
    painted_labels: list[int] = field(default_factory=list)

    @property
    def best_losses(self) -> dict[str, float]:
        """The loss terms of the kept latent."""
        return self.losses[self.best_step]


@dataclass
class _Problem:
    """What one optimisation run needs, checked and on the generator's device."""

    ws_start: torch.Tensor
    reference: torch.Tensor
    region: torch.Tensor
    targets: torch.Tensor
    changed_in_region: torch.Tensor
    config: EditConfig


@contextmanager
def _eval_mode(branch: SegmentationBranch) -> Iterator[SegmentationBranch]:
    """Put the branch in eval mode (BatchNorm running statistics) and restore its mode afterwards."""
    was_training = branch.training
    branch.eval()
    try:
        yield branch
    finally:
        branch.train(was_training)


def _device(generator: Generator) -> torch.device:
    return next(generator.parameters()).device


def _check_latent(generator: Generator, ws: torch.Tensor, what: str = "ws") -> torch.Tensor:
    shape = (generator.num_ws, generator.config.w_dim)
    if ws.ndim == 2:
        ws = ws[None]
    assert_shape(ws, (1, *shape), what, EditError)
    if not bool(torch.isfinite(ws).all()):
        raise EditError(f"{what} holds non-finite values")
    return ws.detach().to(device=_device(generator), dtype=torch.float32)


def _check_label_map(branch: SegmentationBranch, labels: object, what: str) -> torch.Tensor:
    tensor = as_label_map(labels, what, branch.config.num_labels)  # type: ignore[arg-type]
    size = branch.config.resolution
    if tuple(tensor.shape) != (size, size):
        raise EditError(f"{what} is {list(tensor.shape)}, the branch works at {size}x{size}")
    return tensor


@torch.no_grad()
def render_and_segment(
    generator: Generator, branch: SegmentationBranch, ws: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Image ``[3, R, R]`` and branch labels ``[R, R]`` for one latent (eval mode, no gradients)."""
    image, features = generator.synthesis(ws, noise_mode="const", return_features=True)
    return image[0], branch.predict(features).labels[0]


def _segmentation_loss(
    branch: SegmentationBranch, features: list[torch.Tensor], problem: _Problem
) -> torch.Tensor:
    """Cross-entropy at the region's pixels only (the branch evaluates no other pixel)."""
    if problem.targets.numel() == 0:
        return features[0].new_zeros(())
    pixel_mask = problem.region[None]
    if problem.config.averaging == "logits":
        per_pixel = F.cross_entropy(branch.logits(features, pixel_mask).mean(dim=0), problem.targets,
                                    reduction="none")
    else:
        per_pixel = F.nll_loss(branch.log_probs(features, pixel_mask), problem.targets, reduction="none")
    changed = problem.changed_in_region
    if not problem.config.balance_changed or bool(changed.all()) or not bool(changed.any()):
        return per_pixel.mean()
    # The changed pixels are usually a small part of the region; weigh them as much as the rest.
    return 0.5 * (per_pixel[changed].mean() + per_pixel[~changed].mean())


def _preservation_losses(
    image: torch.Tensor, problem: _Problem, perceptual: PerceptualDistance | None
) -> tuple[torch.Tensor, torch.Tensor]:
    """Perceptual (zero without a distance) and pixel distance to the reference outside the region."""
    outside = (~problem.region).to(image.dtype)[None, None]
    reference = problem.reference
    unit = problem.config.image_range == "unit"
    if unit:  # the release's [0, 1] images
        image, reference = (image + 1) / 2, (reference + 1) / 2
    if problem.config.masked_mean:
        mask: torch.Tensor | None = outside
    else:
        # The release multiplies both images by the mask and then averages over every pixel.
        image, reference, mask = image * outside, reference * outside, None
    mse = pixel_mse(image, reference, mask).mean()
    if perceptual is None:
        return image.new_zeros(()), mse
    if unit:  # distances take [-1, 1] images, as LPIPS(normalize=True) maps [0, 1] ones
        image, reference = image * 2 - 1, reference * 2 - 1
    return perceptual(image, reference, mask=mask).mean(), mse


def _optimise(
    generator: Generator,
    branch: SegmentationBranch,
    problem: _Problem,
    perceptual: PerceptualDistance | None,
    encoder: Encoder | None,
    progress: ProgressCallback | None,
    should_cancel: CancelCheck | None,
    what: str,
    preview: ImageCallback | None = None,
) -> tuple[torch.Tensor, list[dict[str, float]], int]:
    """Adam on ``delta``; returns the best latent seen, the per-step losses and the best step.

    ``preview(step, image)`` gets each step's image ``[1, 3, R, R]`` (computed anyway, no extra cost).
    """
    config = problem.config
    delta = torch.zeros_like(problem.ws_start, requires_grad=True)
    optimizer = torch.optim.Adam([delta], lr=config.learning_rate)
    use_encoder = encoder is not None and config.encoder_weight > 0
    history: list[dict[str, float]] = []
    best_ws, best_step, best_total = problem.ws_start.clone(), 0, math.inf
    for step in range(config.steps):
        check_cancel(should_cancel, what)
        ws = problem.ws_start + delta
        image, features = generator.synthesis(ws, noise_mode="const", return_features=True)
        perceptual_loss, mse_loss = _preservation_losses(image, problem, perceptual)
        ce_loss = _segmentation_loss(branch, features, problem)
        total = (config.perceptual_weight * perceptual_loss + config.mse_weight * mse_loss
                 + config.ce_weight * ce_loss)
        terms = {"perceptual": perceptual_loss.item(), "mse": mse_loss.item(), "ce": ce_loss.item()}
        if use_encoder:
            assert encoder is not None
            with torch.no_grad():
                encoded = encoder(image.detach())
            encoder_loss = F.mse_loss(ws, encoded)
            total = total + config.encoder_weight * encoder_loss
            terms["encoder"] = encoder_loss.item()
        terms["total"] = total.item()
        if not math.isfinite(terms["total"]):
            raise EditError(f"{what}: the loss became non-finite at step {step}; lower the learning rate")
        history.append(terms)
        if terms["total"] < best_total:
            best_total, best_step, best_ws = terms["total"], step, ws.detach().clone()
        optimizer.zero_grad(set_to_none=True)
        total.backward()
        optimizer.step()
        report(progress, step + 1, config.steps, terms["total"])
        if preview is not None:
            preview(step + 1, image.detach())
    return best_ws, history, best_step


def _run(
    generator: Generator,
    branch: SegmentationBranch,
    problem: _Problem,
    ws_origin: torch.Tensor,
    labels: list[int],
    perceptual: PerceptualDistance | None,
    encoder: Encoder | None,
    progress: ProgressCallback | None,
    should_cancel: CancelCheck | None,
    what: str,
    preview: ImageCallback | None = None,
) -> EditResult:
    """Run the optimisation (branch already in eval mode) and package the result."""
    started = time.perf_counter()
    best_ws, history, best_step = _optimise(
        generator, branch, problem, perceptual, encoder, progress, should_cancel, what, preview
    )
    image, segmentation = render_and_segment(generator, branch, best_ws)
    return EditResult(
        delta=(best_ws - ws_origin)[0].cpu(),
        ws_result=best_ws.cpu(),
        image=image.cpu(),
        segmentation=segmentation.cpu(),
        region=problem.region.cpu(),
        involved_labels=labels,
        losses=history,
        best_step=best_step,
        config=problem.config,
        seconds=time.perf_counter() - started,
    )


def optimize_edit(
    generator: Generator,
    branch: SegmentationBranch,
    ws: torch.Tensor,
    edited_labels: object,
    *,
    perceptual: PerceptualDistance | None,
    encoder: Encoder | None = None,
    config: EditConfig = DEFAULT_EDIT,
    original_labels: object | None = None,
    brush_mask: torch.Tensor | None = None,
    progress: ProgressCallback | None = None,
    should_cancel: CancelCheck | None = None,
    preview: ImageCallback | None = None,
) -> EditResult:
    """Find the W+ offset that makes the image's segmentation match ``edited_labels`` in the edit region.

    ``perceptual`` None means pixel MSE alone outside the region (a model without a discriminator).
    ``original_labels`` is the map the user edited (default: the branch's segmentation of ``ws``);
    the region is derived from it and ``edited_labels`` (``config.region == "labels"``) or, for the
    release recipe, from ``brush_mask`` alone. Raises ``Cancelled`` when ``should_cancel()`` is True.
    """
    ws = _check_latent(generator, ws)
    device = ws.device
    edited = _check_label_map(branch, edited_labels, "edited label map")
    with _eval_mode(branch):
        reference, segmentation = render_and_segment(generator, branch, ws)
    if original_labels is None:
        original = segmentation.cpu()
    else:
        original = _check_label_map(branch, original_labels, "original label map")
    labels = involved_labels(original, edited)
    if config.region == "brush":
        if brush_mask is None:
            raise EditError("this configuration takes its region from a brush mask; none was given")
        region = brush_region(brush_mask, config.dilation)
        if region.shape != edited.shape:
            raise EditError(f"brush mask is {list(region.shape)}, the label maps are {list(edited.shape)}")
    else:
        region = edit_region(original, edited, config.dilation, context_labels=config.context_labels)
    problem = _Problem(
        ws_start=ws,
        reference=reference[None],
        region=region.to(device),
        targets=edited.to(device)[region.to(device)],
        changed_in_region=(original != edited)[region].to(device),
        config=config,
    )
    with _eval_mode(branch):
        result = _run(generator, branch, problem, ws, labels, perceptual, encoder, progress, should_cancel,
                      "edit optimisation", preview)
    result.painted_labels = painted_labels(original, edited)
    return result


def refine_edit(
    generator: Generator,
    branch: SegmentationBranch,
    ws_original: torch.Tensor,
    ws_edited: torch.Tensor,
    labels: Collection[int],
    *,
    perceptual: PerceptualDistance | None,
    encoder: Encoder | None = None,
    config: EditConfig = DEFAULT_REFINE,
    progress: ProgressCallback | None = None,
    should_cancel: CancelCheck | None = None,
    preview: ImageCallback | None = None,
) -> EditResult:
    """Self-supervised refinement of a vector-edited latent (starts at ``ws_edited``).

    Target: the branch's segmentation of the vector-edited image, inside the pixels that carry one
    of ``labels`` in the original's or the edited image's segmentation (dilated); outside it the
    image is pulled back to the original. The result's ``delta`` is relative to ``ws_original``.
    """
    ws_original = _check_latent(generator, ws_original, "ws_original")
    ws_edited = _check_latent(generator, ws_edited, "ws_edited")
    with _eval_mode(branch):
        reference, seg_before = render_and_segment(generator, branch, ws_original)
        _, seg_after = render_and_segment(generator, branch, ws_edited)
    region = refinement_region(seg_before, seg_after, set(labels), config.dilation, branch.config.num_labels,
                               context_labels=config.context_labels)
    if not bool(region.any()):
        raise EditError(
            f"none of the labels {sorted(set(labels))} appears in this image's segmentation before or "
            "after applying the vectors: there is nothing to refine"
        )
    problem = _Problem(
        ws_start=ws_edited,
        reference=reference[None],
        region=region.to(ws_edited.device),
        targets=seg_after[region.to(seg_after.device)].to(ws_edited.device),
        changed_in_region=(seg_before != seg_after)[region.to(seg_after.device)].to(ws_edited.device),
        config=replace(config, region="labels"),
    )
    with _eval_mode(branch):
        return _run(generator, branch, problem, ws_original, sorted(set(labels)), perceptual, encoder,
                    progress, should_cancel, "refinement", preview)


def result_to_vector(
    result: EditResult,
    model_hash: str,
    *,
    model_id: str = "",
    name: str = "",
    label_names: Sequence[str] = (),
    source: dict[str, Any] | None = None,
) -> EditVector:
    """Package an edit result as an ``EditVector`` with its provenance and final losses."""
    names = [label_names[i] if i < len(label_names) else str(i) for i in result.involved_labels]
    settings = result.config.to_dict()
    settings["best_step"] = result.best_step
    settings["seconds"] = round(result.seconds, 3)
    return EditVector(
        delta=result.delta,
        model_hash=model_hash,
        model_id=model_id,
        name=name,
        labels=list(result.involved_labels),
        label_names=names,
        region=region_statistics(result.region),
        settings=settings,
        losses=dict(result.best_losses),
        source=source or {},
    )
