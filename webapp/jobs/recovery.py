"""Finding lost jobs and ending or re-running them: the sweeper's work (``manage.py sweep_jobs``).

Two ways a job gets lost, each fixed here:

* **running, worker gone**: its heartbeat (``webapp.jobs.heartbeat``) is older than
  ``JOBS_HEARTBEAT_TIMEOUT``. It is queued and enqueued again (a fresh start, the next attempt),
  or failed once it has used ``JOBS_MAX_ATTEMPTS``; a job whose cancel was requested is cancelled.
* **queued, no message**: queued for longer than the timeout while the broker holds no message
  for it (its message was consumed by a claim that failed, e.g. with the database unreachable, or
  lost in a Redis restart). It is enqueued again.

Every change is a compare-and-set on the job row, so a sweeper racing a worker (or another
sweeper) changes a job at most once; a message sent twice is harmless (a job running on a live
worker ignores a second delivery).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime

import redis
from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from webapp import events
from webapp.jobs.execution import stop_job
from webapp.jobs.heartbeat import stale_before
from webapp.jobs.models import Job, JobStatus
from webapp.jobs.registry import load_runner

logger = logging.getLogger(__name__)

# Kombu's Redis transport: one list per queue and priority level, and a hash of delivered messages
# that are not acknowledged yet (a running late-acknowledged job's message is there).
PRIORITY_SEPARATOR = "\x06\x16"
UNACKED_KEY = "unacked"


@dataclass
class SweepReport:
    """What one sweep did, by job id."""

    requeued: list[int] = field(default_factory=list)
    failed: list[int] = field(default_factory=list)
    cancelled: list[int] = field(default_factory=list)
    resent: list[int] = field(default_factory=list)


def lost_message(job: Job) -> str:
    """The failure message of a job whose worker stopped answering too often."""
    return (f"The worker running this job stopped responding {job.attempts} times (no heartbeat for "
            f"{settings.JOBS_HEARTBEAT_TIMEOUT:.0f} s); it was not started again.")


def end_abandoned(job: Job, status: JobStatus, message: str = "") -> bool:
    """End a running job whose worker is gone (failed or cancelled), tidying its object as a worker would."""
    try:
        runner = load_runner(job.type)
    except Exception:
        logger.exception("job %s: no runner for type %s", job.pk, job.type)
        runner = None
    stop_job(job, runner, status, message)
    job.refresh_from_db()
    return job.status == status


def requeue(job: Job) -> bool:
    """Put a running job whose worker is gone back in its queue for another attempt."""
    moved = Job.objects.filter(pk=job.pk, status=JobStatus.RUNNING, attempts=job.attempts).update(
        status=JobStatus.QUEUED, heartbeat_at=timezone.now(), progress_step=0, progress_loss=None
    )
    if moved:
        job.refresh_from_db()
        events.publish_now(job.group_name, events.job_changed(job, "status"))
        resend(job)
    return bool(moved)


def resend(job: Job) -> None:
    """Send the job's message to its queue again (the job row says whether it still needs running)."""
    from webapp.jobs.services import enqueue

    Job.objects.filter(pk=job.pk, status=JobStatus.QUEUED).update(heartbeat_at=timezone.now())
    enqueue(job)


def broker_task_ids(queues: Iterable[str]) -> set[str] | None:
    """Ids of the tasks the Redis broker holds (queued or delivered, not acknowledged); None if unknown."""
    url = str(settings.CELERY_BROKER_URL)
    if not url.startswith(("redis://", "rediss://")):
        return None
    try:
        client = redis.Redis.from_url(url, socket_timeout=5)
        raw: list[bytes | str] = []
        for queue in queues:
            for key in [queue, *(f"{queue}{PRIORITY_SEPARATOR}{level}" for level in range(1, 10))]:
                raw.extend(client.lrange(key, 0, -1))
        unacked = [json.loads(value)[0] for value in client.hvals(UNACKED_KEY)]
    except (redis.RedisError, ValueError, IndexError) as error:
        logger.warning("cannot read the broker's messages: %s", error)
        return None
    messages = [json.loads(value) for value in raw] + unacked
    return {str(message.get("headers", {}).get("id")) for message in messages if isinstance(message, dict)}


def sweep(now: datetime | None = None,
          live_task_ids: Callable[[Iterable[str]], set[str] | None] = broker_task_ids) -> SweepReport:
    """Recover every lost job once (see the module docstring); returns what was done."""
    report = SweepReport()
    deadline = stale_before(now)
    seen_before = Q(heartbeat_at__lt=deadline) | Q(heartbeat_at__isnull=True, started_at__lt=deadline)
    for job in Job.objects.filter(seen_before, status=JobStatus.RUNNING):
        recover_running(job, report)
    queued = list(Job.objects.filter(Q(heartbeat_at__lt=deadline) | Q(heartbeat_at__isnull=True),
                                     status=JobStatus.QUEUED, created_at__lt=deadline))
    if queued:
        live = live_task_ids({job.queue for job in queued})
        for job in queued:
            if live is not None and job.celery_task_id not in live:
                logger.warning("job %s (%s): queued with no broker message; sent again", job.pk, job.type)
                resend(job)
                report.resent.append(job.pk)
    return report


def recover_running(job: Job, report: SweepReport) -> None:
    """Cancel, fail or re-run one running job whose heartbeat stopped."""
    if job.cancel_requested:
        if end_abandoned(job, JobStatus.CANCELLED):
            logger.warning("job %s (%s): worker gone while cancelling; cancelled", job.pk, job.type)
            report.cancelled.append(job.pk)
    elif job.attempts >= int(settings.JOBS_MAX_ATTEMPTS):
        if end_abandoned(job, JobStatus.FAILED, lost_message(job)):
            logger.warning("job %s (%s): worker gone, attempt %s of %s; failed", job.pk, job.type,
                           job.attempts, settings.JOBS_MAX_ATTEMPTS)
            report.failed.append(job.pk)
    else:
        last_seen = job.heartbeat_at or job.started_at
        if requeue(job):
            logger.warning("job %s (%s): worker gone (last heartbeat %s); queued again for attempt %s of %s",
                           job.pk, job.type, last_seen, job.attempts + 1, settings.JOBS_MAX_ATTEMPTS)
            report.requeued.append(job.pk)
