"""Edit sessions: stack operations, revisions, the 409 refusal, and vectors of other models refused."""

from __future__ import annotations

import io
from typing import Any

import numpy as np
import pytest

from tests.webapp.factories import RESOLUTION, mask_png, vector_bytes
from webapp.editsessions import services as sessions
from webapp.editsessions.models import EditSession, StackEntry
from webapp.editsessions.vectors import add_session_vector
from webapp.errors import InvalidInput
from webapp.library import services as library
from webapp.library.models import EditVector
from webapp.teams.models import Role

pytestmark = pytest.mark.django_db


@pytest.fixture
def lab(make_user: Any, make_team: Any, make_model: Any, make_image: Any, client_for: Any) -> Any:
    """Two editors, a viewer, a model, an image, a vector and an open session."""
    editor, editor2, viewer = make_user("editor"), make_user("editor2"), make_user("viewer")
    team = make_team("Lab", {editor: Role.OWNER, editor2: Role.EDITOR, viewer: Role.VIEWER})
    model = make_model(team)
    image = make_image(model)
    vector = library.create_edit_vector(editor, model, vector_bytes(model), "smile")
    client = client_for(editor)
    session = client.post("/api/sessions/", {"image": image.pk, "title": "try"}).json()
    return {
        "client": client,
        "client2": client_for(editor2),
        "viewer": client_for(viewer),
        "session": session,
        "vector": vector,
        "model": model,
        "image": image,
        "editor": editor,
    }


def push_vector(client: Any, session_id: int, vector_id: int, scale: float, base: int) -> Any:
    """POST a vector entry."""
    return client.post(
        f"/api/sessions/{session_id}/entries/", {"vector": vector_id, "scale": scale, "base_revision": base}
    )


def test_stack_operations_bump_the_revision(lab: Any) -> None:
    client, sid, vid = lab["client"], lab["session"]["id"], lab["vector"].pk
    assert lab["session"]["revision"] == 0 and lab["session"]["participants"] == ["editor"]

    one = push_vector(client, sid, vid, 1.5, 0).json()
    mask = io.BytesIO(mask_png(np.ones((RESOLUTION, RESOLUTION))))
    mask.name = "m.png"
    two = client.post(
        f"/api/sessions/{sid}/entries/", {"mask": mask, "base_revision": 1}, format="multipart"
    ).json()
    first_entry = two["entries"][0]["id"]
    three = client.patch(
        f"/api/sessions/{sid}/entries/{first_entry}/", {"scale": -1.0, "base_revision": 2}
    ).json()
    four = client.delete(f"/api/sessions/{sid}/entries/{first_entry}/?base_revision=3").json()

    assert [one["revision"], two["revision"], three["revision"], four["revision"]] == [1, 2, 3, 4]
    assert [(e["kind"], e["position"]) for e in two["entries"]] == [("vector", 0), ("mask_edit", 1)]
    assert three["entries"][0]["scale"] == -1.0
    assert [(e["kind"], e["position"]) for e in four["entries"]] == [("mask_edit", 0)]
    assert client.get(four["entries"][0]["mask_url"]).status_code == 200
    assert EditVector.objects.get().usage_count == 1


def test_concurrent_pushes_from_one_revision_both_apply(lab: Any) -> None:
    sid, vid = lab["session"]["id"], lab["vector"].pk
    push_vector(lab["client"], sid, vid, 1.0, 0)

    second = push_vector(lab["client2"], sid, vid, 0.5, 0)

    assert second.status_code == 201 and second.json()["revision"] == 2
    assert [e["scale"] for e in second.json()["entries"]] == [1.0, 0.5]


def test_a_mask_edit_from_a_stale_revision_is_refused_with_409_and_the_current_session(lab: Any) -> None:
    sid, vid = lab["session"]["id"], lab["vector"].pk
    push_vector(lab["client"], sid, vid, 1.0, 0)
    mask = io.BytesIO(mask_png(np.ones((RESOLUTION, RESOLUTION))))
    mask.name = "m.png"

    stale = lab["client2"].post(f"/api/sessions/{sid}/entries/", {"mask": mask, "base_revision": 0},
                                format="multipart")

    assert stale.status_code == 409
    error = stale.json()["error"]
    assert error["code"] == "stale_revision" and error["details"]["session"]["revision"] == 1
    assert StackEntry.objects.count() == 1


def test_vectors_of_another_model_are_refused_in_a_session(lab: Any, make_model: Any) -> None:
    other = make_model(lab["model"].team, weights_hash="d" * 64, name="other")
    foreign = library.create_edit_vector(lab["editor"], other, vector_bytes(other), "foreign")

    response = push_vector(lab["client"], lab["session"]["id"], foreign.pk, 1.0, 0)

    assert response.status_code == 400 and response.json()["error"]["code"] == "incompatible_vector"
    assert "cannot be applied" in response.json()["error"]["message"]
    assert EditSession.objects.get().revision == 0


def test_scale_outside_the_vector_range_is_refused(lab: Any) -> None:
    response = push_vector(lab["client"], lab["session"]["id"], lab["vector"].pk, 9.0, 0)
    assert response.status_code == 400 and response.json()["error"]["code"] == "scale_out_of_range"


@pytest.mark.parametrize(
    "body",
    [{"base_revision": 0}, {"base_revision": 0, "vector": 1}, {"vector": 1, "scale": 1.0}],
    ids=["nothing", "no-scale", "no-revision"],
)
def test_entry_requests_must_be_complete(lab: Any, body: dict[str, Any]) -> None:
    response = lab["client"].post(f"/api/sessions/{lab['session']['id']}/entries/", body)
    assert response.status_code == 400 and response.json()["error"]["code"] == "invalid"


def test_viewers_join_but_cannot_edit(lab: Any) -> None:
    sid = lab["session"]["id"]
    joined = lab["viewer"].post(f"/api/sessions/{sid}/join/")
    refused = push_vector(lab["viewer"], sid, lab["vector"].pk, 1.0, 0)

    assert joined.status_code == 200 and joined.json()["participants"] == ["editor", "viewer"]
    assert refused.status_code == 403


def test_vectors_in_use_are_not_deleted(lab: Any) -> None:
    push_vector(lab["client"], lab["session"]["id"], lab["vector"].pk, 1.0, 0)
    response = lab["client"].delete(f"/api/vectors/{lab['vector'].pk}/")
    assert response.status_code == 409 and response.json()["error"]["code"] == "vector_in_use"


def test_stack_changes_publish_an_event(lab: Any, django_capture_on_commit_callbacks: Any) -> None:
    from asgiref.sync import async_to_sync
    from channels.layers import get_channel_layer

    layer = get_channel_layer()
    channel = async_to_sync(layer.new_channel)()
    sid = lab["session"]["id"]
    async_to_sync(layer.group_add)(f"session.{sid}", channel)

    with django_capture_on_commit_callbacks(execute=True):
        push_vector(lab["client"], sid, lab["vector"].pk, 1.0, 0)

    event = async_to_sync(layer.receive)(channel)["event"]
    assert event == {"type": "session.stack_changed", "session_id": sid, "revision": 1}


def test_an_optimisation_result_is_linked_to_its_mask_edit(lab: Any, make_model: Any) -> None:
    session = EditSession.objects.get()
    sessions.add_mask_edit_entry(lab["editor"], session, 0, mask_png(np.ones((RESOLUTION, RESOLUTION))))
    vector_entry_session = sessions.add_vector_entry(lab["editor"], session, 1, lab["vector"], 1.0)
    mask_entry, vector_entry = vector_entry_session.entries.order_by("position")
    made = add_session_vector(lab["editor"], session, vector_bytes(lab["model"]), "made")

    sessions.attach_result_vector(mask_entry, made)

    mask_entry.refresh_from_db()
    assert mask_entry.result_vector == made and made.source_session_id == session.pk
    with pytest.raises(InvalidInput):
        sessions.attach_result_vector(vector_entry, made)
    other = make_model(lab["model"].team, weights_hash="e" * 64, name="other")
    foreign = library.create_edit_vector(lab["editor"], other, vector_bytes(other), "foreign")
    with pytest.raises(InvalidInput, match="cannot be applied"):
        sessions.attach_result_vector(mask_entry, foreign)
