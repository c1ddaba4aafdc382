"""Embed-image job: optimise an image's W+ latent (encoder start when the model has one) and store it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from PIL import Image as PILImage

from webapp.assets import services as assets
from webapp.assets.models import Image
from webapp.assets.storage import open_stored
from webapp.assets.uploads import encode_png
from webapp.jobs.models import Job, JobStatus
from webapp.jobs.progress import JobHooks
from webapp.jobs.runners import Runner
from webapp.jobs.runners.common import (
    checked_model,
    device_of,
    latent_bytes,
    model_encoder,
    perceptual_distance,
)


@dataclass(frozen=True)
class EmbedOutput:
    """The best latent's file bytes, its reconstruction loss, quality figures and rendering (PNG)."""

    latent: bytes
    reconstruction_loss: float
    metrics: dict[str, Any]
    reconstruction: bytes


def compute(job: Job, hooks: JobHooks) -> EmbedOutput:
    """Run the engine's embedding on the image's normalized pixels."""
    from editing_engine.embedding import embed_image, image_to_tensor

    image = Image.objects.select_related("model").get(pk=job.parameters["image"])
    loaded = checked_model(image.model)
    encoder = model_encoder(image.model, loaded)
    perceptual = perceptual_distance(loaded)
    with open_stored(image.normalized.name) as file, PILImage.open(file) as stored:
        pixels = np.asarray(stored.convert("RGB"))
    # The target goes in on the generator's device (the engine keeps a tensor input where it is).
    target = image_to_tensor(pixels, loaded.config.resolution).to(device_of(loaded))
    steps = int(job.parameters["steps"])
    result = embed_image(loaded.generator, encoder, target, steps=steps, perceptual=perceptual,
                         progress=hooks.progress, should_cancel=hooks.should_cancel)
    reconstruction = float(result.reconstruction_losses[result.best_step])
    metrics = {
        "psnr": round(result.psnr, 3),
        "best_step": result.best_step,
        "steps": steps,
        "encoder": encoder is not None,
        "perceptual": "discriminator" if perceptual is not None else "none",
    }
    latent = latent_bytes(result.ws, loaded.weights_hash, {"image": image.pk, "job": job.pk, **metrics})
    rendering = encode_png(PILImage.fromarray(result.image))
    return EmbedOutput(
        latent=latent, reconstruction_loss=reconstruction, metrics=metrics, reconstruction=rendering
    )


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
