"""Running one job on a worker: claim it, compute with the engine, store the result exactly once.

Every state change is a compare-and-set ``UPDATE ... WHERE status = ...``, so two deliveries of
the same job (a redelivery after a worker died, a duplicate message) cannot both claim a
terminal job, both store a result, or overwrite a cancel. The result records and the
``succeeded`` status are written in one transaction: either both exist or neither does.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from editing_engine.errors import EngineError
from webapp import events
from webapp.errors import ServiceError
from webapp.jobs.heartbeat import beating, is_stale
from webapp.jobs.models import ACTIVE_STATUSES, Job, JobStatus
from webapp.jobs.progress import JobHooks
from webapp.jobs.registry import load_runner

if TYPE_CHECKING:
    from webapp.jobs.runner import Runner

logger = logging.getLogger(__name__)


def execute_job(job_id: int) -> None:
    """Run job ``job_id`` to a terminal status, unless it already has one (then do nothing)."""
    from editing_engine.progress import Cancelled

    job = claim_job(job_id)
    if job is None:
        return
    hooks = JobHooks(job)
    runner = None
    try:
        runner = load_runner(job.type)
        if runner.on_start is not None:
            runner.on_start(job)
        with beating(job.pk):
            output = runner.compute(job, hooks)
            hooks.flush()
            complete_job(job, runner.store, output)
    except Cancelled:
        stop_job(job, runner, JobStatus.CANCELLED)
    except Exception as error:
        message = failure_message(error)
        logger.exception("job %s (%s) failed: %s", job.pk, job.type, message)
        stop_job(job, runner, JobStatus.FAILED, message)


def stop_job(job: Job, runner: Runner | None, status: JobStatus, message: str = "") -> None:
    """End a running job as failed or cancelled and let its runner update the object it worked on."""
    if finish_job(job, status, message) and runner is not None and runner.on_stop is not None:
        try:
            runner.on_stop(job, status, message)
        except Exception:
            logger.exception("job %s: could not record its %s status on its object", job.pk, status)


def claim_job(job_id: int) -> Job | None:
    """Mark a queued job, or a running one whose worker is gone, as running and return it.

    None if there is nothing to do: the job finished, was cancelled, ran too often, or is running
    on a live worker (its heartbeat is fresh).
    """
    job = Job.objects.filter(pk=job_id).first()
    if job is None:
        logger.warning("job %s does not exist (deleted before it ran); nothing to do", job_id)
        return None
    if job.is_terminal:
        logger.info("job %s is already %s; not running it again", job.pk, job.status)
        return None
    if job.cancel_requested:
        finish_job(job, JobStatus.CANCELLED)
        return None
    if job.status == JobStatus.RUNNING and not is_stale(job):
        # A duplicate message (a redelivery, or one the sweeper sent) of a job alive elsewhere.
        logger.info("job %s is running on a live worker (heartbeat %s); this delivery does nothing",
                    job.pk, job.heartbeat_at)
        return None
    max_attempts = int(settings.JOBS_MAX_ATTEMPTS)
    if job.attempts >= max_attempts:
        finish_job(
            job,
            JobStatus.FAILED,
            f"The worker running this job stopped {job.attempts} times before it finished "
            f"(limit {max_attempts}); it was not started again.",
        )
        return None
    now = timezone.now()
    claimed = Job.objects.filter(pk=job.pk, status__in=ACTIVE_STATUSES, attempts=job.attempts).update(
        status=JobStatus.RUNNING,
        attempts=F("attempts") + 1,
        started_at=now,
        heartbeat_at=now,
        progress_step=0,
        progress_loss=None,
    )
    if not claimed:
        logger.info("job %s was claimed or finished by someone else meanwhile", job.pk)
        return None
    job.refresh_from_db()
    events.publish_after_commit(job.group_name, events.job_changed(job, "status"))
    return job


def complete_job(job: Job, store: Any, output: Any) -> None:
    """Store the result records and mark the job succeeded in one transaction, at most once per job."""
    with transaction.atomic():
        won = Job.objects.filter(pk=job.pk, status=JobStatus.RUNNING, cancel_requested=False).update(
            status=JobStatus.SUCCEEDED, finished_at=timezone.now()
        )
        if not won:
            job.refresh_from_db()
            if job.cancel_requested and not job.is_terminal:
                from editing_engine.progress import Cancelled

                raise Cancelled("job cancelled after its last step; its result is not stored")
            logger.info("job %s is already %s; its result is not stored again", job.pk, job.status)
            return
        result = store(job, output)
        Job.objects.filter(pk=job.pk).update(result=result)
        job.refresh_from_db()
        events.publish_after_commit(job.group_name, events.job_changed(job, "status"))


def finish_job(job: Job, status: JobStatus, error_message: str = "") -> bool:
    """Move an unfinished job to ``status`` (failed or cancelled) and publish it; False if it had finished."""
    changed = Job.objects.filter(pk=job.pk, status__in=ACTIVE_STATUSES).update(
        status=status, error_message=error_message, finished_at=timezone.now()
    )
    job.refresh_from_db()
    if changed:
        events.publish_after_commit(job.group_name, events.job_changed(job, "status"))
    return bool(changed)


def failure_message(error: BaseException) -> str:
    """The message stored on a failed job: typed engine/service errors as is, anything else with its class."""
    if isinstance(error, ServiceError):
        return error.message
    if isinstance(error, PermissionDenied):
        return f"The requester may no longer do this: {error}"
    if isinstance(error, SoftTimeLimitExceeded):
        return f"The job ran longer than its time limit ({settings.JOBS_SOFT_TIME_LIMIT} s) and was stopped."
    if isinstance(error, EngineError) and str(error):
        return str(error)
    return f"{type(error).__name__}: {error}" if str(error) else type(error).__name__
