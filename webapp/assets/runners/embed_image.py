"""Embed-image job: optimise an image's W+ latent (encoder start when the model has one) and store it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from PIL import Image as PILImage

from webapp.assets import services as assets
from webapp.assets.models import Image
from webapp.assets.storage import open_stored
from webapp.assets.worker_inputs import (
    checked_model,
    model_encoder,
    perceptual_distance,
)
from webapp.jobs.models import Job, JobStatus
from webapp.jobs.progress import JobHooks
from webapp.jobs.runner import Runner


@dataclass(frozen=True)
class EmbedOutput:
    """The best latent's file bytes, its reconstruction loss, quality figures and rendering (PNG)."""

    latent: bytes
    reconstruction_loss: float
    metrics: dict[str, Any]
    reconstruction: bytes


def compute(job: Job, hooks: JobHooks) -> EmbedOutput:
    """Run the engine's embedding on the image's normalized pixels."""
    from editing_engine.jobs import embed_photo

    image = Image.objects.select_related("model").get(pk=job.parameters["image"])
    loaded = checked_model(image.model)
    encoder = model_encoder(image.model, loaded)
    perceptual = perceptual_distance(loaded)
    with open_stored(image.normalized.name) as file, PILImage.open(file) as stored:
        pixels = np.asarray(stored.convert("RGB"))
    steps = int(job.parameters["steps"])
    settings = {"steps": steps, "encoder": encoder is not None,
                "perceptual": "discriminator" if perceptual is not None else "none"}
    source = {"image": image.pk, "job": job.pk, **settings}
    embedded = embed_photo(loaded, encoder, pixels, steps, perceptual, source,
                           progress=hooks.progress, should_cancel=hooks.should_cancel)
    metrics = {"psnr": embedded.psnr, "best_step": embedded.best_step, **settings}
    return EmbedOutput(latent=embedded.latent, reconstruction_loss=embedded.reconstruction_loss,
                       metrics=metrics, reconstruction=embedded.reconstruction_png)


def store(job: Job, output: EmbedOutput) -> dict[str, Any]:
    """Store the latent and its quality on the image."""
    image = Image.objects.select_related("model", "team").get(pk=job.parameters["image"])
    assets.store_latent(
        image, output.latent, output.reconstruction_loss, output.metrics, output.reconstruction
    )
    return {"image": image.pk}


def on_start(job: Job) -> None:
    """Show the image's latent as being computed."""
    image = Image.objects.filter(pk=job.parameters["image"]).first()
    if image is not None:
        assets.set_image_status(image, Image.Status.PROCESSING)


def on_stop(job: Job, status: JobStatus, message: str) -> None:
    """A failed embedding marks the image failed; a cancelled one restores its previous state."""
    image = Image.objects.filter(pk=job.parameters["image"]).first()
    if image is None:
        return
    if status == JobStatus.FAILED:
        assets.set_image_status(image, Image.Status.FAILED, message)
    else:
        assets.set_image_status(image, Image.Status.READY if image.latent else Image.Status.PENDING)


RUNNER = Runner(compute=compute, store=store, on_start=on_start, on_stop=on_stop)
