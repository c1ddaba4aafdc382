"""Render job: a sampled image's pixels and W+ latent from its model, seed and truncation."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from webapp.assets import services as assets
from webapp.assets.models import Image
from webapp.jobs.models import Job, JobStatus
from webapp.jobs.progress import JobHooks
from webapp.jobs.runners import Runner
from webapp.jobs.runners.common import checked_model, latent_bytes


@dataclass(frozen=True)
class RenderOutput:
    """The rendered sample: PNG bytes at the model's resolution and its latent file's bytes."""

    png: bytes
    latent: bytes


def compute(job: Job, hooks: JobHooks) -> RenderOutput:
    """Map the seed to W+ at the image's truncation and synthesize it."""
    from editing_engine.rendering import encode_png, render_latent, seed_latent

    image = Image.objects.select_related("model").get(pk=job.parameters["image"])
    loaded = checked_model(image.model)
    ws = seed_latent(loaded.generator, int(image.seed), float(image.truncation_psi))
    pixels, _ = render_latent(loaded.generator, ws)
    hooks.progress(1, 1, 0.0)
    source = {"seed": image.seed, "truncation_psi": image.truncation_psi, "job": job.pk}
    return RenderOutput(png=encode_png(pixels), latent=latent_bytes(ws, loaded.weights_hash, source))


def store(job: Job, output: RenderOutput) -> dict[str, Any]:
    """Store the pixels and latent on the sampled image."""
    image = Image.objects.select_related("model", "team").get(pk=job.parameters["image"])
    assets.store_sample(image, output.png, output.latent)
    return {"image": image.pk}


def on_stop(job: Job, status: JobStatus, message: str) -> None:
    """A failed render marks its sample failed, with the job's message (a cancelled one stays pending)."""
    image = Image.objects.filter(pk=job.parameters.get("image")).first()
    if image is not None and status == JobStatus.FAILED:
        assets.set_image_status(image, Image.Status.FAILED, message)


RUNNER = Runner(compute=compute, store=store, on_stop=on_stop)
