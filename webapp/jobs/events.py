"""The job event schema and its publication on the job's channel-layer group.

Every message a client of ``/ws/jobs/<id>/`` receives is built by :func:`job_message`; the
schema is documented in docs/jobs.md ("Event schema"). Workers and web processes publish
through :func:`publish` only, after the database write the event reports has committed.
"""

from __future__ import annotations

import logging
from typing import Any, Literal

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer

from webapp.jobs.models import Job

logger = logging.getLogger(__name__)

MessageType = Literal["snapshot", "progress", "status"]

# The channel-layer event type; Channels dispatches it to ``JobConsumer.job_event``.
LAYER_EVENT_TYPE = "job.event"


def job_message(job: Job, message_type: MessageType) -> dict[str, Any]:
    """The JSON message that tells a client ``job``'s current state (schema in docs/jobs.md)."""
    return {
        "type": message_type,
        "job_id": job.pk,
        "job_type": job.type,
        "status": job.status,
        "step": job.progress_step,
        "total": job.progress_total,
        "loss": job.progress_loss,
        "attempts": job.attempts,
        "error": job.error_message,
        "result": job.result,
        "started_at": job.started_at.isoformat() if job.started_at else None,
        "finished_at": job.finished_at.isoformat() if job.finished_at else None,
    }


def publish(job: Job, message_type: MessageType) -> None:
    """Send ``job``'s state to its group; a channel layer outage is logged, never raised to the job."""
    event = {"type": LAYER_EVENT_TYPE, "message": job_message(job, message_type)}
    try:
        async_to_sync(get_channel_layer().group_send)(job.group_name, event)
    except Exception:
        logger.warning("could not publish %s event of job %s", message_type, job.pk, exc_info=True)
