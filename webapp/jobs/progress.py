"""Worker-side callbacks handed to the engine: throttled progress writes and the cooperative cancel check.

The engine calls ``progress(step, total, loss)`` after every step and ``should_cancel()`` before
every step. Steps can take microseconds on a tiny model or seconds on a large one, so both
callbacks are throttled: progress is written to the database and published to the job's group
every ``JOBS_PROGRESS_EVERY_STEPS`` steps, when ``JOBS_PROGRESS_EVERY_SECONDS`` have passed, and
at the last step; the cancel flag is read from the database at most every
``JOBS_CANCEL_POLL_SECONDS``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from django.conf import settings

from webapp import events
from webapp.jobs.models import Job, JobStatus

# Edit jobs publish an intermediate image every this many steps (and at the last one).
PREVIEW_EVERY_STEPS = 5


class JobHooks:
    """The ``progress`` and ``should_cancel`` callbacks of one running job."""

    def __init__(self, job: Job, clock: Callable[[], float] = time.monotonic) -> None:
        self.job = job
        self.clock = clock
        self.every_steps = max(1, int(settings.JOBS_PROGRESS_EVERY_STEPS))
        self.every_seconds = float(settings.JOBS_PROGRESS_EVERY_SECONDS)
        self.cancel_poll_seconds = float(settings.JOBS_CANCEL_POLL_SECONDS)
        self.written_step = job.progress_step
        self.written_at = clock()
        self.polled_at: float | None = None
        self.cancel_seen = False

    def progress(self, step: int, total: int, loss: float) -> None:
        """Record step ``step`` of ``total``; write and publish it when the throttle allows."""
        self.job.progress_step, self.job.progress_total, self.job.progress_loss = step, total, float(loss)
        steps_since = step - self.written_step
        due = (
            step >= total
            or steps_since >= self.every_steps
            or (steps_since > 0 and self.clock() - self.written_at >= self.every_seconds)
        )
        if due:
            self.flush()

    def flush(self) -> None:
        """Write the latest progress to the job row (while it runs) and publish a ``progress`` event."""
        Job.objects.filter(pk=self.job.pk, status=JobStatus.RUNNING).update(
            progress_step=self.job.progress_step,
            progress_total=self.job.progress_total,
            progress_loss=self.job.progress_loss,
        )
        self.written_step = self.job.progress_step
        self.written_at = self.clock()
        events.publish_after_commit(self.job.group_name, events.job_changed(self.job, "progress"))

    def preview(self, step: int, image: Any) -> None:
        """Publish every ``PREVIEW_EVERY_STEPS``-th step's image ``[1, 3, R, R]`` (a tensor) as a PNG."""
        if step % PREVIEW_EVERY_STEPS and step != self.job.progress_total:
            return
        from editing_engine.generator import to_uint8_image
        from editing_engine.rendering import encode_png

        png = encode_png(to_uint8_image(image[0]))
        preview = events.job_preview(self.job.pk, step, self.job.progress_total, png)
        events.publish_now(self.job.group_name, preview)

    def should_cancel(self) -> bool:
        """Whether a cancel was requested for the job; reads the flag at most every poll interval."""
        if self.cancel_seen:
            return True
        now = self.clock()
        if self.polled_at is None or now - self.polled_at >= self.cancel_poll_seconds:
            self.polled_at = now
            self.cancel_seen = Job.objects.filter(pk=self.job.pk, cancel_requested=True).exists()
        return self.cancel_seen
