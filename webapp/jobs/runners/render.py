"""Render job: a sampled image's pixels and W+ latent from its model, seed and truncation."""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from webapp.assets import services as assets
from webapp.assets.models import Image
from webapp.jobs.models import Job
from webapp.jobs.progress import JobHooks
from webapp.jobs.runners import Runner
from webapp.jobs.runners.common import checked_model


@dataclass(frozen=True)
class RenderOutput:
    """The rendered sample: PNG bytes at the model's resolution and its latent as safetensors bytes."""

    png: bytes
    latent: bytes


def compute(job: Job, hooks: JobHooks) -> RenderOutput:
    """Map the seed to W+ at the image's truncation and synthesize it."""
    import torch

    from editing_engine.generator import seed_to_z, to_uint8_image
    from editing_engine.rendering import encode_png
    from editing_engine.vectors import save_latent

    image = Image.objects.select_related("model").get(pk=job.parameters["image"])
    loaded = checked_model(image.model)
    generator = loaded.generator
    device = next(generator.parameters()).device
    with torch.no_grad():
        z = seed_to_z(int(image.seed), generator.config.z_dim).to(device)
        ws = generator.mapping(z, truncation_psi=float(image.truncation_psi))
        pixels = to_uint8_image(generator.synthesis(ws, noise_mode="const")[0])
    hooks.progress(1, 1, 0.0)
    with tempfile.TemporaryDirectory() as folder:
        path = save_latent(Path(folder) / "latent.safetensors", ws.cpu(), loaded.weights_hash,
                           source={"seed": image.seed, "truncation_psi": image.truncation_psi})
        latent = path.read_bytes()
    return RenderOutput(png=encode_png(pixels), latent=latent)


def store(job: Job, output: RenderOutput) -> dict[str, Any]:
    """Store the pixels and latent on the sampled image."""
    image = Image.objects.select_related("model", "team").get(pk=job.parameters["image"])
    assets.store_sample(image, output.png, output.latent)
    return {"image": image.pk}


def on_failure(job: Job, message: str) -> None:
    """Mark the sampled image as failed, with the job's message."""
    image = Image.objects.filter(pk=job.parameters.get("image")).first()
    if image is not None:
        assets.set_image_status(image, Image.Status.FAILED, message)


RUNNER = Runner(compute=compute, store=store, on_failure=on_failure)
