"""The job progress socket: team-scoped access, snapshot on connect, events forwarded from the group."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any, Literal

import pytest
import pytest_asyncio
from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from channels.routing import URLRouter
from channels.testing import WebsocketCommunicator
from django.contrib.auth.models import AnonymousUser
from django.db import connections

from webapp import events
from webapp.jobs import routing
from webapp.jobs.models import Job, JobStatus, JobType
from webapp.teams.models import Role

pytestmark = [pytest.mark.asyncio, pytest.mark.django_db(transaction=True)]

application = URLRouter(routing.websocket_urlpatterns)


@pytest_asyncio.fixture(autouse=True)
async def close_consumer_connections() -> AsyncIterator[None]:
    """Close the database connections the consumer opened in its sync thread (PostgreSQL drops the
    test database only when no session uses it)."""
    yield
    await database_sync_to_async(connections.close_all)()


@pytest.fixture
def lab(make_user: Any, make_team: Any) -> dict[str, Any]:
    """A viewer of the job's team, an outsider in another team, and one running job."""
    viewer, outsider = make_user("viewer"), make_user("outsider")
    team = make_team("Lab", {viewer: Role.VIEWER})
    make_team("Other", {outsider: Role.OWNER})
    job = Job.objects.create(team=team, requested_by=viewer, type=JobType.RENDER, queue="preview",
                             status=JobStatus.RUNNING, progress_total=40)
    return {"viewer": viewer, "outsider": outsider, "job": job}


def publish(job: Job, change: Literal["progress", "status"]) -> None:
    """Publish ``job``'s current state as the worker does."""
    events.publish_now(job.group_name, events.job_changed(job, change))


def client(user: Any, path: str) -> WebsocketCommunicator:
    """A socket client whose scope carries ``user`` (as the auth middleware would set it)."""
    communicator = WebsocketCommunicator(application, path)
    communicator.scope["user"] = user
    return communicator


async def test_member_gets_a_snapshot_then_the_jobs_events(lab: dict[str, Any]) -> None:
    job = lab["job"]
    communicator = client(lab["viewer"], f"/ws/jobs/{job.pk}/")
    connected, _ = await communicator.connect(timeout=10)
    assert connected

    snapshot = await communicator.receive_json_from(timeout=10)
    assert snapshot["type"] == "snapshot" and snapshot["job_id"] == job.pk
    assert (snapshot["status"], snapshot["step"], snapshot["total"]) == ("running", 0, 40)

    job.progress_step, job.progress_loss = 10, 0.5
    await database_sync_to_async(publish)(job, "progress")
    progress = await communicator.receive_json_from(timeout=10)
    assert (progress["type"], progress["step"], progress["loss"]) == ("progress", 10, 0.5)

    job.status, job.result = JobStatus.SUCCEEDED, {"image": 3}
    await database_sync_to_async(publish)(job, "status")
    status = await communicator.receive_json_from(timeout=10)
    assert (status["type"], status["status"], status["result"]) == ("status", "succeeded", {"image": 3})

    await communicator.send_to(text_data="cancel")
    assert (await communicator.receive_json_from(timeout=10))["code"] == "read_only"
    await communicator.disconnect()


async def test_other_teams_and_anonymous_users_are_refused(lab: dict[str, Any]) -> None:
    job = lab["job"]
    for user, code in ((lab["outsider"], 4404), (AnonymousUser(), 4401)):
        communicator = client(user, f"/ws/jobs/{job.pk}/")
        connected, close_code = await communicator.connect(timeout=10)
        assert (connected, close_code) == (False, code)

    missing = client(lab["viewer"], f"/ws/jobs/{job.pk + 1000}/")
    assert await missing.connect(timeout=10) == (False, 4404)


async def test_refused_client_never_joins_the_jobs_group(lab: dict[str, Any]) -> None:
    job = lab["job"]
    outsider = client(lab["outsider"], f"/ws/jobs/{job.pk}/")
    assert (await outsider.connect(timeout=10))[0] is False
    assert not get_channel_layer().groups.get(job.group_name)

    member = client(lab["viewer"], f"/ws/jobs/{job.pk}/")
    assert (await member.connect(timeout=10))[0] is True
    assert len(get_channel_layer().groups[job.group_name]) == 1
    await member.disconnect()
