"""The one event module: group names, typed event payloads, and their publication on the channel layer.

Every publisher (service functions, job execution, render tasks) builds its payload with a
function below and sends it with :func:`publish_after_commit` (events that report a database
write: sent only once it has committed) or :func:`publish_now` (ephemeral events such as
preview frames). Every event travels in the same layer message,
``{"type": "domain.event", "event": <payload>}``, so a consumer subscribes by joining groups and
handles everything in one ``domain_event`` method. docs/protocol.md ("Channel-layer events")
lists the groups and payloads.
"""

from __future__ import annotations

import logging
import uuid
from typing import TYPE_CHECKING, Any, Literal, TypedDict

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction

if TYPE_CHECKING:
    from webapp.annotations.models import AnnotationVersion
    from webapp.editsessions.models import EditSession, StackEntry
    from webapp.jobs.models import Job

logger = logging.getLogger(__name__)

# The layer message type; Channels dispatches it to a consumer's ``domain_event`` method.
LAYER_MESSAGE_TYPE = "domain.event"


def team_group(team_id: int) -> str:
    """The group of team-wide changes (the team's vector library)."""
    return f"team.{team_id}"


def image_group(image_id: int) -> str:
    """The group of an image's annotation changes."""
    return f"image.{image_id}"


def session_group(session_id: int) -> str:
    """The group of an edit session's stack changes."""
    return f"session.{session_id}"


def job_group(job_id: int) -> str:
    """The group of a job's progress and status changes."""
    return f"job.{job_id}"


def user_group(user_id: int) -> str:
    """The group of changes to one user's memberships; every socket of that user joins it."""
    return f"user.{user_id}"


def preview_group() -> str:
    """A new private group for one preview connection's frames."""
    return f"preview.{uuid.uuid4().hex}"


class AnnotationSaved(TypedDict):
    """A new annotation version of an image (group ``image.<id>``)."""

    type: Literal["annotation.saved"]
    image_id: int
    version: int
    version_id: int
    author: str


VectorChange = Literal["vector.created", "vector.updated", "vector.deleted"]


class VectorChanged(TypedDict):
    """A vector of the team's library was created, updated or deleted (group ``team.<id>``)."""

    type: VectorChange
    vector_id: int


class StackChanged(TypedDict):
    """An edit session's stack changed and its revision went up (group ``session.<id>``)."""

    type: Literal["session.stack_changed"]
    session_id: int
    revision: int


class VectorReady(TypedDict):
    """An optimisation job produced the vector of a mask-edit entry (group ``session.<id>``)."""

    type: Literal["session.vector_ready"]
    session_id: int
    entry_id: int
    vector_id: int


class JobChanged(TypedDict):
    """A job's progress (``job.progress``) or status (``job.status``) changed (group ``job.<id>``)."""

    type: Literal["job.progress", "job.status"]
    job_id: int
    job_type: str
    status: str
    step: int
    total: int
    loss: float | None
    attempts: int
    error: str
    result: dict[str, Any]
    started_at: str | None
    finished_at: str | None


class PreviewFrame(TypedDict):
    """A rendered preview frame, PNG bytes included (a connection's ``preview.<hex>`` group)."""

    type: Literal["preview.frame"]
    request_id: str
    seed: int
    psi: float
    width: int
    height: int
    render_ms: float
    png: bytes


class PreviewFailed(TypedDict):
    """A preview render failed on the worker (a connection's ``preview.<hex>`` group)."""

    type: Literal["preview.failed"]
    request_id: str
    message: str


class SessionFrame(TypedDict):
    """A rendered frame of a session's stack at ``revision`` (group ``session.<id>``): PNG bytes,
    and the branch's segmentation as an indexed PNG when a client asked for it."""

    type: Literal["session.frame"]
    session_id: int
    revision: int
    width: int
    height: int
    render_ms: float
    png: bytes
    segmentation_png: bytes | None


class SessionRenderFailed(TypedDict):
    """A session render failed on the worker (group ``session.<id>``)."""

    type: Literal["session.render_failed"]
    session_id: int
    revision: int
    code: str
    message: str


class SessionJobStarted(TypedDict):
    """A participant started a job from the session (group ``session.<id>``); consumers follow it."""

    type: Literal["session.job_started"]
    session_id: int
    job_id: int
    job_type: str
    entry_id: int
    user: str


class JobPreview(TypedDict):
    """An intermediate image of a running edit job (group ``job.<id>``), PNG bytes included."""

    type: Literal["job.preview"]
    job_id: int
    step: int
    total: int
    png: bytes


class Presence(TypedDict):
    """Ephemeral presence of one connection (group ``session.<id>``), never stored.

    ``presence.hello`` asks every other connection to announce itself again (a new joiner),
    ``presence.update`` is a connection's current state, ``presence.leave`` its departure.
    """

    type: Literal["presence.hello", "presence.update", "presence.leave"]
    session_id: int
    client_id: str
    user: str
    colour: str
    role: str
    tool: str
    pointer: list[float] | None


class MembershipChanged(TypedDict):
    """A user's role in a team changed, or they left it (``role`` None), or their account was
    deactivated (``team_id`` and ``role`` None) (group ``user.<id>``).

    Open sockets of the user re-check their access and close when it is gone.
    """

    type: Literal["membership.changed"]
    team_id: int | None
    user_id: int
    role: str | None


Event = (
    MembershipChanged | AnnotationSaved | VectorChanged | StackChanged | VectorReady | JobChanged
    | PreviewFrame | PreviewFailed | SessionFrame | SessionRenderFailed | SessionJobStarted | JobPreview
    | Presence
)


def annotation_saved(version: AnnotationVersion) -> AnnotationSaved:
    """The event of a newly saved annotation version."""
    return AnnotationSaved(
        type="annotation.saved",
        image_id=version.image_id,
        version=version.number,
        version_id=version.pk,
        author=version.author.get_username() if version.author else "",
    )


def membership_changed(team_id: int | None, user_id: int, role: str | None) -> MembershipChanged:
    """The event of a membership created, changed (its new role) or removed (role None), or of a
    deactivated account (team None)."""
    return MembershipChanged(type="membership.changed", team_id=team_id, user_id=user_id, role=role)


def vector_changed(change: VectorChange, vector_id: int) -> VectorChanged:
    """The event of a library vector created, updated or deleted."""
    return VectorChanged(type=change, vector_id=vector_id)


def stack_changed(session: EditSession) -> StackChanged:
    """The event of an edit session's stack change (at its new revision)."""
    return StackChanged(type="session.stack_changed", session_id=session.pk, revision=session.revision)


def vector_ready(entry: StackEntry) -> VectorReady:
    """The event of a mask-edit entry whose result vector has been linked."""
    assert entry.result_vector_id is not None
    return VectorReady(
        type="session.vector_ready",
        session_id=entry.session_id,
        entry_id=entry.pk,
        vector_id=entry.result_vector_id,
    )


def job_changed(job: Job, change: Literal["progress", "status"]) -> JobChanged:
    """The event of ``job``'s current state after its progress or its status changed."""
    return JobChanged(
        type="job.progress" if change == "progress" else "job.status",
        job_id=job.pk,
        job_type=job.type,
        status=job.status,
        step=job.progress_step,
        total=job.progress_total,
        loss=job.progress_loss,
        attempts=job.attempts,
        error=job.error_message,
        result=job.result,
        started_at=job.started_at.isoformat() if job.started_at else None,
        finished_at=job.finished_at.isoformat() if job.finished_at else None,
    )


def publish_now(group: str, event: Event) -> None:
    """Send ``event`` to ``group`` now; a channel-layer outage is logged, never raised into the caller."""
    try:
        async_to_sync(get_channel_layer().group_send)(group, {"type": LAYER_MESSAGE_TYPE, "event": event})
    except Exception:
        logger.warning("could not publish %s to %s", event["type"], group, exc_info=True)


def publish_after_commit(group: str, event: Event) -> None:
    """Publish ``event`` to ``group`` once the current transaction commits (at once outside one)."""
    transaction.on_commit(lambda: publish_now(group, event))


def session_frame(session_id: int, revision: int, png: bytes, segmentation_png: bytes | None, width: int,
                  height: int, render_ms: float) -> SessionFrame:
    """The event of a rendered session frame."""
    return SessionFrame(type="session.frame", session_id=session_id, revision=revision, width=width,
                        height=height, render_ms=render_ms, png=png, segmentation_png=segmentation_png)


def session_render_failed(session_id: int, revision: int, code: str, message: str) -> SessionRenderFailed:
    """The event of a failed session render."""
    return SessionRenderFailed(type="session.render_failed", session_id=session_id, revision=revision,
                               code=code, message=message)


def session_job_started(session_id: int, job: Job, entry_id: int) -> SessionJobStarted:
    """The event of a job started from a session's entry."""
    user = job.requested_by.get_username() if job.requested_by else ""
    return SessionJobStarted(type="session.job_started", session_id=session_id, job_id=job.pk,
                             job_type=job.type, entry_id=entry_id, user=user)


async def publish_from_consumer(group: str, event: Event, layer: Any) -> None:
    """Send ``event`` to ``group`` from async code (a consumer) on ``layer``."""
    await layer.group_send(group, {"type": LAYER_MESSAGE_TYPE, "event": event})


def job_preview(job_id: int, step: int, total: int, png: bytes) -> JobPreview:
    """The event of an intermediate image of a running job."""
    return JobPreview(type="job.preview", job_id=job_id, step=step, total=total, png=png)
