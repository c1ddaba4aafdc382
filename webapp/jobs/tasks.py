"""The Celery task that runs a job; the work itself is in ``webapp.jobs.execution``.

``acks_late`` with ``reject_on_worker_lost``: the broker message is acknowledged only after the
job finished, so a job whose worker process dies is delivered again (at once when a pool
child dies; after the broker's visibility timeout when the whole worker dies), and the
re-run is safe because ``execute_job`` claims and stores idempotently.
"""

from __future__ import annotations

from celery import shared_task
from django.conf import settings

RUN_JOB_TASK = "jobs.run_job"


@shared_task(
    name=RUN_JOB_TASK,
    acks_late=True,
    reject_on_worker_lost=True,
    ignore_result=True,
    soft_time_limit=settings.JOBS_SOFT_TIME_LIMIT,
)
def run_job(job_id: int) -> None:
    """Run job ``job_id`` (a no-op when it already finished or was cancelled before it started)."""
    from webapp.jobs.execution import execute_job

    execute_job(job_id)
