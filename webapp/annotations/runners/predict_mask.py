"""Predict-mask job: the active branch's part mask of one image and where its ensemble disagrees.

The annotation page's "Predict" fills the canvas with the labels (one undo step) and shades the
uncertain pixels, so the annotator corrects rather than paints from zero. Both maps are small
PNGs (one byte a pixel at the model's resolution) carried in the job's result.
"""

from __future__ import annotations

import base64
import io
import math
from typing import Any

import numpy as np
from PIL import Image as PILImage

from webapp.annotations.models import SegmentationBranch
from webapp.annotations.worker_inputs import registered_branch
from webapp.assets.models import Image
from webapp.assets.worker_inputs import checked_model, image_latent
from webapp.jobs.models import Job
from webapp.jobs.progress import JobHooks
from webapp.jobs.runner import Runner


def grey_png(values: np.ndarray) -> str:
    """A uint8 map as a base64 greyscale PNG."""
    buffer = io.BytesIO()
    PILImage.fromarray(values.astype(np.uint8), mode="L").save(buffer, format="PNG", optimize=True)
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def compute(job: Job, hooks: JobHooks) -> dict[str, Any]:
    """Segment the image's latent with the branch: labels, and the ensemble's Jensen-Shannon
    divergence per pixel on 0-255 (255: ln 2 nats or more, two members fully disagreeing)."""
    import torch

    from editing_engine.segmentation import segment

    image = Image.objects.select_related("model").get(pk=job.parameters["image"])
    loaded = checked_model(image.model)
    branch = registered_branch(SegmentationBranch.objects.get(pk=job.parameters["branch"]), loaded)
    with torch.no_grad():
        output = segment(loaded.generator, branch, image_latent(image, loaded))
    labels = output.labels[0].cpu().numpy()
    uncertainty = np.clip(output.uncertainty[0].cpu().numpy() / math.log(2), 0, 1)
    return {"labels": labels, "uncertainty": np.round(uncertainty * 255), "mean": float(uncertainty.mean())}


def store(job: Job, output: dict[str, Any]) -> dict[str, Any]:
    """The prediction's maps as PNGs (labels: values are label indices; uncertainty: 255 = ln 2 nats)."""
    return {"image": job.parameters["image"], "branch": job.parameters["branch"],
            "labels_png": grey_png(output["labels"]), "uncertainty_png": grey_png(output["uncertainty"]),
            "mean_uncertainty": output["mean"]}


RUNNER = Runner(compute=compute, store=store)
