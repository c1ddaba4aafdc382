"""Train-branch job: fit a segmentation branch on annotated latents, score it on held-out annotations."""

from __future__ import annotations

import math
import random
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from webapp.annotations import services as annotation_services
from webapp.annotations.models import AnnotationVersion
from webapp.assets.models import GeneratorModel
from webapp.assets.worker_inputs import checked_model, device_of, image_latent, label_map
from webapp.jobs.models import Job
from webapp.jobs.progress import JobHooks
from webapp.jobs.runner import Runner


@dataclass(frozen=True)
class TrainedBranch:
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


def compute(job: Job, hooks: JobHooks) -> TrainedBranch:
    """Train the branch with the engine, then measure per-label IoU on the held-out annotations."""
    import torch

    from editing_engine import segmentation
    from editing_engine.metrics import per_label_iou

    parameters = job.parameters
    seed = int(parameters["seed"])
    model = GeneratorModel.objects.get(pk=parameters["model"])
    loaded = checked_model(model)
    versions = AnnotationVersion.objects.filter(pk__in=parameters["annotations"]).select_related("image")
    pairs = {v.pk: (image_latent(v.image, loaded), label_map(v.mask.name)) for v in versions}
    train_ids, held_out_ids = split(list(pairs), int(parameters["held_out"]), seed)
    label_names = list(model.labels.order_by("index").values_list("name", flat=True))
    config = segmentation.BranchConfig.for_generator(
        loaded.config, num_labels=len(label_names), num_members=int(parameters["members"])
    )
    branch = segmentation.SegmentationBranch(config, seed=seed).to(device_of(loaded))
    segmentation.train_branch(
        loaded.generator,
        branch,
        [pairs[pk] for pk in train_ids],
        steps=int(parameters["steps"]),
        pixels_per_step=int(parameters["pixels_per_step"]),
        progress=hooks.progress,
        should_cancel=hooks.should_cancel,
        seed=seed,
    )
    metrics: dict[str, Any] = {"trained_on": len(train_ids), "held_out": held_out_ids,
                               "final_loss": job.progress_loss}
    if held_out_ids:
        predictions = [segmentation.segment(loaded.generator, branch, pairs[pk][0]) for pk in held_out_ids]
        predicted = torch.stack([prediction.labels[0].cpu() for prediction in predictions])
        target = torch.stack([torch.as_tensor(pairs[pk][1]).long() for pk in held_out_ids])
        iou = per_label_iou(predicted, target, len(label_names))
        present = [float(value) for value in iou if not math.isnan(value)]
        metrics["per_label_iou"] = {
            name: None if math.isnan(value) else round(float(value), 4)
            for name, value in zip(label_names, iou, strict=True)
        }
        metrics["mean_iou"] = round(sum(present) / len(present), 4) if present else None
    with tempfile.TemporaryDirectory() as folder:
        directory = segmentation.save_branch(Path(folder), branch.cpu(), metadata={"job": job.pk})
        weights = (directory / segmentation.BRANCH_WEIGHTS_FILE).read_bytes()
    return TrainedBranch(weights=weights, config=config.to_dict(), trained_on=train_ids, metrics=metrics)


def store(job: Job, output: TrainedBranch) -> dict[str, Any]:
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
