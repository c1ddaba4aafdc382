"""Shared helpers for the job kinds' parameter checks, run in ``create_job`` before the job exists.

Each domain app's ``job_kinds.py`` checks its kinds' JSON with these: field errors become one
400, ids resolve within the requesting team only (objects of other teams are "not found",
never revealed), and ``active_jobs_on`` finds work already under way on the same object.
"""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from webapp.errors import InvalidInput
from webapp.jobs.models import ACTIVE_STATUSES, Job
from webapp.teams.models import Team


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


def active_jobs_on(team: Team, job_type: str, parameter: str, value: int) -> list[int]:
    """Ids of the team's queued or running jobs of ``job_type`` whose ``parameter`` is ``value``."""
    jobs = Job.objects.filter(team=team, type=job_type, status__in=ACTIVE_STATUSES)
    return [job.pk for job in jobs if job.parameters.get(parameter) == value]
