"""Render job: a sampled image's pixels and W+ latent from its model, seed and truncation."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from webapp.assets import services as assets
from webapp.assets.models import Image
from webapp.assets.worker_inputs import checked_model
from webapp.errors import InvalidInput
from webapp.jobs.models import Job, JobStatus
from webapp.jobs.progress import JobHooks
from webapp.jobs.runner import Runner


@dataclass(frozen=True)
class RenderOutput:
    """The rendered sample: PNG bytes at the model's resolution and its latent file's bytes."""

    png: bytes
    latent: bytes


def compute(job: Job, hooks: JobHooks) -> RenderOutput:
    """Map the seed to W+ at the image's truncation and synthesize it."""
    from editing_engine.jobs import render_sample

    image = Image.objects.select_related("model").get(pk=job.parameters["image"])
    loaded = checked_model(image.model)
    seed, psi = image.seed, image.truncation_psi
    if seed is None or psi is None:
        raise InvalidInput(f"Image {image.pk} is not a generator sample; there is nothing to render.",
                           code="not_a_sample")
    source = {"seed": seed, "truncation_psi": psi, "job": job.pk}
    sample = render_sample(loaded, int(seed), float(psi), source)
    hooks.progress(1, 1, 0.0)
    return RenderOutput(png=sample.png, latent=sample.latent)


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
