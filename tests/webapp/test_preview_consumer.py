"""Channels tests of the preview consumer: frames, errors, coalescing, against an in-memory layer."""

from __future__ import annotations

import io
import json
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest
import pytest_asyncio
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from kombu.exceptions import OperationalError
from PIL import Image

from webapp import celery_app, events
from webapp.asgi import application
from webapp.preview import services
from webapp.preview.consumers import PreviewConsumer
from webapp.preview.protocol import RenderRequest

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(autouse=True)
def no_connection_checks(monkeypatch: pytest.MonkeyPatch) -> None:
    """Keep Channels off the database: the preview stores nothing.

    Channels checks stale database connections around every consumer message and on disconnect, in
    asgiref's sync thread, which outlives each test and may hold a connection an earlier test opened
    (SQLite's in-memory test database is never closed). channels.testing turns the check off only
    while the communicator sends or receives, so whether a test touched the database depended on
    timing; here it is off for the whole test.
    """
    monkeypatch.setattr("channels.db.close_old_connections", lambda: None)


@pytest.fixture(autouse=True)
def everyone_may_preview(monkeypatch: pytest.MonkeyPatch) -> None:
    """These tests are about frames, not access (tests/webapp/test_socket_access.py is): any signed-in
    user may preview, and no render budget runs out."""
    monkeypatch.setattr(services, "may_preview", lambda user: True)
    monkeypatch.setattr(services, "spend_render", lambda user_id: None)


SIGNED_IN = SimpleNamespace(pk=1, is_authenticated=True, is_active=True)


@pytest.fixture
def eager_renders(settings: Any, tiny_model_dir: Path) -> Iterator[None]:
    """Run render tasks in-process, eagerly, with the tiny test model."""
    from webapp import worker_runtime

    settings.PARTEDIT_MODEL_PATH = tiny_model_dir
    settings.PARTEDIT_DEVICE = "cpu"
    celery_app.conf.task_always_eager = True
    yield
    celery_app.conf.task_always_eager = False
    worker_runtime._models.clear()


@pytest.fixture
def enqueued(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, RenderRequest, str]]:
    """Record enqueued renders instead of running them: (group, request, render_id) per call."""
    calls: list[tuple[str, RenderRequest, str]] = []
    monkeypatch.setattr(services, "enqueue_render", lambda *args: calls.append(args))
    return calls


@pytest_asyncio.fixture
async def communicator() -> AsyncIterator[WebsocketCommunicator]:
    """A connected client of the preview socket, through the project's full ASGI stack."""
    client = WebsocketCommunicator(application, "/ws/preview/", headers=[(b"origin", b"http://localhost")])
    client.scope["user"] = SIGNED_IN  # the auth middleware keeps a user already in the scope
    connected, _ = await client.connect(timeout=10)
    assert connected
    yield client
    await client.disconnect()


async def render_frame(client: WebsocketCommunicator, message: dict[str, Any]
                       ) -> tuple[dict[str, Any], bytes]:
    """Send a render request and return the frame header and the binary PNG that answer it."""
    await client.send_json_to(message)
    header = await client.receive_json_from(timeout=30)
    assert header["type"] == "frame", header
    response = await client.receive_output(timeout=5)
    assert response["type"] == "websocket.send"
    assert response.get("text") is None
    return header, response["bytes"]


async def send_frame_event(render_id: str, group: str, png: bytes = PNG_SIGNATURE) -> None:
    """Deliver a worker's frame event for ``render_id`` to ``group``, as the render task does."""
    frame = events.PreviewFrame(type="preview.frame", request_id=render_id, seed=0, psi=0.5,
                                width=1, height=1, render_ms=1.0, png=png)
    await sync_to_async(events.publish_now)(group, frame)


@pytest.mark.asyncio
@pytest.mark.usefixtures("eager_renders")
async def test_render_request_yields_binary_png_frame(communicator: WebsocketCommunicator,
                                                      tiny_model_dir: Path) -> None:
    header, png = await render_frame(communicator, {"type": "render", "seed": 7, "psi": 0.5, "request_id": 3})

    assert header["request_id"] == 3
    assert (header["seed"], header["psi"], header["width"], header["height"]) == (7, 0.5, 16, 16)
    assert header["mime"] == "image/png" and header["bytes"] == len(png)
    assert png.startswith(PNG_SIGNATURE)
    from editing_engine.checkpoints import load_generator
    from editing_engine.rendering import render_seed

    expected = render_seed(load_generator(tiny_model_dir).generator, 7, 0.5)
    np.testing.assert_array_equal(np.asarray(Image.open(io.BytesIO(png))), expected)


@pytest.mark.asyncio
@pytest.mark.usefixtures("eager_renders")
async def test_truncation_changes_the_frame(communicator: WebsocketCommunicator) -> None:
    _, first = await render_frame(communicator, {"type": "render", "seed": 7, "psi": 0.5})
    _, second = await render_frame(communicator, {"type": "render", "seed": 7, "psi": 1.0})
    _, again = await render_frame(communicator, {"type": "render", "seed": 7, "psi": 0.5})

    assert first != second
    assert first == again


MALFORMED = [
    ("not json", "invalid_json"),
    ("[1, 2]", "invalid_message"),
    (json.dumps({"type": "paint", "seed": 1, "psi": 0.5}), "unknown_type"),
    (json.dumps({"seed": 1, "psi": 0.5}), "unknown_type"),
    (json.dumps({"type": "render", "psi": 0.5}), "invalid_field"),
    (json.dumps({"type": "render", "seed": "1", "psi": 0.5}), "invalid_field"),
    (json.dumps({"type": "render", "seed": 1.5, "psi": 0.5}), "invalid_field"),
    (json.dumps({"type": "render", "seed": True, "psi": 0.5}), "invalid_field"),
    (json.dumps({"type": "render", "seed": -1, "psi": 0.5}), "invalid_field"),
    (json.dumps({"type": "render", "seed": 2**32, "psi": 0.5}), "invalid_field"),
    (json.dumps({"type": "render", "seed": 1, "psi": 2.5}), "invalid_field"),
    (json.dumps({"type": "render", "seed": 1, "psi": "0.5"}), "invalid_field"),
    ('{"type": "render", "seed": 1, "psi": NaN}', "invalid_field"),
    (json.dumps({"type": "render", "seed": 1, "psi": 0.5, "request_id": "a"}), "invalid_field"),
    (json.dumps({"type": "render", "seed": 1, "psi": 0.5, "pad": "x" * 2000}), "message_too_large"),
]


@pytest.mark.asyncio
@pytest.mark.usefixtures("eager_renders")
@pytest.mark.parametrize(("text", "code"), MALFORMED)
async def test_malformed_message_gets_json_error_and_socket_stays_usable(
    communicator: WebsocketCommunicator, text: str, code: str
) -> None:
    await communicator.send_to(text_data=text)
    error = await communicator.receive_json_from(timeout=5)

    assert error["type"] == "error" and error["code"] == code
    assert error["message"]
    _, png = await render_frame(communicator, {"type": "render", "seed": 1, "psi": 0.7})
    assert png.startswith(PNG_SIGNATURE)


@pytest.mark.asyncio
async def test_binary_message_is_refused(communicator: WebsocketCommunicator) -> None:
    await communicator.send_to(bytes_data=b"\x00\x01")

    error = await communicator.receive_json_from(timeout=5)
    assert error["code"] == "binary_not_accepted"


@pytest.mark.asyncio
async def test_error_echoes_request_id(communicator: WebsocketCommunicator) -> None:
    await communicator.send_json_to({"type": "render", "seed": 1, "psi": 9, "request_id": 12})

    error = await communicator.receive_json_from(timeout=5)
    assert (error["code"], error["request_id"]) == ("invalid_field", 12)


@pytest.mark.asyncio
async def test_requests_during_a_render_coalesce_to_the_latest(
    communicator: WebsocketCommunicator, enqueued: list[tuple[str, RenderRequest, str]]
) -> None:
    for request_id, psi in enumerate([0.1, 0.2, 0.3], start=1):
        await communicator.send_json_to({"type": "render", "seed": 5, "psi": psi, "request_id": request_id})
    await communicator.receive_nothing(timeout=0.2)
    assert [call[1].request_id for call in enqueued] == [1]

    group, _, render_id = enqueued[0]
    await send_frame_event(render_id, group)
    header = await communicator.receive_json_from(timeout=5)
    assert header["request_id"] == 1
    assert (await communicator.receive_output(timeout=5))["bytes"] == PNG_SIGNATURE
    await communicator.receive_nothing(timeout=0.2)
    assert [call[1].request_id for call in enqueued] == [1, 3]
    assert enqueued[1][1].psi == 0.3


@pytest.mark.asyncio
async def test_frame_of_a_superseded_render_is_dropped(
    communicator: WebsocketCommunicator, enqueued: list[tuple[str, RenderRequest, str]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(PreviewConsumer, "stall_seconds", 0.0)
    await communicator.send_json_to({"type": "render", "seed": 5, "psi": 0.1, "request_id": 1})
    await communicator.send_json_to({"type": "render", "seed": 5, "psi": 0.2, "request_id": 2})
    await communicator.receive_nothing(timeout=0.2)
    assert [call[1].request_id for call in enqueued] == [1, 2]

    group = enqueued[0][0]
    await send_frame_event(enqueued[0][2], group)
    assert await communicator.receive_nothing(timeout=0.2)
    await send_frame_event(enqueued[1][2], group)
    assert (await communicator.receive_json_from(timeout=5))["request_id"] == 2


@pytest.mark.asyncio
async def test_worker_failure_is_reported_as_error(
    communicator: WebsocketCommunicator, enqueued: list[tuple[str, RenderRequest, str]]
) -> None:
    await communicator.send_json_to({"type": "render", "seed": 5, "psi": 0.1, "request_id": 4})
    await communicator.receive_nothing(timeout=0.2)
    group, _, render_id = enqueued[0]
    failure = events.PreviewFailed(type="preview.failed", request_id=render_id, message="no model")
    await sync_to_async(events.publish_now)(group, failure)

    error = await communicator.receive_json_from(timeout=5)
    assert (error["code"], error["request_id"]) == ("render_failed", 4)
    assert "no model" in error["message"]


@pytest.mark.asyncio
async def test_unreachable_queue_is_reported_and_next_request_retries(
    communicator: WebsocketCommunicator, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broker_down(*_: object) -> None:
        raise OperationalError("connection refused")

    monkeypatch.setattr(services, "enqueue_render", broker_down)
    await communicator.send_json_to({"type": "render", "seed": 5, "psi": 0.1, "request_id": 8})
    error = await communicator.receive_json_from(timeout=5)
    assert (error["code"], error["request_id"]) == ("queue_unavailable", 8)

    await communicator.send_json_to({"type": "render", "seed": 5, "psi": 0.1, "request_id": 9})
    assert (await communicator.receive_json_from(timeout=5))["request_id"] == 9


@pytest.mark.asyncio
async def test_foreign_origin_is_rejected() -> None:
    client = WebsocketCommunicator(application, "/ws/preview/", headers=[(b"origin", b"http://evil.example")])
    connected, _ = await client.connect(timeout=10)
    # Accepted, then closed with the refusal's code (webapp/ws_gate.py), never handed to the consumer.
    assert connected
    assert await client.receive_output(timeout=10) == {"type": "websocket.close", "code": 4403}
