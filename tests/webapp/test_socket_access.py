"""Access on open sockets: no anonymous previews, a per-user render budget, and membership changes
(removal, new role, in the services or straight on the model as the admin does) reaching open sockets."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from channels.db import database_sync_to_async
from channels.routing import URLRouter
from channels.testing import WebsocketCommunicator
from django.contrib.auth.models import AnonymousUser
from django.db import connections

from tests.webapp.factories import create_model
from webapp import events
from webapp.editsessions import services as sessions
from webapp.jobs import routing as jobs_routing
from webapp.jobs.models import Job, JobStatus, JobType
from webapp.preview import routing as preview_routing
from webapp.preview import services as preview
from webapp.teams import services as teams
from webapp.teams.models import Membership, Role

pytestmark = [pytest.mark.asyncio, pytest.mark.django_db(transaction=True)]


@pytest_asyncio.fixture(autouse=True)
async def close_consumer_connections() -> AsyncIterator[None]:
    """Close the database connections the consumers opened in their sync threads."""
    yield
    await database_sync_to_async(connections.close_all)()


@pytest.fixture
def lab(make_user: Any, make_team: Any, make_image: Any, settings: Any, tmp_path: Path,
        monkeypatch: Any) -> dict[str, Any]:
    """An owner, a viewer and an outsider; the team holds the server's model, a job and a session."""
    owner, viewer, outsider = make_user("owner"), make_user("viewer"), make_user("outsider")
    team = make_team("Lab", {owner: Role.OWNER, viewer: Role.VIEWER})
    make_team("Other", {outsider: Role.OWNER})
    settings.PARTEDIT_MODEL_PATH = tmp_path / "server-model"
    model = create_model(team)
    model.path = str(settings.PARTEDIT_MODEL_PATH.resolve())
    model.save()
    job = Job.objects.create(team=team, requested_by=owner, type=JobType.RENDER, queue="preview",
                             status=JobStatus.RUNNING, progress_total=40)
    monkeypatch.setattr(sessions, "_enqueue_render", lambda session_id: None)
    session = sessions.create_session(owner, make_image(model))
    return {"owner": owner, "viewer": viewer, "outsider": outsider, "team": team, "model": model,
            "job": job, "session": session}


@pytest.fixture
def renders(monkeypatch: Any) -> list[Any]:
    """Record queued preview renders instead of sending them to Celery."""
    queued: list[Any] = []
    monkeypatch.setattr(preview, "enqueue_render", lambda *args: queued.append(args))
    return queued


def client(routes: Any, path: str, user: Any) -> WebsocketCommunicator:
    """A socket client whose scope carries ``user`` (as the auth middleware would set it)."""
    communicator = WebsocketCommunicator(URLRouter(routes.websocket_urlpatterns), path)
    communicator.scope["user"] = user
    return communicator


@pytest.mark.parametrize(("who", "code"), [("anonymous", 4401), ("outsider", 4403)])
async def test_previews_need_a_member_of_a_team_holding_the_model(lab: dict[str, Any], who: str,
                                                                  code: int) -> None:
    user = AnonymousUser() if who == "anonymous" else lab["outsider"]
    communicator = client(preview_routing, "/ws/preview/", user)

    connected, close_code = await communicator.connect(timeout=10)

    assert not connected and close_code == code


async def test_a_retired_model_gives_no_previews(lab: dict[str, Any]) -> None:
    lab["model"].is_active = False
    await database_sync_to_async(lab["model"].save)()
    connected, code = await client(preview_routing, "/ws/preview/", lab["viewer"]).connect(timeout=10)

    assert not connected and code == 4403


async def test_each_user_has_a_render_budget_over_all_sockets(lab: dict[str, Any], settings: Any,
                                                              renders: list[Any]) -> None:
    settings.PARTEDIT_PREVIEW_RENDERS_PER_MINUTE = 3
    first = client(preview_routing, "/ws/preview/", lab["viewer"])
    second = client(preview_routing, "/ws/preview/", lab["viewer"])
    assert (await first.connect(timeout=10))[0] and (await second.connect(timeout=10))[0]

    replies = []
    for index, socket in enumerate([first, second, first, second]):
        # Each render completes before the next request, so none coalesces.
        await socket.send_json_to({"type": "render", "seed": index, "psi": 0.5, "request_id": index})
        if index < 3:
            assert await socket.receive_nothing(timeout=0.2)
            render_id = renders[-1][2]
            await socket.send_input({"type": "domain.event", "event": {
                "type": "preview.failed", "request_id": render_id, "message": "test"}})
        replies.append(await socket.receive_json_from(timeout=10))

    assert len(renders) == 3
    assert [reply["code"] for reply in replies] == ["render_failed"] * 3 + ["rate_limited"]
    assert replies[-1]["request_id"] == 3
    await first.disconnect()
    await second.disconnect()


async def remove(lab: dict[str, Any], how: str) -> None:
    """Take the viewer out of the team: through the service, as the admin does, or by a new role."""
    membership = await database_sync_to_async(Membership.objects.get)(team=lab["team"], user=lab["viewer"])
    if how == "service":
        await database_sync_to_async(teams.remove_member)(lab["owner"], membership)
    elif how == "admin":
        await database_sync_to_async(membership.delete)()


@pytest.mark.parametrize("how", ["service", "admin"])
async def test_a_removed_member_loses_an_open_job_socket(lab: dict[str, Any], how: str) -> None:
    job = lab["job"]
    communicator = client(jobs_routing, f"/ws/jobs/{job.pk}/", lab["viewer"])
    assert (await communicator.connect(timeout=10))[0]
    assert (await communicator.receive_json_from(timeout=10))["type"] == "snapshot"

    await remove(lab, how)
    output = await communicator.receive_output(timeout=2)
    job.progress_step = 5
    await database_sync_to_async(events.publish_now)(job.group_name, events.job_changed(job, "progress"))

    assert output == {"type": "websocket.close", "code": 4404}
    assert await communicator.receive_nothing(timeout=0.2)


async def test_a_role_change_keeps_a_socket_the_new_role_may_use(lab: dict[str, Any]) -> None:
    job = lab["job"]
    communicator = client(jobs_routing, f"/ws/jobs/{job.pk}/", lab["viewer"])
    assert (await communicator.connect(timeout=10))[0]
    await communicator.receive_json_from(timeout=10)
    membership = await database_sync_to_async(Membership.objects.get)(team=lab["team"], user=lab["viewer"])

    await database_sync_to_async(teams.change_role)(lab["owner"], membership, Role.ANNOTATOR)
    job.progress_step = 7
    await database_sync_to_async(events.publish_now)(job.group_name, events.job_changed(job, "progress"))

    assert (await communicator.receive_json_from(timeout=2))["step"] == 7
    await communicator.disconnect()


async def test_a_removed_member_loses_an_open_preview_socket(lab: dict[str, Any], renders: list[Any]) -> None:
    communicator = client(preview_routing, "/ws/preview/", lab["viewer"])
    assert (await communicator.connect(timeout=10))[0]

    await remove(lab, "service")

    assert await communicator.receive_output(timeout=2) == {"type": "websocket.close", "code": 4403}


async def test_a_removed_member_loses_an_open_session_socket(lab: dict[str, Any]) -> None:
    from webapp.editsessions import routing as session_routing

    communicator = client(session_routing, f"/ws/sessions/{lab['session'].pk}/", lab["viewer"])
    assert (await communicator.connect(timeout=10))[0]
    while (await communicator.receive_json_from(timeout=10))["type"] != "state":
        pass

    await remove(lab, "admin")
    while (output := await communicator.receive_output(timeout=2))["type"] != "websocket.close":
        pass

    assert output["code"] == 4404


async def test_a_deactivated_account_loses_its_open_sockets(lab: dict[str, Any]) -> None:
    job = lab["job"]
    communicator = client(jobs_routing, f"/ws/jobs/{job.pk}/", lab["viewer"])
    assert (await communicator.connect(timeout=10))[0]
    await communicator.receive_json_from(timeout=10)

    lab["viewer"].is_active = False
    await database_sync_to_async(lab["viewer"].save)()

    assert await communicator.receive_output(timeout=2) == {"type": "websocket.close", "code": 4401}
