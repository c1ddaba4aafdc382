"""Job service functions: the one place that creates, cancels and looks up jobs for a user.

REST views, the WebSocket consumer and the domain apps' request services call these; what each
job type needs comes from its registered kind (``webapp.jobs.registry``), and permissions from
``webapp.teams.permissions`` and nowhere else.
"""

from __future__ import annotations

import logging
import uuid
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone
from kombu.exceptions import OperationalError

from webapp import events
from webapp.errors import Conflict, InvalidInput, ServiceError
from webapp.jobs.heartbeat import is_stale
from webapp.jobs.models import ACTIVE_STATUSES, Job, JobStatus
from webapp.jobs.recovery import end_abandoned
from webapp.jobs.registry import GPU_QUEUE, get_kind
from webapp.jobs.tasks import run_job
from webapp.teams.models import Team
from webapp.teams.permissions import Action, get_team_object_or_404, require, team_of, visible_to

logger = logging.getLogger(__name__)


class JobLimitError(ServiceError):
    """The team already has as many active GPU jobs as it may (HTTP 429)."""

    status = 429
    code = "job_limit_reached"


def create_job(user: Any, team: Team, job_type: str, parameters: dict[str, Any]) -> Job:
    """Check permission and the team's GPU job limit, record the job, and enqueue it once committed."""
    kind = get_kind(job_type)
    require(user, team, kind.action)
    if not isinstance(parameters, dict):
        raise InvalidInput("Job parameters must be a JSON object.", code="invalid_parameters")
    with transaction.atomic():
        # Lock the team row: concurrent requests of one team are counted one after the other.
        Team.objects.select_for_update().get(pk=team.pk)
        if kind.queue == GPU_QUEUE:
            check_gpu_limit(team)
        job = Job.objects.create(
            team=team,
            requested_by=user,
            type=kind.type,
            queue=kind.queue,
            parameters=kind.prepare(user, team, parameters),
            celery_task_id=str(uuid.uuid4()),
        )
        transaction.on_commit(lambda: enqueue(job))
    return job


def check_gpu_limit(team: Team) -> None:
    """Refuse a new GPU job when the team's queued and running GPU jobs reach the configured limit."""
    limit = int(settings.JOBS_MAX_ACTIVE_GPU_JOBS_PER_TEAM)
    active = Job.objects.filter(team=team, queue=GPU_QUEUE, status__in=ACTIVE_STATUSES).count()
    if active >= limit:
        raise JobLimitError(
            f"Your team already has {active} GPU jobs queued or running (the limit is {limit}); "
            "wait for one to finish or cancel one.",
            details={"limit": limit, "active": active},
        )


def enqueue(job: Job) -> None:
    """Send the job to its Celery queue; a broker outage fails the job with a message instead of losing it."""
    try:
        run_job.apply_async(args=(job.pk,), queue=job.queue, task_id=job.celery_task_id)
    except OperationalError as error:
        logger.error("could not enqueue job %s: %s", job.pk, error)
        failed = Job.objects.filter(pk=job.pk, status=JobStatus.QUEUED).update(
            status=JobStatus.FAILED,
            error_message="The job queue is unreachable, so the job was not started; try again shortly.",
            finished_at=timezone.now(),
        )
        if failed:
            job.refresh_from_db()
            events.publish_after_commit(job.group_name, events.job_changed(job, "status"))


def request_cancel(user: Any, job: Job) -> Job:
    """Cancel a job: a queued one ends ``cancelled`` at once (and its task is revoked), a running one
    gets the cooperative flag its worker checks between steps, or ends at once when its worker is gone
    (stale heartbeat). Cancelling a cancelled job is a no-op; a finished job cannot be cancelled (409)."""
    require(user, team_of(job), get_kind(job.type).action)
    with transaction.atomic():
        was_queued = Job.objects.filter(pk=job.pk, status=JobStatus.QUEUED).update(
            status=JobStatus.CANCELLED, cancel_requested=True, finished_at=timezone.now()
        )
        if not was_queued:
            Job.objects.filter(pk=job.pk, status=JobStatus.RUNNING).update(cancel_requested=True)
        job.refresh_from_db()
        if job.status in (JobStatus.SUCCEEDED, JobStatus.FAILED):
            raise Conflict(f"The job has already {job.status}; there is nothing to cancel.",
                           code="job_finished", details={"status": job.status})
        if was_queued:
            transaction.on_commit(lambda: revoke(job))
            events.publish_after_commit(job.group_name, events.job_changed(job, "status"))
    if job.status == JobStatus.RUNNING and is_stale(job):
        end_abandoned(job, JobStatus.CANCELLED)
    return job


def revoke(job: Job) -> None:
    """Ask the workers to discard the job's queued message (the job's status already makes it a no-op)."""
    from webapp.celery import app

    try:
        app.control.revoke(job.celery_task_id)
    except OperationalError as error:
        logger.warning("could not revoke the task of job %s: %s", job.pk, error)


def jobs_for_viewer(user: Any) -> QuerySet[Job]:
    """The jobs of every team ``user`` is a member of."""
    return visible_to(user, Job.objects.all()).select_related("requested_by")


def job_for_viewer(user: Any, job_id: Any) -> Job:
    """One job the user may see; 404 when it does not exist or belongs to another team."""
    return get_team_object_or_404(user, Job, job_id, Action.VIEW)
