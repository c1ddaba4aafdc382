"""Validation of each job type's parameters, run in ``create_job`` before the job exists.

Each ``prepare_<type>(user, team, raw)`` checks the request's JSON, resolves the objects it
names within ``team`` (objects of other teams are "not found", never revealed), may create
the pending record the job fills in, and returns the JSON parameters stored on the job.
"""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from webapp.assets import services as assets
from webapp.assets.models import GeneratorModel, Image
from webapp.errors import Conflict, InvalidInput
from webapp.jobs.models import ACTIVE_STATUSES, Job, JobType
from webapp.teams.models import Team

DEFAULT_EMBED_STEPS = 100
MAX_EMBED_STEPS = 5000


def validated(serializer_class: type[serializers.Serializer], raw: dict[str, Any]) -> dict[str, Any]:
    """Run a DRF serializer over ``raw``; field errors become one ``InvalidInput`` with details."""
    serializer = serializer_class(data=raw)
    if not serializer.is_valid():
        raise InvalidInput("The job parameters are invalid; see details.", code="invalid_parameters",
                           details=serializer.errors)
    return dict(serializer.validated_data)


def team_object(model: type[Any], team: Team, pk: int, what: str) -> Any:
    """The object ``pk`` of ``model`` in ``team``; ``InvalidInput`` when the team has no such object."""
    obj = model.objects.filter(team=team, pk=pk).first()
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
