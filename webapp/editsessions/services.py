"""Edit-session changes: create, join, and stack operations checked against the session's revision.

Every stack operation names the revision it was made from; if the stack has moved on since,
it is refused with ``StaleRevision`` (409) so that no participant's change is lost silently.
REST views call these today; the live WebSocket consumers will call the same functions.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.db import transaction

from webapp import events
from webapp.annotations.masks import decode_mask, encode_mask
from webapp.assets import storage
from webapp.assets.models import Image
from webapp.errors import Conflict, InvalidInput
from webapp.library import services as library
from webapp.library.models import EditVector
from webapp.teams.permissions import Action, require

from .models import EditSession, StackEntry


class StaleRevision(Conflict):
    """A stack operation was made from an old revision; ``session`` is the current state."""

    code = "stale_revision"

    def __init__(self, session: EditSession) -> None:
        super().__init__(
            f"The session's stack has changed (now at revision {session.revision}); "
            "reload it and apply your change again."
        )
        self.session = session


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


def _change_stack(
    user: Any, session: EditSession, base_revision: int, change: Callable[[EditSession], None]
) -> EditSession:
    """Apply ``change`` under the session's row lock if ``base_revision`` is current; bump the revision."""
    require(user, session.image.team, Action.EDIT)
    with transaction.atomic():
        locked = EditSession.objects.select_for_update().get(pk=session.pk)
        if locked.revision != base_revision:
            raise StaleRevision(locked)
        change(locked)
        locked.revision += 1
        locked.save(update_fields=["revision", "updated_at"])
        events.publish_after_commit(events.session_group(locked.pk), events.stack_changed(locked))
    session.refresh_from_db()
    return session


def _next_position(session: EditSession) -> int:
    """The position after the stack's last entry."""
    last = session.entries.order_by("-position").values_list("position", flat=True).first()
    return 0 if last is None else last + 1


def add_vector_entry(
    user: Any, session: EditSession, base_revision: int, vector: EditVector, scale: float
) -> EditSession:
    """Push ``vector`` at ``scale``; refused for a vector of another model or a scale out of its range."""
    library.check_applicable(vector, session.image.model, scale)

    def change(locked: EditSession) -> None:
        StackEntry.objects.create(
            session=locked,
            position=_next_position(locked),
            kind=StackEntry.Kind.VECTOR,
            vector=vector,
            scale=scale,
            created_by=user,
        )
        library.record_use(vector)

    return _change_stack(user, session, base_revision, change)


def add_mask_edit_entry(user: Any, session: EditSession, base_revision: int, mask: bytes) -> EditSession:
    """Push an edited part mask (a PNG of label indices, checked like annotations) onto the stack."""
    model = session.image.model
    colours = list(model.labels.order_by("index").values_list("colour", flat=True))
    encoded = encode_mask(decode_mask(mask, model.resolution, len(colours)), colours)
    with storage.new_files() as files:

        def change(locked: EditSession) -> None:
            name = files.write(storage.unique_name(f"teams/{model.team_id}/sessions", ".png"), encoded)
            StackEntry.objects.create(
                session=locked,
                position=_next_position(locked),
                kind=StackEntry.Kind.MASK_EDIT,
                mask=name,
                created_by=user,
            )

        return _change_stack(user, session, base_revision, change)


def set_entry_scale(user: Any, entry: StackEntry, base_revision: int, scale: float) -> EditSession:
    """Change the scale of a vector entry."""
    if entry.kind != StackEntry.Kind.VECTOR or entry.vector is None:
        raise InvalidInput("Only vector entries have a scale.", code="not_a_vector_entry")
    library.check_applicable(entry.vector, entry.session.image.model, scale)

    def change(locked: EditSession) -> None:
        StackEntry.objects.filter(pk=entry.pk).update(scale=scale)

    return _change_stack(user, entry.session, base_revision, change)


def remove_entry(user: Any, entry: StackEntry, base_revision: int) -> EditSession:
    """Remove an entry; the entries after it move up one position."""

    def change(locked: EditSession) -> None:
        mask = entry.mask.name
        entry.delete()
        for position, later in enumerate(locked.entries.order_by("position", "id")):
            if later.position != position:
                StackEntry.objects.filter(pk=later.pk).update(position=position)
        if mask:
            transaction.on_commit(lambda: storage.delete_files([mask]))

    return _change_stack(user, entry.session, base_revision, change)


def attach_result_vector(entry: StackEntry, vector: EditVector) -> StackEntry:
    """Link the vector an optimisation job made from a mask-edit entry (called by the job)."""
    if entry.kind != StackEntry.Kind.MASK_EDIT:
        raise InvalidInput("Only mask edits produce vectors.", code="not_a_mask_edit")
    library.check_applicable(vector, entry.session.image.model, vector.default_scale)
    entry.result_vector = vector
    entry.save(update_fields=["result_vector"])
    events.publish_after_commit(events.session_group(entry.session_id), events.vector_ready(entry))
    return entry


def delete_session(user: Any, session: EditSession) -> None:
    """Delete a session and its mask-edit files (owners and editors)."""
    require(user, session.image.team, Action.EDIT)
    masks = [entry.mask.name for entry in session.entries.all() if entry.mask]
    with transaction.atomic():
        session.delete()
        transaction.on_commit(lambda: storage.delete_files(masks))
