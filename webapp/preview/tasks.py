"""Celery tasks of the live preview.

The engine is imported inside the task body, so web processes can import this module (to
enqueue) without loading torch.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from celery import shared_task
from celery.signals import worker_process_init

from webapp import events

logger = logging.getLogger(__name__)


@shared_task(name="preview.render_preview", ignore_result=True, acks_late=False)
def render_preview(group: str, seed: int, psi: float, request_id: str) -> None:
    """Render ``seed`` at truncation ``psi`` and send the PNG frame to channel-layer ``group``."""
    from editing_engine.rendering import encode_png, render_seed
    from webapp.worker_runtime import loaded_model

    started = time.perf_counter()
    try:
        pixels = render_seed(loaded_model().generator, seed, psi)
        png = encode_png(pixels)
    except Exception as error:
        events.publish_now(group, events.PreviewFailed(type="preview.failed", request_id=request_id,
                                                       message=str(error)))
        raise
    frame = events.PreviewFrame(
        type="preview.frame",
        request_id=request_id,
        seed=seed,
        psi=psi,
        width=int(pixels.shape[1]),
        height=int(pixels.shape[0]),
        render_ms=round((time.perf_counter() - started) * 1000, 1),
        png=png,
    )
    events.publish_now(group, frame)


@worker_process_init.connect
def load_generator_at_worker_start(**_: Any) -> None:
    """Load the generator when a worker process starts, so the first preview is as fast as the rest."""
    from webapp.worker_runtime import loaded_model

    try:
        loaded_model()
    except Exception:
        # The worker stays up: each render task then reports the error to its client.
        logger.exception("could not load the generator at worker start")
