"""The job types this deployment can run, and what each needs: queue, permission, parameters, runner.

Every ``JobType`` has a kind in ``KINDS``, wired to its runner module
``webapp.jobs.runners.<type>``; any other type is refused by ``create_job`` with
``job_type_unavailable``. This module is imported by web processes and never loads torch;
``load_runner`` (worker side) imports the runner module, which imports the engine lazily.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from webapp.errors import ServiceError
from webapp.jobs import parameters
from webapp.jobs.models import JobType
from webapp.teams.models import Team

if TYPE_CHECKING:
    from webapp.jobs.runners import Runner

GPU_QUEUE = "gpu"
PREVIEW_QUEUE = "preview"


class JobTypeUnavailableError(ServiceError):
    """The job type does not exist."""

    status = 400
    code = "job_type_unavailable"


@dataclass(frozen=True)
class JobKind:
    """How one job type is requested and run.

    ``prepare(user, team, raw)`` validates the request's parameters (and may create the pending
    domain record the job will fill, e.g. a sampled image) and returns the JSON parameters
    stored on the job. It runs in ``create_job``'s transaction, after the permission check.
    """

    type: JobType
    queue: str
    prepare: Callable[[Any, Team, dict[str, Any]], dict[str, Any]]

    @property
    def runner(self) -> str:
        """The module of the worker-side runner: ``webapp.jobs.runners.<type>``."""
        return f"webapp.jobs.runners.{self.type}"


KINDS: dict[str, JobKind] = {
    kind.type: kind
    for kind in (
        JobKind(JobType.EMBED_IMAGE, GPU_QUEUE, parameters.prepare_embed_image),
        JobKind(JobType.TRAIN_BRANCH, GPU_QUEUE, parameters.prepare_train_branch),
        JobKind(JobType.OPTIMIZE_EDIT, GPU_QUEUE, parameters.prepare_optimize_edit),
        JobKind(JobType.REFINE, GPU_QUEUE, parameters.prepare_refine),
        JobKind(JobType.PREDICT_MASK, PREVIEW_QUEUE, parameters.prepare_predict_mask),
        JobKind(JobType.RENDER, PREVIEW_QUEUE, parameters.prepare_render),
        JobKind(JobType.SCORE_UNCERTAINTY, GPU_QUEUE, parameters.prepare_score_uncertainty),
        JobKind(JobType.IMPORT_MODEL, GPU_QUEUE, parameters.prepare_import_model),
    )
}


def available_types() -> list[str]:
    """The job types this deployment can run, in ``JobType`` declaration order."""
    return [job_type for job_type in JobType.values if job_type in KINDS]


def get_kind(job_type: str) -> JobKind:
    """The kind of ``job_type``; ``JobTypeUnavailableError`` names the available ones otherwise."""
    kind = KINDS.get(job_type)
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
