"""Edit-session changes: create, join, the revisioned stack operations, and render coalescing.

Every stack operation goes through :func:`apply_stack_operation`, which the REST views, the
session WebSocket consumer and jobs all call. The server is authoritative (as in Figma's
multiplayer): operations are applied one at a time under the session's row lock, each bumps
``revision``, is persisted, and is broadcast (``session.stack_changed``) after commit.

* Each operation names ``base_revision``, the revision its sender had seen, and optionally an
  ``op_id`` chosen by the client; a repeated op id is applied once (the repeat answers with the
  current state and ``duplicate`` set), so a client may resend after a reconnect.
* Property changes (scale, enabled, position) are last-writer-wins per property: they apply
  whatever happened since ``base_revision``, because they do not depend on the rest of the stack.
* A mask edit is painted on the image of ``base_revision``; if the stack has changed since, it
  is refused with ``StaleRevision`` (409) and the client repaints on the current image.
* A base revision newer than the session's is refused (``invalid_revision``).

After every change the session is rendered on the ``preview`` queue, at most one render in
flight per session: :func:`schedule_render` queues one only when none is in flight, the worker
claims the newest state when it starts (:func:`claim_render`) and, when it finishes
(:func:`finish_render`), queues the next one if the revision moved on meanwhile. So however fast
a slider moves, the worker renders about one state per render time, and the last state is
always rendered.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Literal

from django.db import transaction
from django.utils import timezone
from kombu.exceptions import OperationalError

from webapp import events
from webapp.annotations.masks import decode_mask, encode_mask
from webapp.assets import storage
from webapp.assets.models import Image
from webapp.errors import Conflict, InvalidInput, ServiceError
from webapp.library import services as library
from webapp.library.models import EditVector
from webapp.teams.permissions import Action, require

from .models import EditSession, StackEntry, StackOperation
from .vectors import add_session_vector

logger = logging.getLogger(__name__)

OperationKind = Literal["add_vector", "add_mask_edit", "set_scale", "set_enabled", "move", "remove"]
ENTRY_OPERATIONS = frozenset({"set_scale", "set_enabled", "move", "remove"})
MAX_OP_ID_LENGTH = 64
# A render not finished after this long (its worker died) no longer blocks the next one.
RENDER_STALL = timedelta(seconds=30)


class StaleRevision(Conflict):
    """A mask edit was painted on an older image of the stack; ``session`` is the current state."""

    code = "stale_revision"

    def __init__(self, session: EditSession) -> None:
        super().__init__(
            f"The session's stack has changed (now at revision {session.revision}); "
            "reload it and apply your change again."
        )
        self.session = session


class UnknownEntryError(ServiceError):
    """The operation names a stack entry this session does not have (any more)."""

    status = 404
    code = "unknown_entry"


@dataclass(frozen=True)
class StackOperationRequest:
    """One stack operation as a client sent it (fields beyond ``kind`` depend on the kind)."""

    kind: OperationKind
    base_revision: int
    op_id: str | None = None
    entry_id: int | None = None
    vector: EditVector | None = None
    scale: float | None = None
    enabled: bool | None = None
    position: int | None = None
    mask: bytes | None = None


@dataclass(frozen=True)
class AppliedOperation:
    """The result of an operation: the session at its new revision, the entry it touched."""

    session: EditSession
    revision: int
    entry_id: int | None
    duplicate: bool


def create_session(user: Any, image: Image, title: str = "") -> EditSession:
    """Open an edit session on ``image`` (owners and editors); its creator takes part."""
    require(user, image.team, Action.EDIT)
    with transaction.atomic():
        session = EditSession.objects.create(image=image, title=title.strip()[:200], created_by=user)
        session.participants.add(user)
    return session


def join_session(user: Any, session: EditSession) -> EditSession:
    """Take part in (or watch) a session; any team member may."""
    require(user, session.image.team, Action.VIEW)
    session.participants.add(user)
    return session


def apply_stack_operation(
    user: Any, session: EditSession, request: StackOperationRequest
) -> AppliedOperation:
    """Check, apply, persist and broadcast one stack operation (owners and editors); see the module doc."""
    require(user, session.image.team, Action.EDIT)
    _check_request(request)
    model = session.image.model
    encoded_mask = None
    if request.kind == "add_vector":
        assert request.vector is not None
        scale = request.vector.default_scale if request.scale is None else request.scale
        library.check_applicable(request.vector, model, scale)
    if request.kind == "add_mask_edit":
        assert request.mask is not None
        colours = list(model.labels.order_by("index").values_list("colour", flat=True))
        encoded_mask = encode_mask(decode_mask(request.mask, model.resolution, len(colours)), colours)
    with storage.new_files() as files, transaction.atomic():
        locked = EditSession.objects.select_for_update().get(pk=session.pk)
        if request.base_revision > locked.revision:
            raise InvalidInput(
                f"base_revision {request.base_revision} is newer than the session's revision "
                f"{locked.revision}.",
                code="invalid_revision",
                details={"revision": locked.revision},
            )
        if request.op_id and (done := locked.operations.filter(op_id=request.op_id).first()) is not None:
            return AppliedOperation(locked, locked.revision, done.entry_id, duplicate=True)
        if request.kind == "add_mask_edit" and request.base_revision != locked.revision:
            raise StaleRevision(locked)
        entry_id = _change(user, locked, request, files, encoded_mask)
        locked.revision += 1
        schedule_render(locked)
        locked.save(update_fields=["revision", "render_queued_at", "updated_at"])
        if request.op_id:
            StackOperation.objects.create(session=locked, op_id=request.op_id, kind=request.kind,
                                          revision=locked.revision, entry_id=entry_id, user=user)
        events.publish_after_commit(events.session_group(locked.pk), events.stack_changed(locked))
    session.refresh_from_db()
    return AppliedOperation(session, session.revision, entry_id, duplicate=False)


def _check_request(request: StackOperationRequest) -> None:
    """Refuse an operation that lacks the fields its kind needs."""
    if request.base_revision < 0:
        raise InvalidInput("base_revision must be 0 or more.", code="invalid_revision")
    if request.op_id is not None and not 0 < len(request.op_id) <= MAX_OP_ID_LENGTH:
        raise InvalidInput(f"op_id must be 1 to {MAX_OP_ID_LENGTH} characters.", code="invalid_op_id")
    needs = {
        "add_vector": request.vector is not None,
        "add_mask_edit": request.mask is not None,
        "set_scale": request.scale is not None,
        "set_enabled": request.enabled is not None,
        "move": request.position is not None,
        "remove": True,
    }
    if request.kind not in needs:
        raise InvalidInput(f"Unknown stack operation {request.kind!r}.", code="unknown_operation")
    if not needs[request.kind] or (request.kind in ENTRY_OPERATIONS and request.entry_id is None):
        raise InvalidInput(f"The {request.kind} operation is missing a field.", code="invalid_operation")


def _change(user: Any, locked: EditSession, request: StackOperationRequest, files: storage.NewFiles,
            encoded_mask: bytes | None) -> int | None:
    """Make the operation's change to the locked session's entries; the id of the entry it touched."""
    if request.kind == "add_vector":
        assert request.vector is not None
        scale = request.vector.default_scale if request.scale is None else request.scale
        added = StackEntry.objects.create(session=locked, position=_next_position(locked),
                                          kind=StackEntry.Kind.VECTOR, vector=request.vector, scale=scale,
                                          created_by=user)
        library.record_use(request.vector)
        return added.pk
    if request.kind == "add_mask_edit":
        assert encoded_mask is not None
        folder = f"teams/{locked.image.team_id}/sessions"
        name = files.write(storage.unique_name(folder, ".png"), encoded_mask)
        added = StackEntry.objects.create(session=locked, position=_next_position(locked),
                                          kind=StackEntry.Kind.MASK_EDIT, mask=name, created_by=user)
        return added.pk
    assert request.entry_id is not None
    entry = locked.entries.select_related("vector__model").filter(pk=request.entry_id).first()
    if entry is None:
        raise UnknownEntryError(
            f"This session has no stack entry {request.entry_id} (it may have been removed).",
            details={"entry": request.entry_id},
        )
    if request.kind == "set_scale":
        if entry.kind != StackEntry.Kind.VECTOR or entry.vector is None:
            raise InvalidInput("Only vector entries have a scale.", code="not_a_vector_entry")
        assert request.scale is not None
        library.check_applicable(entry.vector, locked.image.model, request.scale)
        StackEntry.objects.filter(pk=entry.pk).update(scale=request.scale)
    elif request.kind == "set_enabled":
        StackEntry.objects.filter(pk=entry.pk).update(enabled=bool(request.enabled))
    elif request.kind == "move":
        assert request.position is not None
        _move(locked, entry, request.position)
    else:
        _remove(locked, entry)
    return entry.pk


def _next_position(session: EditSession) -> int:
    """The position after the stack's last entry."""
    last = session.entries.order_by("-position").values_list("position", flat=True).first()
    return 0 if last is None else last + 1


def _renumber(ordered: list[StackEntry]) -> None:
    """Store positions 0, 1, 2 ... in the given order."""
    for position, entry in enumerate(ordered):
        if entry.position != position:
            StackEntry.objects.filter(pk=entry.pk).update(position=position)


def _move(locked: EditSession, entry: StackEntry, position: int) -> None:
    """Put ``entry`` at ``position`` (clamped to the stack), the others keeping their order."""
    others = [e for e in locked.entries.order_by("position", "id") if e.pk != entry.pk]
    position = max(0, min(position, len(others)))
    _renumber([*others[:position], entry, *others[position:]])


def _remove(locked: EditSession, entry: StackEntry) -> None:
    """Delete ``entry`` (and, after commit, its mask file); the entries after it move up."""
    mask = entry.mask.name
    entry.delete()
    _renumber(list(locked.entries.order_by("position", "id")))
    if mask:
        transaction.on_commit(lambda: storage.delete_files([mask]))


def add_vector_entry(user: Any, session: EditSession, base_revision: int, vector: EditVector,
                     scale: float | None = None, *, op_id: str | None = None) -> EditSession:
    """Push ``vector`` at ``scale`` (default: its default scale); refused for another model's vector."""
    request = StackOperationRequest("add_vector", base_revision, op_id, vector=vector, scale=scale)
    return apply_stack_operation(user, session, request).session


def add_mask_edit_entry(user: Any, session: EditSession, base_revision: int, mask: bytes, *,
                        op_id: str | None = None) -> EditSession:
    """Push an edited part mask (a PNG of label indices, checked like annotations) onto the stack."""
    request = StackOperationRequest("add_mask_edit", base_revision, op_id, mask=mask)
    return apply_stack_operation(user, session, request).session


def set_entry_scale(user: Any, entry: StackEntry, base_revision: int, scale: float, *,
                    op_id: str | None = None) -> EditSession:
    """Change the scale of a vector entry (within the vector's allowed range)."""
    request = StackOperationRequest("set_scale", base_revision, op_id, entry_id=entry.pk, scale=scale)
    return apply_stack_operation(user, entry.session, request).session


def set_entry_enabled(user: Any, entry: StackEntry, base_revision: int, enabled: bool, *,
                      op_id: str | None = None) -> EditSession:
    """Enable or disable an entry (a disabled entry stays in the stack but is not applied)."""
    request = StackOperationRequest("set_enabled", base_revision, op_id, entry_id=entry.pk, enabled=enabled)
    return apply_stack_operation(user, entry.session, request).session


def move_entry(user: Any, entry: StackEntry, base_revision: int, position: int, *,
               op_id: str | None = None) -> EditSession:
    """Move an entry to ``position`` in the stack."""
    request = StackOperationRequest("move", base_revision, op_id, entry_id=entry.pk, position=position)
    return apply_stack_operation(user, entry.session, request).session


def remove_entry(
    user: Any, entry: StackEntry, base_revision: int, *, op_id: str | None = None
) -> EditSession:
    """Remove an entry; the entries after it move up one position."""
    request = StackOperationRequest("remove", base_revision, op_id, entry_id=entry.pk)
    return apply_stack_operation(user, entry.session, request).session


def attach_result_vector(entry: StackEntry, vector: EditVector) -> StackEntry:
    """Link the vector an optimisation job made from a mask-edit entry (called by the job).

    The rendered image changes (the mask edit now counts, at scale 1), so the revision goes up.
    """
    if entry.kind != StackEntry.Kind.MASK_EDIT:
        raise InvalidInput("Only mask edits produce vectors.", code="not_a_mask_edit")
    library.check_applicable(vector, entry.session.image.model, vector.default_scale)
    with transaction.atomic():
        locked = EditSession.objects.select_for_update().get(pk=entry.session_id)
        entry.result_vector = vector
        entry.save(update_fields=["result_vector"])
        locked.revision += 1
        schedule_render(locked)
        locked.save(update_fields=["revision", "render_queued_at", "updated_at"])
        events.publish_after_commit(events.session_group(locked.pk), events.vector_ready(entry))
        events.publish_after_commit(events.session_group(locked.pk), events.stack_changed(locked))
    return entry


def delete_session(user: Any, session: EditSession) -> None:
    """Delete a session and its mask-edit files (owners and editors)."""
    require(user, session.image.team, Action.EDIT)
    masks = [entry.mask.name for entry in session.entries.all() if entry.mask]
    with transaction.atomic():
        session.delete()
        transaction.on_commit(lambda: storage.delete_files(masks))


def schedule_render(locked: EditSession) -> bool:
    """Mark a render of ``locked`` (row-locked, saved by the caller) as queued unless one is in flight.

    The task is sent after commit; returns whether one was queued (False: the render in flight
    will pick up the newest state when it finishes).
    """
    now = timezone.now()
    if locked.render_queued_at is not None and now - locked.render_queued_at < RENDER_STALL:
        return False
    locked.render_queued_at = now
    session_id = locked.pk
    transaction.on_commit(lambda: _enqueue_render(session_id))
    return True


def _enqueue_render(session_id: int) -> None:
    """Send the render task; an unreachable broker clears the mark so the next change retries."""
    from .tasks import render_session

    try:
        render_session.apply_async(args=(session_id,), queue="preview")
    except OperationalError as error:
        logger.warning("could not queue the render of session %s: %s", session_id, error)
        EditSession.objects.filter(pk=session_id).update(render_queued_at=None)


def request_render(user: Any, session: EditSession, segmentation: bool = False) -> bool:
    """Ask for a render of the current state (any member; e.g. a client that (re)connects).

    With ``segmentation`` the next frame also carries the branch's segmentation. Returns whether
    a render was queued now (False: one is in flight and the next one will include the request).
    """
    require(user, session.image.team, Action.VIEW)
    with transaction.atomic():
        locked = EditSession.objects.select_for_update().get(pk=session.pk)
        if segmentation:
            locked.segmentation_requested = True
        queued = schedule_render(locked)
        # The render in flight may have read its state before this request: render again after it.
        locked.render_requested = not queued
        locked.save(update_fields=["render_queued_at", "segmentation_requested", "render_requested"])
    return queued


@dataclass(frozen=True)
class RenderState:
    """What one render of a session needs, read from the database (no torch)."""

    session_id: int
    revision: int
    model_id: int
    model_path: str
    weights_hash: str
    latent_path: str
    vectors: tuple[tuple[str, float], ...]
    segmentation: bool


def claim_render(session_id: int) -> RenderState | None:
    """The newest state of a session for the render that is starting (worker side); None if deleted."""
    with transaction.atomic():
        locked = EditSession.objects.select_for_update().filter(pk=session_id).first()
        if locked is None:
            return None
        segmentation, locked.segmentation_requested = locked.segmentation_requested, False
        locked.render_requested = False
        locked.save(update_fields=["segmentation_requested", "render_requested"])
        stack = applied_stack(locked)
        image = locked.image
        model = image.model
        return RenderState(
            session_id=locked.pk,
            revision=locked.revision,
            model_id=model.pk,
            model_path=model.path,
            weights_hash=model.weights_hash,
            # Local copies: media storage may be a bucket (webapp/assets/storage.py).
            latent_path=str(storage.local_copy(image.latent.name)) if image.latent else "",
            vectors=tuple((str(storage.local_copy(v.vector.name)), scale) for v, scale in stack.vectors),
            segmentation=segmentation,
        )


def finish_render(session_id: int, revision: int, rendered: bool) -> bool:
    """Record a finished render (worker side); queue the next one if the state moved on meanwhile.

    Returns whether another render was queued.
    """
    with transaction.atomic():
        locked = EditSession.objects.select_for_update().filter(pk=session_id).first()
        if locked is None:
            return False
        locked.render_queued_at = None
        if rendered:
            locked.rendered_revision = max(locked.rendered_revision, revision)
        again = locked.revision > revision or locked.segmentation_requested or locked.render_requested
        if again:
            schedule_render(locked)
        locked.save(update_fields=["render_queued_at", "rendered_revision"])
    return again


SESSION_JOB_TYPES = ("optimize_edit", "refine")


def start_session_job(user: Any, session: EditSession, job_type: str, entry_id: int, steps: int | None = None,
                      name: str = "") -> Any:
    """Start an optimisation (of a mask edit) or a refinement (of a vector entry) from the session.

    Permissions and parameters are the jobs service's; the job is announced on the session's
    group (``session.job_started``) so every participant follows its progress.
    """
    from webapp.jobs import services as jobs

    require(user, session.image.team, Action.MANAGE_LIBRARY)
    if job_type not in SESSION_JOB_TYPES:
        raise InvalidInput(f"Sessions start {' or '.join(SESSION_JOB_TYPES)} jobs.", code="invalid_job_type")
    if not session.entries.filter(pk=entry_id).exists():
        raise UnknownEntryError(f"This session has no stack entry {entry_id}.", details={"entry": entry_id})
    parameters: dict[str, Any] = {"entry": entry_id, "name": name}
    if steps is not None:
        parameters["steps"] = steps
    with transaction.atomic():
        job = jobs.create_job(user, session.image.team, job_type, parameters)
        events.publish_after_commit(events.session_group(session.pk),
                                    events.session_job_started(session.pk, job, entry_id))
    return job


def active_session_jobs(session: EditSession) -> list[Any]:
    """The queued and running jobs started from this session's entries (oldest first)."""
    from webapp.jobs.models import ACTIVE_STATUSES, Job

    entries = list(session.entries.values_list("pk", flat=True))
    jobs = Job.objects.filter(team=session.image.team, type__in=SESSION_JOB_TYPES, status__in=ACTIVE_STATUSES)
    return [job for job in jobs.order_by("pk") if job.parameters.get("entry") in entries]


def save_stack_as_vector(user: Any, session: EditSession, name: str, description: str = "",
                         tags: list[str] | None = None) -> EditVector:
    """Add the sum of the session's applied edits (``sum(scale_i * delta_i)``) to the library as one vector.

    Owners and editors; the vector's provenance names the session, its revision and its entries.
    """
    import json

    import numpy as np
    from django.utils import timezone as clock
    from safetensors.numpy import save as save_safetensors

    from editing_engine.formats import METADATA_KEY, VECTOR_FORMAT, read_vector

    require(user, session.image.team, Action.MANAGE_LIBRARY)
    state = applied_stack(session)
    if not state.vectors:
        raise InvalidInput("The stack applies no vector yet; there is nothing to save.", code="empty_stack")
    model = session.image.model
    shape = (model.num_ws, model.w_dim)
    total = np.zeros(shape, dtype=np.float32)
    labels: set[int] = set()
    for vector, scale in state.vectors:
        with vector.vector.open("rb") as stored:
            total += np.float32(scale) * read_vector(stored.read(), model.weights_hash, shape).array
        labels.update(vector.labels.values_list("index", flat=True))
    names = dict(model.labels.values_list("index", "name"))
    metadata = {
        "format": VECTOR_FORMAT, "model_hash": model.weights_hash, "model_id": str(model.pk), "name": name,
        "w_plus_shape": list(shape), "labels": sorted(labels),
        "label_names": [names[i] for i in sorted(labels)],
        "source": {"session": session.pk, "revision": state.revision, "image": session.image_id,
                   "stack": [{"vector": vector.pk, "scale": scale} for vector, scale in state.vectors]},
        "created_at": clock.now().isoformat(timespec="seconds"), "delta_norm": float(np.linalg.norm(total)),
    }
    data = save_safetensors({"delta": total}, metadata={METADATA_KEY: json.dumps(metadata, sort_keys=True)})
    return add_session_vector(user, session, data, name, description=description, tags=tags or [],
                              label_indices=sorted(labels))


@dataclass(frozen=True)
class AppliedStack:
    """The library vectors a session's stack applies now, in order, with their scales."""

    revision: int
    vectors: tuple[tuple[EditVector, float], ...]


def applied_stack(session: EditSession) -> AppliedStack:
    """What the stack applies: enabled entries in order, vector entries at their scales and mask
    edits through the vector optimised from them at scale 1 (a mask edit without one changes nothing)."""
    session.refresh_from_db(fields=["revision"])
    vectors = []
    entries = session.entries.filter(enabled=True).select_related("vector", "result_vector")
    for entry in entries.order_by("position", "id"):
        if entry.vector is not None:
            vectors.append((entry.vector, float(entry.scale or 0.0)))
        elif entry.result_vector is not None:
            vectors.append((entry.result_vector, 1.0))
    return AppliedStack(session.revision, tuple(vectors))
