"""Predict-mask job: the active branch's part mask of one image and where its ensemble disagrees.

The annotation page's "Predict" fills the canvas with the labels (one undo step) and shades the
uncertain pixels, so the annotator corrects rather than paints from zero. Both maps are small
PNGs (one byte a pixel at the model's resolution) carried in the job's result.
"""

from __future__ import annotations

import base64
from typing import TYPE_CHECKING, Any

from webapp.annotations.models import SegmentationBranch
from webapp.annotations.worker_inputs import registered_branch
from webapp.assets.models import Image
from webapp.assets.worker_inputs import checked_model, image_latent
from webapp.jobs.models import Job
from webapp.jobs.progress import JobHooks
from webapp.jobs.runner import Runner

if TYPE_CHECKING:
    from editing_engine.jobs import PredictedMask


def compute(job: Job, hooks: JobHooks) -> PredictedMask:
    """Segment the image's latent with the branch chosen at request time (``jobs.predict_mask``)."""
    from editing_engine.jobs import predict_mask

    image = Image.objects.select_related("model").get(pk=job.parameters["image"])
    loaded = checked_model(image.model)
    branch = registered_branch(SegmentationBranch.objects.get(pk=job.parameters["branch"]), loaded)
    return predict_mask(loaded, branch, image_latent(image, loaded))


def store(job: Job, output: PredictedMask) -> dict[str, Any]:
    """The prediction's maps as base64 PNGs (labels: label indices; uncertainty: 255 = ln 2 nats)."""
    return {"image": job.parameters["image"], "branch": job.parameters["branch"],
            "labels_png": base64.b64encode(output.labels_png).decode("ascii"),
            "uncertainty_png": base64.b64encode(output.uncertainty_png).decode("ascii"),
            "mean_uncertainty": output.mean_uncertainty}


RUNNER = Runner(compute=compute, store=store)
