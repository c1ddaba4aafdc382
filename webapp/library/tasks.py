"""Celery task of the library: render a vector's strength strip (engine imported inside the task)."""

from __future__ import annotations

from celery import shared_task

from webapp.assets.storage import local_copy

from .models import EditVector
from .strips import STRIP_PSI, STRIP_SEED, store_strength_strip, strip_scales


@shared_task(name="preview.render_strength_strip", ignore_result=True, acks_late=False)
def render_strength_strip(vector_id: int) -> None:
    """Apply the vector to the model's fixed sample at each strip scale and store the strip PNG."""
    import numpy as np

    from editing_engine.rendering import encode_png, render_latent, seed_latent
    from editing_engine.vectors import load_vector
    from webapp.assets.worker_inputs import checked_model

    vector = EditVector.objects.select_related("model").filter(pk=vector_id).first()
    if vector is None or vector.strength_strip:
        return
    loaded = checked_model(vector.model)
    shape = (loaded.config.num_ws, loaded.config.w_dim)
    delta = load_vector(local_copy(vector.vector.name), loaded.weights_hash, shape).delta
    ws = seed_latent(loaded.generator, STRIP_SEED, STRIP_PSI)
    frames = [render_latent(loaded.generator, ws + scale * delta.to(ws.device)[None])[0]
              for scale in strip_scales(vector)]
    store_strength_strip(vector, encode_png(np.concatenate(frames, axis=1)))
