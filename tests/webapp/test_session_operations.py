"""Revisioned stack operations (last writer wins per property, idempotent op ids) and render coalescing."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from tests.webapp.factories import RESOLUTION, mask_png, vector_bytes
from webapp.editsessions import services as sessions
from webapp.editsessions.models import EditSession, StackEntry
from webapp.editsessions.services import StackOperationRequest as Op
from webapp.errors import InvalidInput
from webapp.library import services as library
from webapp.teams.models import Role

pytestmark = pytest.mark.django_db


@pytest.fixture
def lab(make_user: Any, make_team: Any, make_model: Any, make_image: Any, monkeypatch: Any) -> Any:
    """An editor, a second editor, a session with one vector entry; render tasks are recorded, not sent."""
    editor, other = make_user("editor"), make_user("other")
    team = make_team("Lab", {editor: Role.OWNER, other: Role.EDITOR})
    model = make_model(team)
    vector = library.create_edit_vector(editor, model, vector_bytes(model), "smile")
    session = sessions.create_session(editor, make_image(model))
    queued: list[int] = []
    monkeypatch.setattr(sessions, "_enqueue_render", queued.append)
    session = sessions.add_vector_entry(editor, session, 0, vector, 1.0)
    return {"editor": editor, "other": other, "session": session, "vector": vector,
            "entry": session.entries.get(), "queued": queued}


def apply(lab: Any, op: Op, user: str = "editor") -> sessions.AppliedOperation:
    """Apply ``op`` to the lab's session, running the after-commit callbacks."""
    return sessions.apply_stack_operation(lab[user], EditSession.objects.get(), op)


def test_property_changes_are_last_writer_wins_whatever_their_base(lab: Any) -> None:
    entry = lab["entry"].pk
    apply(lab, Op("set_scale", 1, entry_id=entry, scale=0.5))
    apply(lab, Op("set_enabled", 1, entry_id=entry, enabled=False), "other")
    last = apply(lab, Op("set_scale", 1, entry_id=entry, scale=-1.5), "other")

    stored = StackEntry.objects.get(pk=entry)
    assert (stored.scale, stored.enabled) == (-1.5, False)
    assert last.revision == 4 and not last.duplicate


def test_a_repeated_op_id_is_applied_once(lab: Any) -> None:
    first = apply(lab, Op("add_vector", 1, "client-1:7", vector=lab["vector"], scale=0.25))
    again = apply(lab, Op("add_vector", 1, "client-1:7", vector=lab["vector"], scale=0.25))

    assert again.duplicate and again.entry_id == first.entry_id and again.revision == first.revision == 2
    assert StackEntry.objects.count() == 2


def test_move_reorders_and_remove_closes_the_gap(lab: Any) -> None:
    second = apply(lab, Op("add_vector", 1, vector=lab["vector"], scale=0.1)).entry_id
    third = apply(lab, Op("add_vector", 2, vector=lab["vector"], scale=0.2)).entry_id
    apply(lab, Op("move", 3, entry_id=third, position=0))
    assert list(StackEntry.objects.order_by("position").values_list("pk", flat=True)) == [
        third, lab["entry"].pk, second]

    apply(lab, Op("remove", 4, entry_id=lab["entry"].pk))
    order = StackEntry.objects.order_by("position").values_list("pk", "position")
    assert list(order) == [(third, 0), (second, 1)]


@pytest.mark.parametrize(
    ("op", "code"),
    [
        (Op("set_scale", 1, entry_id=999, scale=1.0), "unknown_entry"),
        (Op("set_scale", 1, entry_id=None, scale=1.0), "invalid_operation"),
        (Op("set_scale", 7, entry_id=0, scale=1.0), "invalid_revision"),
        (Op("set_scale", -1, entry_id=0, scale=1.0), "invalid_revision"),
        (Op("set_scale", 1, "x" * 65, entry_id=0, scale=1.0), "invalid_op_id"),
        (Op("move", 1, entry_id=0), "invalid_operation"),
    ],
    ids=["unknown-entry", "no-entry", "future-revision", "negative-revision", "long-op-id", "no-position"],
)
def test_malformed_operations_change_nothing(lab: Any, op: Op, code: str) -> None:
    if op.entry_id == 0:
        op = Op(op.kind, op.base_revision, op.op_id, entry_id=lab["entry"].pk, scale=op.scale)
    with pytest.raises(sessions.ServiceError) as refused:
        apply(lab, op)
    assert refused.value.code == code
    assert EditSession.objects.get().revision == 1 and StackEntry.objects.get().scale == 1.0


def test_a_scale_outside_the_range_changes_nothing(lab: Any) -> None:
    with pytest.raises(InvalidInput, match="outside"):
        apply(lab, Op("set_scale", 1, entry_id=lab["entry"].pk, scale=2.5))
    assert EditSession.objects.get().revision == 1


def test_a_mask_edit_must_be_painted_on_the_current_revision(lab: Any) -> None:
    mask = mask_png(np.ones((RESOLUTION, RESOLUTION)))
    with pytest.raises(sessions.StaleRevision):
        apply(lab, Op("add_mask_edit", 0, mask=mask))
    made = apply(lab, Op("add_mask_edit", 1, mask=mask))
    assert StackEntry.objects.get(pk=made.entry_id).kind == "mask_edit"


def test_one_render_in_flight_per_session(lab: Any, django_capture_on_commit_callbacks: Any) -> None:
    lab["queued"].clear()
    EditSession.objects.update(render_queued_at=None)
    with django_capture_on_commit_callbacks(execute=True):
        apply(lab, Op("set_scale", 1, entry_id=lab["entry"].pk, scale=0.5))
        apply(lab, Op("set_scale", 2, entry_id=lab["entry"].pk, scale=0.7))
    assert len(lab["queued"]) == 1

    state = sessions.claim_render(lab["session"].pk)
    assert state is not None and state.revision == 3 and state.vectors[0][1] == 0.7
    with django_capture_on_commit_callbacks(execute=True):
        again = sessions.finish_render(lab["session"].pk, state.revision, rendered=True)
    assert not again and len(lab["queued"]) == 1 and EditSession.objects.get().rendered_revision == 3


def test_disabled_entries_are_not_rendered(lab: Any) -> None:
    apply(lab, Op("set_enabled", 1, entry_id=lab["entry"].pk, enabled=False))
    state = sessions.claim_render(lab["session"].pk)
    assert state is not None and state.vectors == ()


def test_200_rapid_scale_changes_cost_far_fewer_renders_and_the_last_state_is_rendered(
    lab: Any, django_capture_on_commit_callbacks: Any
) -> None:
    """A worker that takes as long as ten changes per render: ~20 renders, the final scale among them."""
    session_id, entry = lab["session"].pk, lab["entry"].pk
    lab["queued"].clear()
    EditSession.objects.update(render_queued_at=None)
    rendered: list[tuple[int, float]] = []
    running = None
    scales = np.linspace(-2, 2, 200)
    for number, scale in enumerate(scales):
        with django_capture_on_commit_callbacks(execute=True):
            apply(lab, Op("set_scale", 1, f"op-{number}", entry_id=entry, scale=float(scale)))
        if running is None and lab["queued"]:
            lab["queued"].pop()
            running = sessions.claim_render(session_id)
        if running is not None and number % 10 == 9:
            rendered.append((running.revision, running.vectors[0][1]))
            with django_capture_on_commit_callbacks(execute=True):
                sessions.finish_render(session_id, running.revision, rendered=True)
            running = None
    while lab["queued"] or running is not None:
        if running is None:
            lab["queued"].pop()
            running = sessions.claim_render(session_id)
        assert running is not None
        rendered.append((running.revision, running.vectors[0][1]))
        with django_capture_on_commit_callbacks(execute=True):
            sessions.finish_render(session_id, running.revision, rendered=True)
        running = None

    final = EditSession.objects.get()
    assert final.revision == 201 and len(rendered) <= 25
    assert rendered[-1] == (201, pytest.approx(2.0)) and final.rendered_revision == 201
    assert [revision for revision, _ in rendered] == sorted(revision for revision, _ in rendered)


def test_a_segmentation_request_renders_again_even_when_up_to_date(
    lab: Any, django_capture_on_commit_callbacks: Any
) -> None:
    lab["queued"].clear()
    EditSession.objects.update(render_queued_at=None, rendered_revision=1)
    with django_capture_on_commit_callbacks(execute=True):
        assert sessions.request_render(lab["editor"], lab["session"], segmentation=True)
    state = sessions.claim_render(lab["session"].pk)
    assert lab["queued"] == [lab["session"].pk] and state is not None and state.segmentation
    assert not EditSession.objects.get().segmentation_requested


def test_a_render_asked_for_during_one_in_flight_follows_it(
    lab: Any, django_capture_on_commit_callbacks: Any
) -> None:
    """A client connecting while a render runs may have missed its frame: one more render follows."""
    lab["queued"].clear()
    EditSession.objects.update(render_queued_at=None)
    with django_capture_on_commit_callbacks(execute=True):
        assert sessions.request_render(lab["editor"], lab["session"])
    state = sessions.claim_render(lab["session"].pk)
    with django_capture_on_commit_callbacks(execute=True):
        assert not sessions.request_render(lab["other"], lab["session"])
        assert state is not None and sessions.finish_render(lab["session"].pk, state.revision, rendered=True)
    assert len(lab["queued"]) == 2
    following = sessions.claim_render(lab["session"].pk)
    with django_capture_on_commit_callbacks(execute=True):
        assert following is not None
        assert not sessions.finish_render(lab["session"].pk, following.revision, rendered=True)
