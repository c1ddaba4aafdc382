"""Validation of each job type's parameters, run in ``create_job`` before the job exists.

Each ``prepare_<type>(user, team, raw)`` checks the request's JSON, resolves the objects it
names within ``team`` (objects of other teams are "not found", never revealed), may create
the pending record the job fills in, and returns the JSON parameters stored on the job.
"""

from __future__ import annotations

from typing import Any

from django.db.models import OuterRef, Subquery
from rest_framework import serializers

from webapp.annotations.models import AnnotationVersion
from webapp.annotations.services import active_branch
from webapp.annotations.uncertainty import unannotated_images
from webapp.assets import model_imports
from webapp.assets import services as assets
from webapp.assets.models import GeneratorModel, Image
from webapp.editsessions.models import StackEntry
from webapp.errors import Conflict, InvalidInput
from webapp.jobs.models import ACTIVE_STATUSES, Job, JobType
from webapp.teams.models import Team

DEFAULT_EMBED_STEPS = 100
MAX_EMBED_STEPS = 5000
MAX_TRAIN_STEPS = 50_000
# The engine's training defaults (editing_engine.segmentation.DEFAULT_TRAIN_STEPS and
# DEFAULT_PIXELS_PER_STEP; web processes never import the engine), checked equal by a test.
DEFAULT_TRAIN_STEPS = 2000
DEFAULT_PIXELS_PER_STEP = 2048
MAX_EDIT_STEPS = 1000


def validated(serializer_class: type[serializers.Serializer], raw: dict[str, Any]) -> dict[str, Any]:
    """Run a DRF serializer over ``raw``; field errors become one ``InvalidInput`` with details."""
    serializer = serializer_class(data=raw)
    if not serializer.is_valid():
        raise InvalidInput("The job parameters are invalid; see details.", code="invalid_parameters",
                           details=serializer.errors)
    return dict(serializer.validated_data)


def team_object(model: type[Any], team: Team, pk: int, what: str) -> Any:
    """The object ``pk`` of ``model`` in ``team``; ``InvalidInput`` when the team has no such object."""
    obj = model.objects.filter(**{model.TEAM_PATH: team}, pk=pk).first()
    if obj is None:
        raise InvalidInput(f"This team has no {what} with id {pk}.", code="not_found_in_team")
    return obj


class RenderParameters(serializers.Serializer):
    """Render a sampled image: an existing sample (``image``) or a new one (``model``, ``seed``, ``psi``)."""

    image = serializers.IntegerField(required=False)
    model = serializers.IntegerField(required=False)
    seed = serializers.IntegerField(required=False, min_value=0, max_value=2**32 - 1)
    psi = serializers.FloatField(required=False, min_value=-2.0, max_value=2.0, default=1.0)
    name = serializers.CharField(required=False, allow_blank=True, max_length=200, default="")

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        """Exactly one of ``image`` or ``model`` + ``seed``."""
        if ("image" in attrs) == ("model" in attrs):
            raise serializers.ValidationError("Give either image, or model and seed.")
        if "model" in attrs and "seed" not in attrs:
            raise serializers.ValidationError({"seed": "A new sample needs a seed."})
        return attrs


def prepare_render(user: Any, team: Team, raw: dict[str, Any]) -> dict[str, Any]:
    """Validate a render request; a new sample is recorded (pending) now and rendered by the job."""
    data = validated(RenderParameters, raw)
    if "image" in data:
        image = team_object(Image, team, data["image"], "image")
        if image.source != Image.Source.SAMPLE:
            raise InvalidInput("Only sampled images can be rendered; this one was uploaded.",
                               code="not_a_sample")
    else:
        model = team_object(GeneratorModel, team, data["model"], "generator model")
        image = assets.create_sampled_image(user, model, data["seed"], data["psi"], data["name"])
    return {"image": image.pk, "model": image.model_id, "seed": image.seed, "psi": image.truncation_psi}


class EmbedParameters(serializers.Serializer):
    """Embed an image into W+ with ``steps`` optimisation steps (0: the encoder's latent alone)."""

    image = serializers.IntegerField()
    steps = serializers.IntegerField(min_value=0, max_value=MAX_EMBED_STEPS, default=DEFAULT_EMBED_STEPS)


def prepare_embed_image(user: Any, team: Team, raw: dict[str, Any]) -> dict[str, Any]:
    """Validate an embed request: an image of the team with pixels and no embedding already under way."""
    data = validated(EmbedParameters, raw)
    image = team_object(Image, team, data["image"], "image")
    if not image.normalized:
        raise InvalidInput("This image has no pixels yet (a sample is rendered first).", code="no_pixels")
    busy = active_jobs_on(team, JobType.EMBED_IMAGE, "image", image.pk)
    if busy:
        raise Conflict(f"Image {image.pk} is already being embedded by job {busy[0]}.",
                       code="already_running", details={"job": busy[0]})
    return {"image": image.pk, "steps": data["steps"]}


def active_jobs_on(team: Team, job_type: str, parameter: str, value: int) -> list[int]:
    """Ids of the team's queued or running jobs of ``job_type`` whose ``parameter`` is ``value``."""
    jobs = Job.objects.filter(team=team, type=job_type, status__in=ACTIVE_STATUSES)
    return [job.pk for job in jobs if job.parameters.get(parameter) == value]


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


class EditParameters(serializers.Serializer):
    """Optimise or refine from one stack entry of an edit session."""

    entry = serializers.IntegerField()
    name = serializers.CharField(max_length=100, required=False, allow_blank=True, default="")
    steps = serializers.IntegerField(min_value=1, max_value=MAX_EDIT_STEPS, required=False)


def edit_source(team: Team, data: dict[str, Any], kind: str) -> tuple[StackEntry, int]:
    """The stack entry an edit job starts from (of ``kind``) and the active branch of its model."""
    entry = team_object(StackEntry, team, data["entry"], "edit-session entry")
    if entry.kind != kind:
        raise InvalidInput(f"Entry {entry.pk} is not a {StackEntry.Kind(kind).label.lower()} entry.",
                           code="wrong_entry_kind")
    image = entry.session.image
    if not image.latent:
        raise InvalidInput(f"Image {image.pk} has no latent yet; embed it first.", code="no_latent")
    branch = active_branch(image.model)
    if branch is None:
        raise InvalidInput(f"Model {image.model.name!r} has no segmentation branch yet; train one first.",
                           code="no_branch")
    return entry, branch.pk


def prepare_optimize_edit(user: Any, team: Team, raw: dict[str, Any]) -> dict[str, Any]:
    """Validate an edit optimisation: a mask-edit entry without a vector yet and not being optimised."""
    data = validated(EditParameters, raw)
    entry, branch = edit_source(team, data, StackEntry.Kind.MASK_EDIT)
    if entry.result_vector_id is not None:
        raise Conflict(f"Entry {entry.pk} already has its vector ({entry.result_vector_id}).",
                       code="already_optimized", details={"vector": entry.result_vector_id})
    busy = active_jobs_on(team, JobType.OPTIMIZE_EDIT, "entry", entry.pk)
    if busy:
        raise Conflict(f"Entry {entry.pk} is already being optimised by job {busy[0]}.",
                       code="already_running", details={"job": busy[0]})
    return {"entry": entry.pk, "branch": branch, "name": data["name"], "steps": data.get("steps", 30)}


def prepare_refine(user: Any, team: Team, raw: dict[str, Any]) -> dict[str, Any]:
    """Validate a refinement of a library vector as applied at one vector entry of a session."""
    data = validated(EditParameters, raw)
    entry, branch = edit_source(team, data, StackEntry.Kind.VECTOR)
    return {"entry": entry.pk, "branch": branch, "name": data["name"], "steps": data.get("steps", 10)}


class ImportModelParameters(serializers.Serializer):
    """Import an uploaded checkpoint (stored by ``assets.model_imports``) and register it in the team."""

    upload = serializers.CharField(max_length=300)
    filename = serializers.CharField(max_length=200)
    name = serializers.CharField(max_length=100, required=False, allow_blank=True, default="")
    labels = serializers.ListField(
        child=serializers.DictField(), required=False, allow_null=True, default=None
    )


def prepare_import_model(user: Any, team: Team, raw: dict[str, Any]) -> dict[str, Any]:
    """Validate an import request: an upload in this team's checkpoint folder, an optional taxonomy."""
    data = validated(ImportModelParameters, raw)
    if not data["upload"].startswith(f"{model_imports.checkpoint_folder(team)}/") or ".." in data["upload"]:
        raise InvalidInput(
            "Checkpoints are imported from the team's own uploads only.", code="not_found_in_team"
        )
    return {**data, "labels": model_imports.labels_parameter(data["labels"])}
