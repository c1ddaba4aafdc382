"""The heartbeat of a running job: a worker thread that writes ``Job.heartbeat_at`` while the job runs.

The thread beats every ``JOBS_HEARTBEAT_SECONDS`` whatever the engine is doing (a long step, a
model load, storing the result), so a heartbeat older than ``JOBS_HEARTBEAT_TIMEOUT`` means the
process running the job is gone; the sweeper (``webapp.jobs.recovery``) acts on that.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Iterator
from datetime import datetime, timedelta

from django.conf import settings
from django.db import DatabaseError, connection
from django.utils import timezone

from webapp.jobs.models import Job, JobStatus

logger = logging.getLogger(__name__)


def beat(job_id: int) -> bool:
    """Write the heartbeat of a running job now; False when it is no longer running."""
    return bool(Job.objects.filter(pk=job_id, status=JobStatus.RUNNING).update(heartbeat_at=timezone.now()))


def stale_before(now: datetime | None = None) -> datetime:
    """Heartbeats older than this are of a job whose worker is gone."""
    return (now or timezone.now()) - timedelta(seconds=float(settings.JOBS_HEARTBEAT_TIMEOUT))


def is_stale(job: Job, now: datetime | None = None) -> bool:
    """Whether a running job's last sign of life (heartbeat, else its start) is older than the timeout."""
    seen = job.heartbeat_at or job.started_at
    return seen is None or seen < stale_before(now)


@contextlib.contextmanager
def beating(job_id: int) -> Iterator[None]:
    """Beat for job ``job_id`` in a background thread for as long as the ``with`` block runs."""
    stop = threading.Event()
    interval = float(settings.JOBS_HEARTBEAT_SECONDS)

    def run() -> None:
        try:
            while not stop.wait(interval):
                try:
                    if not beat(job_id):
                        return
                except DatabaseError as error:
                    logger.warning("job %s: could not write its heartbeat: %s", job_id, error)
        finally:
            connection.close()  # the thread's own connection

    thread = threading.Thread(target=run, name=f"job-{job_id}-heartbeat", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()
