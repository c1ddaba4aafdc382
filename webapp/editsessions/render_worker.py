"""Worker side of session previews: render a claimed session state (and its segmentation) to PNGs.

Only the render task imports this module. Vector and latent files never change once written
(new weights make a new model, edits make new files), so their tensors are cached by path.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from webapp.annotations.masks import encode_mask
from webapp.annotations.services import active_branch
from webapp.annotations.worker_inputs import registered_branch
from webapp.assets.models import GeneratorModel
from webapp.assets.worker_inputs import checked_model, device_of
from webapp.errors import InvalidInput

from .services import RenderState


@dataclass(frozen=True)
class RenderedFrame:
    """One rendered session state: the image PNG, optionally the segmentation PNG, and timings."""

    revision: int
    png: bytes
    segmentation_png: bytes | None
    width: int
    height: int
    render_ms: float


@lru_cache(maxsize=256)
def _delta(path: str, weights_hash: str, shape: tuple[int, int]) -> Any:
    """The ``delta`` tensor of a vector file (checked against the model), on the CPU."""
    from editing_engine.vectors import load_vector

    return load_vector(path, weights_hash, shape).delta


@lru_cache(maxsize=64)
def _latent(path: str, weights_hash: str, shape: tuple[int, int]) -> Any:
    """A latent file's ``ws [1, num_ws, w_dim]``, on the CPU."""
    from editing_engine.vectors import load_latent

    return load_latent(path, weights_hash, shape)


def render_state(state: RenderState) -> RenderedFrame:
    """Render ``latent + sum(scale_i * delta_i)`` of ``state``; segment it when it asks."""
    import torch

    from editing_engine.rendering import encode_png, render_latent

    if not state.latent_path:
        raise InvalidInput("The image has no latent yet (it is still being embedded).", code="no_latent")
    model = GeneratorModel.objects.get(pk=state.model_id)
    loaded = checked_model(model)
    shape = (loaded.config.num_ws, loaded.config.w_dim)
    started = time.perf_counter()
    device = device_of(loaded)
    ws = _latent(state.latent_path, state.weights_hash, shape).to(device)
    if state.vectors:
        deltas = torch.stack([_delta(path, state.weights_hash, shape) for path, _ in state.vectors])
        deltas = deltas.to(device)
        scales = torch.tensor([scale for _, scale in state.vectors], device=device)
        ws = ws + torch.einsum("v,vnd->nd", scales, deltas)[None]
    branch_record = active_branch(model) if state.segmentation else None
    # registered_branch keeps the worker's one cache of branches (worker_runtime.cached_part).
    branch = registered_branch(branch_record, loaded).eval() if branch_record is not None else None
    pixels, labels = render_latent(loaded.generator, ws, branch)
    segmentation = None
    if labels is not None:
        colours = list(model.labels.order_by("index").values_list("colour", flat=True))
        segmentation = encode_mask(labels, colours)
    return RenderedFrame(
        revision=state.revision,
        png=encode_png(pixels),
        segmentation_png=segmentation,
        width=int(pixels.shape[1]),
        height=int(pixels.shape[0]),
        render_ms=round((time.perf_counter() - started) * 1000, 2),
    )
