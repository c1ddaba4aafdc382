"""The WebSocket front door (webapp/asgi.py): handshake close codes, 4404 for unknown paths, same origin."""

from __future__ import annotations

from typing import Any

import pytest
from channels.testing import WebsocketCommunicator

from webapp.asgi import application

pytestmark = [pytest.mark.asyncio, pytest.mark.django_db(transaction=True)]
SITE = "http://127.0.0.1:8000"


def communicator(path: str, origin: str | None = SITE, host: str = "127.0.0.1:8000") -> WebsocketCommunicator:
    """A client of the whole ASGI application, as daphne would hand it a handshake."""
    headers = [(b"host", host.encode())]
    if origin is not None:
        headers.append((b"origin", origin.encode()))
    return WebsocketCommunicator(application, path, headers=headers)


async def close_code_after_accept(client: WebsocketCommunicator) -> Any:
    """Connect; the handshake must be accepted and then closed: return the close code."""
    connected, _ = await client.connect(timeout=10)
    assert connected, "refused at the handshake (daphne answers that with HTTP 403, without the code)"
    message = await client.receive_output(timeout=10)
    assert message["type"] == "websocket.close", message
    return message.get("code")


async def test_a_refused_job_socket_gets_its_close_code() -> None:
    assert await close_code_after_accept(communicator("/ws/jobs/1/")) == 4401


@pytest.mark.parametrize("path", ["/ws/other/", "/ws/jobs/-1/", "/ws/jobs/x/", "/"])
async def test_unknown_paths_are_closed_with_4404(path: str) -> None:
    assert await close_code_after_accept(communicator(path)) == 4404


@pytest.mark.parametrize("origin", ["http://127.0.0.1:9999", "https://127.0.0.1:8000", "http://evil.example",
                                    "null", "not a url", None])
async def test_other_origins_are_refused_with_4403(origin: str | None) -> None:
    assert await close_code_after_accept(communicator("/ws/jobs/1/", origin)) == 4403


async def test_the_sites_own_origin_and_trusted_origins_pass(settings: Any) -> None:
    # They reach the consumer, which refuses the anonymous client with its own code.
    own = communicator("/ws/jobs/1/", "http://localhost", host="localhost")
    assert await close_code_after_accept(own) == 4401
    settings.CSRF_TRUSTED_ORIGINS = ["https://edit.example.org"]
    trusted = communicator("/ws/jobs/1/", "https://edit.example.org", host="127.0.0.1:8000")
    assert await close_code_after_accept(trusted) == 4401


async def test_a_host_outside_allowed_hosts_is_refused() -> None:
    foreign = communicator("/ws/jobs/1/", "http://evil.example", "evil.example")
    assert await close_code_after_accept(foreign) == 4403


def member_with_a_job() -> tuple[str, int]:
    """A signed-in member's session cookie and a job of their team."""
    from django.contrib.auth import get_user_model
    from django.test import Client

    from webapp.jobs.models import Job
    from webapp.teams.models import Membership, Role, Team

    user = get_user_model().objects.create_user(username="ana", password="pw")
    team = Team.objects.create(name="Lab", slug="lab")
    Membership.objects.create(team=team, user=user, role=Role.VIEWER)
    job = Job.objects.create(team=team, requested_by=user, type="render", queue="preview")
    browser = Client()
    browser.force_login(user)
    return browser.cookies["sessionid"].value, job.pk


async def test_a_redis_outage_closes_the_socket_with_4503(settings: Any) -> None:
    from channels.db import database_sync_to_async

    from scripts.local_stack import free_port

    session, job_id = await database_sync_to_async(member_with_a_job)()
    # Nothing listens on this port: every channel-layer call fails to connect.
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels_redis.core.RedisChannelLayer",
                                           "CONFIG": {"hosts": [f"redis://127.0.0.1:{free_port()}/0"]}}}
    client = WebsocketCommunicator(application, f"/ws/jobs/{job_id}/",
                                   headers=[(b"host", b"127.0.0.1:8000"), (b"origin", SITE.encode()),
                                            (b"cookie", f"sessionid={session}".encode())])
    assert await close_code_after_accept(client) == 4503


async def test_an_exhausted_database_pool_closes_the_socket_with_4503() -> None:
    from django.db import OperationalError
    from psycopg_pool import PoolTimeout

    from webapp.ws_gate import CloseCodesAtHandshake

    async def consumer_waiting_in_vain_for_a_connection(scope: Any, receive: Any, send: Any) -> None:
        await receive()
        try:
            raise PoolTimeout("couldn't get a connection after 10.00 sec")
        except PoolTimeout as cause:
            raise OperationalError(str(cause)) from cause

    gate = CloseCodesAtHandshake(consumer_waiting_in_vain_for_a_connection)
    client = WebsocketCommunicator(gate, "/ws/jobs/1/")
    assert await close_code_after_accept(client) == 4503
