"""The job kinds of the annotations app: training a branch, scoring uncertainty, predicting a mask.

Each ``prepare_<type>(user, team, raw)`` checks the request's JSON, resolves the objects it
names within ``team`` and returns the JSON parameters stored on the job.
``AnnotationsConfig.ready()`` registers ``KINDS``.
"""

from __future__ import annotations

from typing import Any

from django.db.models import OuterRef, Subquery
from rest_framework import serializers

from webapp.annotations.models import AnnotationVersion
from webapp.annotations.services import active_branch
from webapp.annotations.uncertainty import unannotated_images
from webapp.assets.models import GeneratorModel, Image
from webapp.errors import InvalidInput
from webapp.jobs.models import JobType
from webapp.jobs.parameters import team_object, validated
from webapp.jobs.registry import GPU_QUEUE, PREVIEW_QUEUE, JobKind
from webapp.teams.models import Team
from webapp.teams.permissions import Action

MAX_TRAIN_STEPS = 50_000
# The engine's training defaults (editing_engine.segmentation.DEFAULT_TRAIN_STEPS and
# DEFAULT_PIXELS_PER_STEP; web processes never import the engine), checked equal by a test.
DEFAULT_TRAIN_STEPS = 2000
DEFAULT_PIXELS_PER_STEP = 2048


class TrainBranchParameters(serializers.Serializer):
    """Train a branch of ``model`` on annotation versions (default: each annotated image's current one)."""

    model = serializers.IntegerField()
    annotations = serializers.ListField(child=serializers.IntegerField(), required=False, allow_empty=False,
                                        max_length=10_000)
    held_out = serializers.IntegerField(required=False, min_value=0,
                                        help_text="Annotations kept out of training to measure IoU "
                                                  "(default: a fifth, none with fewer than 5).")
    steps = serializers.IntegerField(min_value=1, max_value=MAX_TRAIN_STEPS, default=DEFAULT_TRAIN_STEPS)
    pixels_per_step = serializers.IntegerField(min_value=2, max_value=65536, default=DEFAULT_PIXELS_PER_STEP)
    members = serializers.IntegerField(min_value=1, max_value=16, default=10)
    seed = serializers.IntegerField(min_value=0, max_value=2**31 - 1, default=0)
    activate = serializers.BooleanField(default=True)


def prepare_train_branch(user: Any, team: Team, raw: dict[str, Any]) -> dict[str, Any]:
    """Validate a branch-training request: annotations of the model's images, each with a latent."""
    data = validated(TrainBranchParameters, raw)
    model = team_object(GeneratorModel, team, data["model"], "generator model")
    versions = AnnotationVersion.objects.filter(image__team=team, image__model=model).select_related("image")
    if "annotations" in data:
        chosen = list(versions.filter(pk__in=data["annotations"]))
        missing = sorted(set(data["annotations"]) - {version.pk for version in chosen})
        if missing:
            raise InvalidInput(f"This team has no annotations {missing} of model {model.name!r}.",
                               code="not_found_in_team", details={"missing": missing})
    else:
        newest = AnnotationVersion.objects.filter(image=OuterRef("image")).order_by("-number")
        chosen = list(versions.filter(number=Subquery(newest.values("number")[:1])))
    if not chosen:
        raise InvalidInput(f"Model {model.name!r} has no annotated images yet.", code="no_annotations")
    without_latent = sorted(version.image_id for version in chosen if not version.image.latent)
    if without_latent:
        raise InvalidInput(f"Images {without_latent} have no latent yet; embed them first.", code="no_latent",
                           details={"images": without_latent})
    held_out = data.get("held_out", len(chosen) // 5 if len(chosen) >= 5 else 0)
    if held_out >= len(chosen):
        raise InvalidInput(f"Holding out {held_out} of {len(chosen)} annotations leaves none to train on.",
                           code="invalid_parameters")
    return {
        "model": model.pk,
        "annotations": sorted(version.pk for version in chosen),
        "held_out": held_out,
        **{key: data[key] for key in ("steps", "pixels_per_step", "members", "seed", "activate")},
    }


class ScoreUncertaintyParameters(serializers.Serializer):
    """Score images of ``model`` with its active branch (default: every image not annotated yet)."""

    model = serializers.IntegerField()
    images = serializers.ListField(child=serializers.IntegerField(), required=False, allow_empty=False,
                                   max_length=10_000)


def prepare_score_uncertainty(user: Any, team: Team, raw: dict[str, Any]) -> dict[str, Any]:
    """Validate a scoring request: the model has an active branch, the images have latents."""
    data = validated(ScoreUncertaintyParameters, raw)
    model = team_object(GeneratorModel, team, data["model"], "generator model")
    branch = active_branch(model)
    if branch is None:
        raise InvalidInput(f"Model {model.name!r} has no segmentation branch yet; train one first.",
                           code="no_branch")
    if "images" in data:
        images = Image.objects.filter(team=team, model=model, pk__in=data["images"])
        found = {image.pk: image for image in images}
        missing = sorted(set(data["images"]) - set(found))
        if missing:
            raise InvalidInput(f"This team has no images {missing} of model {model.name!r}.",
                               code="not_found_in_team", details={"missing": missing})
        without_latent = sorted(pk for pk, image in found.items() if not image.latent)
        if without_latent:
            raise InvalidInput(f"Images {without_latent} have no latent yet; embed them first.",
                               code="no_latent", details={"images": without_latent})
        chosen = sorted(found)
    else:
        chosen = list(unannotated_images(model).values_list("pk", flat=True))
    if not chosen:
        raise InvalidInput(f"Model {model.name!r} has no unannotated images with a latent to score.",
                           code="nothing_to_score")
    return {"model": model.pk, "branch": branch.pk, "images": chosen}


class PredictMaskParameters(serializers.Serializer):
    """Predict the part mask of one image with its model's active branch."""

    image = serializers.IntegerField()


def prepare_predict_mask(user: Any, team: Team, raw: dict[str, Any]) -> dict[str, Any]:
    """Validate a prediction request: the image has a latent and its model an active branch."""
    data = validated(PredictMaskParameters, raw)
    image = team_object(Image, team, data["image"], "image")
    branch = active_branch(image.model)
    if branch is None:
        raise InvalidInput(f"Model {image.model.name!r} has no segmentation branch yet; train one first.",
                           code="no_branch")
    if not image.latent:
        raise InvalidInput(f"Image {image.pk} has no latent yet; embed it first.", code="no_latent",
                           details={"images": [image.pk]})
    return {"image": image.pk, "model": image.model_id, "branch": branch.pk}


KINDS = (
    JobKind(JobType.TRAIN_BRANCH, GPU_QUEUE, Action.EDIT, prepare_train_branch,
            "webapp.annotations.runners.train_branch"),
    JobKind(JobType.SCORE_UNCERTAINTY, GPU_QUEUE, Action.ANNOTATE, prepare_score_uncertainty,
            "webapp.annotations.runners.score_uncertainty"),
    JobKind(JobType.PREDICT_MASK, PREVIEW_QUEUE, Action.ANNOTATE, prepare_predict_mask,
            "webapp.annotations.runners.predict_mask"),
)
