"""The job kinds of the assets app: rendering a sample, embedding an image, importing a checkpoint.

Each ``prepare_<type>(user, team, raw)`` checks the request's JSON, resolves the objects it
names within ``team``, may create the pending record the job fills in, and returns the JSON
parameters stored on the job. ``AssetsConfig.ready()`` registers ``KINDS``.
"""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from webapp.assets import model_imports
from webapp.assets import services as assets
from webapp.assets.models import GeneratorModel, Image
from webapp.errors import Conflict, InvalidInput
from webapp.jobs.models import JobType
from webapp.jobs.parameters import active_jobs_on, team_object, validated
from webapp.jobs.registry import GPU_QUEUE, PREVIEW_QUEUE, JobKind
from webapp.teams.models import Team
from webapp.teams.permissions import Action

DEFAULT_EMBED_STEPS = 100
MAX_EMBED_STEPS = 5000


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


KINDS = (
    JobKind(JobType.RENDER, PREVIEW_QUEUE, Action.EDIT, prepare_render, "webapp.assets.runners.render"),
    JobKind(JobType.EMBED_IMAGE, GPU_QUEUE, Action.EDIT, prepare_embed_image,
            "webapp.assets.runners.embed_image"),
    JobKind(JobType.IMPORT_MODEL, GPU_QUEUE, Action.EDIT, prepare_import_model,
            "webapp.assets.runners.import_model"),
)
