"""Train-branch job: fit a segmentation branch on annotated latents, score it on held-out annotations."""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

from webapp.annotations import services as annotation_services
from webapp.annotations.models import AnnotationVersion
from webapp.assets.models import GeneratorModel
from webapp.assets.worker_inputs import checked_model, image_latent, label_map
from webapp.jobs.models import Job
from webapp.jobs.progress import JobHooks
from webapp.jobs.runner import Runner


@dataclass(frozen=True)
class TrainingOutput:
    """The branch's weights file bytes, its config, the versions it was trained on and its metrics."""

    weights: bytes
    config: dict[str, Any]
    trained_on: list[int]
    metrics: dict[str, Any]


def split(version_ids: list[int], held_out: int, seed: int) -> tuple[list[int], list[int]]:
    """Split annotation ids into (training, held-out), the same way for the same seed."""
    shuffled = sorted(version_ids)
    random.Random(seed).shuffle(shuffled)
    return sorted(shuffled[held_out:]), sorted(shuffled[:held_out])


def compute(job: Job, hooks: JobHooks) -> TrainingOutput:
    """Train the branch with the engine (``train_segmentation_branch``), scored on held-out annotations."""
    from editing_engine.jobs import train_segmentation_branch

    parameters = job.parameters
    seed = int(parameters["seed"])
    model = GeneratorModel.objects.get(pk=parameters["model"])
    loaded = checked_model(model)
    versions = AnnotationVersion.objects.filter(pk__in=parameters["annotations"]).select_related("image")
    pairs = {v.pk: (image_latent(v.image, loaded), label_map(v.mask.name)) for v in versions}
    train_ids, held_out_ids = split(list(pairs), int(parameters["held_out"]), seed)
    trained = train_segmentation_branch(
        loaded,
        [pairs[pk] for pk in train_ids],
        [pairs[pk] for pk in held_out_ids],
        list(model.labels.order_by("index").values_list("name", flat=True)),
        members=int(parameters["members"]),
        steps=int(parameters["steps"]),
        pixels_per_step=int(parameters["pixels_per_step"]),
        seed=seed,
        progress=hooks.progress,
        should_cancel=hooks.should_cancel,
    )
    metrics = {"trained_on": len(train_ids), "held_out": held_out_ids, **trained.metrics}
    return TrainingOutput(weights=trained.weights, config=trained.config, trained_on=train_ids,
                          metrics=metrics)


def store(job: Job, output: TrainingOutput) -> dict[str, Any]:
    """Record the branch (active unless the request said otherwise) through the annotations service."""
    model = GeneratorModel.objects.get(pk=job.parameters["model"])
    branch = annotation_services.register_segmentation_branch(
        model,
        output.weights,
        AnnotationVersion.objects.filter(pk__in=output.trained_on).select_related("image"),
        output.metrics,
        config=output.config,
        job=job,
        created_by=job.requested_by,
        activate=bool(job.parameters["activate"]),
    )
    return {"branch": branch.pk, "model": model.pk}


RUNNER = Runner(compute=compute, store=store)
