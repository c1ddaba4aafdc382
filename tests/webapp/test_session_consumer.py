"""The edit-session socket: every message type, refusals that change nothing, presence, frames, coalescing."""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import AsyncIterator
from typing import Any

import numpy as np
import pytest
import pytest_asyncio
from channels.db import database_sync_to_async
from channels.routing import URLRouter
from channels.testing import WebsocketCommunicator
from django.contrib.auth.models import AnonymousUser
from django.db import connections

from tests.webapp.factories import RESOLUTION, mask_png, vector_bytes
from webapp import events
from webapp.editsessions import routing, services
from webapp.editsessions.models import EditSession, StackEntry
from webapp.editsessions.protocol import MAX_MESSAGE_BYTES
from webapp.library import services as library
from webapp.teams.models import Role

pytestmark = [pytest.mark.asyncio, pytest.mark.django_db(transaction=True)]

application = URLRouter(routing.websocket_urlpatterns)


@pytest_asyncio.fixture(autouse=True)
async def close_consumer_connections() -> AsyncIterator[None]:
    """Close the database connections the consumer opened in its sync threads."""
    yield
    await database_sync_to_async(connections.close_all)()


@pytest.fixture
def lab(make_user: Any, make_team: Any, make_model: Any, make_image: Any, monkeypatch: Any) -> dict[str, Any]:
    """An editor, a second editor, a viewer, an outsider with a vector of their own, one session."""
    editor, editor2, viewer, outsider = (
        make_user(name) for name in ("editor", "editor2", "viewer", "outsider")
    )
    team = make_team("Lab", {editor: Role.OWNER, editor2: Role.EDITOR, viewer: Role.VIEWER})
    other_team = make_team("Other", {outsider: Role.OWNER})
    model = make_model(team)
    other_model = make_model(other_team, weights_hash="b" * 64)
    vector = library.create_edit_vector(editor, model, vector_bytes(model), "smile")
    foreign = library.create_edit_vector(outsider, other_model, vector_bytes(other_model), "theirs")
    session = services.create_session(editor, make_image(model))
    renders: list[int] = []
    monkeypatch.setattr(services, "_enqueue_render", renders.append)
    return {
        "editor": editor,
        "editor2": editor2,
        "viewer": viewer,
        "outsider": outsider,
        "vector": vector,
        "foreign": foreign,
        "session": session,
        "renders": renders,
    }


async def connect(user: Any, session_id: int) -> WebsocketCommunicator:
    """A connected client of the session whose scope carries ``user``; its ``state`` message is read."""
    communicator = WebsocketCommunicator(application, f"/ws/sessions/{session_id}/")
    communicator.scope["user"] = user
    connected, _ = await communicator.connect(timeout=10)
    assert connected
    state = await communicator.receive_json_from(timeout=10)
    assert state["type"] == "state"
    communicator.state = state  # type: ignore[attr-defined]
    return communicator


async def connect_render_queued(lab: dict[str, Any]) -> None:
    """Wait until the render a connecting client asks for is queued (it is asked after the state is sent)."""
    for _ in range(250):
        if lab["renders"]:
            return
        await asyncio.sleep(0.02)
    raise AssertionError("no render was queued")


async def receive_until(
    communicator: WebsocketCommunicator, kind: str, timeout: float = 2.0
) -> dict[str, Any]:
    """The next JSON message of ``kind`` (skipping others: presence, stack broadcasts, frame bytes)."""
    while True:
        payload = await communicator.receive_from(timeout=timeout)
        if isinstance(payload, str) and (message := json.loads(payload))["type"] == kind:
            return message


async def send(communicator: WebsocketCommunicator, message: dict[str, Any]) -> None:
    """Send a JSON message."""
    await communicator.send_to(text_data=json.dumps(message))


def revision() -> int:
    """The stored session's revision."""
    return EditSession.objects.get().revision


async def test_connect_sends_the_full_state_and_asks_for_a_frame(lab: dict[str, Any]) -> None:
    client = await connect(lab["editor"], lab["session"].pk)
    state = client.state  # type: ignore[attr-defined]
    assert state["session"]["revision"] == 0 and state["can_edit"] is True
    assert state["you"]["user"] == "editor" and state["you"]["colour"].startswith("#") and state["jobs"] == []
    await connect_render_queued(lab)
    assert lab["renders"] == [lab["session"].pk]
    await client.disconnect()


@pytest.mark.parametrize("who", ["anonymous", "outsider"])
async def test_anonymous_and_other_team_connections_are_refused(lab: dict[str, Any], who: str) -> None:
    communicator = WebsocketCommunicator(application, f"/ws/sessions/{lab['session'].pk}/")
    communicator.scope["user"] = AnonymousUser() if who == "anonymous" else lab["outsider"]
    connected, code = await communicator.connect(timeout=10)
    assert not connected and code == (4401 if who == "anonymous" else 4404)


async def test_every_stack_operation_is_acknowledged_and_broadcast(lab: dict[str, Any]) -> None:
    editor = await connect(lab["editor"], lab["session"].pk)
    other = await connect(lab["editor2"], lab["session"].pk)
    await send(
        editor,
        {
            "type": "add_vector",
            "base_revision": 0,
            "vector": lab["vector"].pk,
            "scale": 0.5,
            "op_id": "e:1",
            "request_id": 1,
        },
    )
    ack = await receive_until(editor, "ack")
    entry = ack["entry"]
    assert (ack["request_id"], ack["revision"], ack["op_id"], ack["duplicate"]) == (1, 1, "e:1", False)
    stack = await receive_until(other, "stack")
    assert stack["session"]["entries"][0]["scale"] == 0.5

    mask = base64.b64encode(mask_png(np.ones((RESOLUTION, RESOLUTION)))).decode()
    operations = [
        {"type": "set_scale", "entry": entry, "scale": -1.25},
        {"type": "set_enabled", "entry": entry, "enabled": False},
        {"type": "add_mask_edit", "mask_png": mask},
        {"type": "move", "entry": entry, "position": 1},
        {"type": "remove", "entry": entry},
    ]
    for number, operation in enumerate(operations, start=2):
        await send(other, {**operation, "base_revision": number - 1, "request_id": number})
        ack = await receive_until(other, "ack")
        assert (ack["request_id"], ack["revision"]) == (number, number), ack
        seen = await receive_until(editor, "stack")
        while seen["session"]["revision"] < number:
            seen = await receive_until(editor, "stack")
        assert seen["session"]["revision"] == number
    entries = await database_sync_to_async(lambda: list(StackEntry.objects.values_list("kind", flat=True)))()
    assert entries == ["mask_edit"]
    await editor.disconnect()
    await other.disconnect()


async def test_a_repeated_op_id_is_applied_once(lab: dict[str, Any]) -> None:
    client = await connect(lab["editor"], lab["session"].pk)
    message = {"type": "add_vector", "base_revision": 0, "vector": lab["vector"].pk, "op_id": "c:7"}
    await send(client, message)
    first = await receive_until(client, "ack")
    await send(client, message)
    second = await receive_until(client, "ack")
    assert second["duplicate"] and second["entry"] == first["entry"] and second["revision"] == 1
    assert await database_sync_to_async(StackEntry.objects.count)() == 1
    await client.disconnect()


MALFORMED = [
    ("not json", "invalid_json"),
    ("[1, 2]", "invalid_message"),
    (json.dumps({"type": "explode"}), "unknown_type"),
    (json.dumps({"type": "set_scale", "base_revision": 0, "entry": 1}), "invalid_field"),
    (json.dumps({"type": "set_scale", "base_revision": 0, "entry": 1, "scale": "big"}), "invalid_field"),
    (json.dumps({"type": "set_enabled", "base_revision": 0, "entry": 1, "enabled": 1}), "invalid_field"),
    (json.dumps({"type": "add_vector", "base_revision": -1, "vector": 1}), "invalid_field"),
    (json.dumps({"type": "add_mask_edit", "base_revision": 0, "mask_png": "%%%"}), "invalid_field"),
    (json.dumps({"type": "add_mask_edit", "base_revision": 0, "mask_png": "aGVsbG8="}), "unreadable_mask"),
    (json.dumps({"type": "presence", "pointer": [2, 0]}), "invalid_field"),
    (json.dumps({"type": "save_vector", "name": ""}), "invalid_field"),
    (json.dumps({"type": "set_scale", "base_revision": 0, "entry": 99999, "scale": 1.0}), "unknown_entry"),
    (json.dumps({"type": "set_scale", "base_revision": 5, "entry": 1, "scale": 1.0}), "invalid_revision"),
    ("x" * (MAX_MESSAGE_BYTES + 1), "message_too_large"),
]


@pytest.mark.parametrize(
    ("text", "code"), MALFORMED, ids=[code + str(i) for i, (_, code) in enumerate(MALFORMED)]
)
async def test_malformed_and_oversized_messages_get_an_error_and_change_nothing(
    lab: dict[str, Any], text: str, code: str
) -> None:
    client = await connect(lab["editor"], lab["session"].pk)
    await client.send_to(text_data=text)
    error = await receive_until(client, "error")
    assert error["code"] == code and error["message"]
    assert await database_sync_to_async(revision)() == 0
    await send(client, {"type": "sync", "request_id": 5})
    assert (await receive_until(client, "state"))["request_id"] == 5
    await client.disconnect()


async def test_binary_messages_are_refused(lab: dict[str, Any]) -> None:
    client = await connect(lab["editor"], lab["session"].pk)
    await client.send_to(bytes_data=b"\x00\x01")
    assert (await receive_until(client, "error"))["code"] == "binary_not_accepted"
    await client.disconnect()


async def test_a_stale_mask_edit_is_refused_with_the_current_revision(lab: dict[str, Any]) -> None:
    client = await connect(lab["editor"], lab["session"].pk)
    await send(client, {"type": "add_vector", "base_revision": 0, "vector": lab["vector"].pk})
    await receive_until(client, "ack")
    mask = base64.b64encode(mask_png(np.ones((RESOLUTION, RESOLUTION)))).decode()
    await send(client, {"type": "add_mask_edit", "base_revision": 0, "mask_png": mask, "request_id": 9})
    error = await receive_until(client, "error")
    assert (error["code"], error["request_id"], error["details"]) == ("stale_revision", 9, {"revision": 1})
    assert await database_sync_to_async(StackEntry.objects.count)() == 1
    await client.disconnect()


async def test_viewers_watch_but_cannot_change_anything(lab: dict[str, Any]) -> None:
    editor = await connect(lab["editor"], lab["session"].pk)
    viewer = await connect(lab["viewer"], lab["session"].pk)
    assert viewer.state["can_edit"] is False  # type: ignore[attr-defined]
    for message in (
        {"type": "add_vector", "base_revision": 0, "vector": lab["vector"].pk},
        {"type": "save_vector", "name": "mine"},
        {"type": "optimize", "entry": 1},
    ):
        await send(viewer, message)
        assert (await receive_until(viewer, "error"))["code"] == "permission_denied"
    assert await database_sync_to_async(revision)() == 0
    await send(viewer, {"type": "presence", "tool": "pointer", "pointer": [0.25, 0.5]})
    seen = await receive_until(editor, "presence")
    while (
        seen["client"]["user"] != "viewer" or seen["event"] != "update" or seen["client"]["tool"] != "pointer"
    ):
        seen = await receive_until(editor, "presence")
    assert seen["client"]["pointer"] == [0.25, 0.5] and seen["client"]["role"] == "viewer"
    await editor.disconnect()
    await viewer.disconnect()


async def test_another_teams_vector_is_not_found(lab: dict[str, Any]) -> None:
    client = await connect(lab["editor"], lab["session"].pk)
    await send(client, {"type": "add_vector", "base_revision": 0, "vector": lab["foreign"].pk})
    assert (await receive_until(client, "error"))["code"] == "not_found"
    assert await database_sync_to_async(revision)() == 0
    await client.disconnect()


async def test_presence_join_and_leave(lab: dict[str, Any]) -> None:
    first = await connect(lab["editor"], lab["session"].pk)
    second = await connect(lab["editor2"], lab["session"].pk)
    joined = await receive_until(first, "presence")
    assert (joined["event"], joined["client"]["user"]) == ("join", "editor2")
    introduced = await receive_until(second, "presence")
    assert introduced["client"]["user"] == "editor"
    await second.disconnect()
    left = await receive_until(first, "presence")
    while left["event"] != "leave":
        left = await receive_until(first, "presence")
    assert left["client"]["user"] == "editor2"
    await first.disconnect()


def publish_frame(session_id: int, number: int, segmentation: bool = False) -> None:
    """Publish a frame of revision ``number`` as the render task does."""
    events.publish_now(
        events.session_group(session_id),
        events.session_frame(
            session_id, number, b"png-%d" % number, b"seg" if segmentation else None, 16, 16, 1.0
        ),
    )


async def test_frames_are_binary_tagged_with_their_revision_and_never_go_back(lab: dict[str, Any]) -> None:
    client = await connect(lab["editor"], lab["session"].pk)
    sid = lab["session"].pk
    await database_sync_to_async(publish_frame)(sid, 3, segmentation=True)
    header = await receive_until(client, "frame")
    assert (header["revision"], header["kind"], header["bytes"]) == (3, "image", 5)
    assert await client.receive_from(timeout=10) == b"png-3"
    assert (await receive_until(client, "frame"))["kind"] == "segmentation"
    assert await client.receive_from(timeout=10) == b"seg"
    await database_sync_to_async(publish_frame)(sid, 2)
    await database_sync_to_async(publish_frame)(sid, 4)
    header = await receive_until(client, "frame")
    assert header["revision"] == 4 and await client.receive_from(timeout=10) == b"png-4"
    await client.disconnect()


async def test_a_segment_request_queues_a_render_with_segmentation(lab: dict[str, Any]) -> None:
    client = await connect(lab["editor"], lab["session"].pk)
    await connect_render_queued(lab)
    await database_sync_to_async(EditSession.objects.update)(render_queued_at=None)
    await send(client, {"type": "segment", "request_id": 3})
    ack = await receive_until(client, "ack")
    assert ack == {"type": "ack", "request_id": 3, "queued": True}
    assert await database_sync_to_async(lambda: EditSession.objects.get().segmentation_requested)()
    await client.disconnect()


async def test_save_the_stack_as_a_library_vector(lab: dict[str, Any]) -> None:
    client = await connect(lab["editor"], lab["session"].pk)
    await send(client, {"type": "save_vector", "name": "empty"})
    assert (await receive_until(client, "error"))["code"] == "empty_stack"
    await send(client, {"type": "add_vector", "base_revision": 0, "vector": lab["vector"].pk, "scale": 0.5})
    await receive_until(client, "ack")
    await send(client, {"type": "save_vector", "name": "Half smile", "tags": ["smile"], "request_id": 4})
    ack = await receive_until(client, "ack")
    library_event = await receive_until(client, "library")
    assert library_event == {"type": "library", "change": "created", "vector": ack["vector"]}
    await client.disconnect()


async def test_jobs_started_from_the_session_are_followed_by_everyone(lab: dict[str, Any]) -> None:
    editor = await connect(lab["editor"], lab["session"].pk)
    other = await connect(lab["editor2"], lab["session"].pk)
    await send(editor, {"type": "optimize", "entry": 12345})
    assert (await receive_until(editor, "error"))["code"] == "unknown_entry"
    mask = base64.b64encode(mask_png(np.ones((RESOLUTION, RESOLUTION)))).decode()
    await send(editor, {"type": "add_mask_edit", "base_revision": 0, "mask_png": mask})
    entry = (await receive_until(editor, "ack"))["entry"]
    await send(editor, {"type": "optimize", "entry": entry, "steps": 5})
    # The tiny test model has no latent or branch: the jobs service refuses it with its own code.
    error = await receive_until(editor, "error")
    assert error["code"] in ("no_latent", "no_branch")
    await editor.disconnect()
    await other.disconnect()


async def test_200_rapid_scale_changes_render_far_fewer_frames_and_the_last_state(
    lab: dict[str, Any],
) -> None:
    """A worker as slow as ten slider messages per render: ~20 renders, the last state among them."""
    sid = lab["session"].pk
    editor = await connect(lab["editor"], sid)
    watcher = await connect(lab["editor2"], sid)
    await connect_render_queued(lab)
    await send(editor, {"type": "add_vector", "base_revision": 0, "vector": lab["vector"].pk})
    entry = (await receive_until(editor, "ack"))["entry"]
    lab["renders"].clear()
    await database_sync_to_async(EditSession.objects.update)(render_queued_at=None)
    rendered: list[int] = []

    def render_one() -> None:
        state = services.claim_render(sid)
        assert state is not None
        rendered.append(state.revision)
        publish_frame(sid, state.revision)
        services.finish_render(sid, state.revision, rendered=True)

    for number, scale in enumerate(np.linspace(-2, 2, 200)):
        await send(editor, {"type": "set_scale", "base_revision": 1, "entry": entry, "scale": float(scale)})
        await receive_until(editor, "ack")
        if number % 10 == 9 and lab["renders"]:
            lab["renders"].pop()
            await database_sync_to_async(render_one)()
    while lab["renders"]:
        lab["renders"].pop()
        await database_sync_to_async(render_one)()
    last = 0
    while last < 201:
        message = await watcher.receive_json_from(timeout=5)
        if message["type"] == "frame":
            assert message["revision"] > last
            last = message["revision"]
            await watcher.receive_from(timeout=10)
    assert rendered[-1] == 201 and len(rendered) <= 25, rendered
    await editor.disconnect()
    await watcher.disconnect()


async def test_intermediate_images_of_a_session_job_reach_every_participant(lab: dict[str, Any]) -> None:
    """A job announced on the session is followed: its previews arrive as ``job_preview`` frames."""
    client = await connect(lab["editor2"], lab["session"].pk)
    job_id = 4242
    announce = {
        "type": "session.job_started",
        "session_id": lab["session"].pk,
        "job_id": job_id,
        "job_type": "optimize_edit",
        "entry_id": 1,
        "user": "editor",
    }
    await database_sync_to_async(events.publish_now)(events.session_group(lab["session"].pk), announce)
    assert (await receive_until(client, "job_started"))["job"] == job_id
    await database_sync_to_async(events.publish_now)(
        events.job_group(job_id), events.job_preview(job_id, 5, 30, b"step-5")
    )
    header = await receive_until(client, "frame")
    assert (header["kind"], header["job"], header["step"], header["total"]) == ("job_preview", job_id, 5, 30)
    assert await client.receive_from(timeout=10) == b"step-5"
    await client.disconnect()
