"""The job kinds this deployment can run, registered by the domain apps that own them.

The jobs app is infrastructure (queueing, claiming, progress, cancel, exactly-once results,
events) and knows no job kind itself: each domain app lists its kinds in its own
``job_kinds.py`` and registers them from its ``AppConfig.ready()``. A kind names its queue, the
``webapp.teams.permissions`` action a member needs to request or cancel it, the function that
validates its parameters, and the module of its worker-side runner. This module is imported by
web processes and never loads torch; ``load_runner`` (worker side) imports the runner module,
which imports the engine lazily.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ImproperlyConfigured

from webapp.errors import ServiceError
from webapp.jobs.models import JobType
from webapp.jobs.runner import Runner
from webapp.teams.models import Team
from webapp.teams.permissions import Action

GPU_QUEUE = "gpu"
PREVIEW_QUEUE = "preview"
QUEUES = (GPU_QUEUE, PREVIEW_QUEUE)


class JobTypeUnavailableError(ServiceError):
    """The job type does not exist."""

    status = 400
    code = "job_type_unavailable"


@dataclass(frozen=True)
class JobKind:
    """How one job type is requested and run.

    ``prepare(user, team, raw)`` validates the request's parameters (and may create the pending
    domain record the job will fill, e.g. a sampled image) and returns the JSON parameters
    stored on the job. It runs in ``create_job``'s transaction, after the permission check for
    ``action``. ``runner`` is the dotted name of a worker-side module exposing ``RUNNER``.
    """

    type: str
    queue: str
    action: Action
    prepare: Callable[[Any, Team, dict[str, Any]], dict[str, Any]]
    runner: str


_kinds: dict[str, JobKind] = {}


def register(*kinds: JobKind) -> None:
    """Add job kinds (from a domain app's ``ready()``); a second, different kind of one type is refused."""
    for kind in kinds:
        if kind.type not in JobType.values:
            raise ImproperlyConfigured(f"Job kind {kind.type!r} is not a JobType; add it there first.")
        if kind.queue not in QUEUES:
            raise ImproperlyConfigured(f"Job kind {kind.type!r} names queue {kind.queue!r}, not {QUEUES}.")
        known = _kinds.get(kind.type)
        if known is not None and known != kind:
            raise ImproperlyConfigured(f"Job kind {kind.type!r} is registered twice, differently.")
        _kinds[kind.type] = kind


def registered() -> list[JobKind]:
    """Every registered kind, in ``JobType`` declaration order."""
    return [_kinds[job_type] for job_type in JobType.values if job_type in _kinds]


def available_types() -> list[str]:
    """The job types this deployment can run, in ``JobType`` declaration order."""
    return [kind.type for kind in registered()]


def get_kind(job_type: str) -> JobKind:
    """The kind of ``job_type``; ``JobTypeUnavailableError`` names the available ones otherwise."""
    kind = _kinds.get(job_type)
    if kind is None:
        raise JobTypeUnavailableError(
            f"Job type {job_type!r} is unknown; available: {', '.join(available_types())}.",
            details={"available": available_types()},
        )
    return kind


def load_runner(job_type: str) -> Runner:
    """Import the worker-side runner of ``job_type`` (worker processes only)."""
    module = importlib.import_module(get_kind(job_type).runner)
    runner: Runner = module.RUNNER
    return runner
