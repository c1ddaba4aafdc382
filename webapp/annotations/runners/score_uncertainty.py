"""Score-uncertainty job: the active branch's per-image disagreement, for choosing what to annotate next."""

from __future__ import annotations

from typing import Any

from webapp.annotations import uncertainty
from webapp.annotations.models import SegmentationBranch
from webapp.annotations.worker_inputs import registered_branch
from webapp.assets.models import GeneratorModel, Image
from webapp.assets.worker_inputs import checked_model, image_latent
from webapp.jobs.models import Job
from webapp.jobs.progress import JobHooks
from webapp.jobs.runner import Runner


def compute(job: Job, hooks: JobHooks) -> dict[int, float]:
    """Mean Jensen-Shannon divergence of the branch's ensemble on each requested image (by image id)."""
    from editing_engine.jobs import score_uncertainty

    parameters = job.parameters
    model = GeneratorModel.objects.get(pk=parameters["model"])
    loaded = checked_model(model)
    branch = registered_branch(SegmentationBranch.objects.get(pk=parameters["branch"]), loaded)
    images = list(Image.objects.filter(pk__in=parameters["images"], model=model).order_by("pk"))
    if not images:
        return {}
    scores = score_uncertainty(loaded, branch, [image_latent(image, loaded) for image in images],
                               progress=hooks.progress, should_cancel=hooks.should_cancel)
    return {image.pk: score for image, score in zip(images, scores, strict=True)}


def store(job: Job, output: dict[int, float]) -> dict[str, Any]:
    """Record one score per image under the branch; the result links the branch and counts the scores."""
    branch = SegmentationBranch.objects.get(pk=job.parameters["branch"])
    stored = uncertainty.store_uncertainty_scores(branch, output, job=job)
    return {"branch": branch.pk, "model": branch.model_id, "scored": stored}


RUNNER = Runner(compute=compute, store=store)
