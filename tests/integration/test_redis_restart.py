"""A job socket through a real daphne across a real Redis restart (docs/protocol.md, "Server errors").

The test starts its own redis-server on a free port (REDIS_URL's Redis is shared and must not be
killed), daphne on it, and a job socket. Redis is SIGKILLed and started again, empty, on the same
port, as a crashed Redis without persistence comes back. The socket must not stay open but deaf
(its group membership lived in the old Redis): it closes with 4503 and the client, reconnecting
as frontend/static/lib/socket.js does, gets a fresh ``snapshot`` and then the job's next
``progress`` event, published after the restart.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from channels_redis.core import RedisChannelLayer
from django.test import Client

from scripts.local_stack import StackProcess, free_port, start_daphne, start_redis, stop, wait_for_port
from tests.integration.support import wait_for, worker_database_url
from tests.integration.ws_client import WebSocket, WebSocketClosedError
from webapp import events
from webapp.jobs.models import Job
from webapp.teams.models import Membership, Role, Team

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]

# How long the restarted stack may take to carry the job's event to a client again.
RECOVERY_TIMEOUT = 60.0


class Stack:
    """A Redis of the test's own and a daphne on it; Redis can be killed and started again."""

    def __init__(self, tmp_path: Path) -> None:
        self.tmp_path = tmp_path
        self.redis_port = free_port()
        self.processes: list[StackProcess] = []
        self.redis = self.start_redis()
        env = {**os.environ, "DJANGO_SETTINGS_MODULE": "webapp.settings", "DEBUG": "0",
               "SECRET_KEY": "test-only-secret-key", "REDIS_URL": self.redis_url, "SECURE_COOKIES": "0",
               "DATABASE_URL": worker_database_url(), "MEDIA_ROOT": str(tmp_path / "media")}
        self.port = free_port()
        with (tmp_path / "daphne.log").open("wb") as log:
            self.processes.append(start_daphne(self.port, env, log))
        wait_for_port(self.port, self.processes[-1], timeout=120)

    @property
    def redis_url(self) -> str:
        """The URL of the test's Redis."""
        return f"redis://127.0.0.1:{self.redis_port}/0"

    def start_redis(self) -> StackProcess:
        """Start the Redis (again) on its port and wait until it listens."""
        with (self.tmp_path / "redis.log").open("ab") as log:
            server = start_redis(self.redis_port, log)
        self.processes.append(server)
        wait_for_port(self.redis_port, server, timeout=30)
        return server

    def restart_redis(self) -> None:
        """SIGKILL the Redis, as a crash would, and start an empty one on the same port at once."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.redis.process.pid, signal.SIGKILL)
        self.redis.process.wait(timeout=30)
        self.redis = self.start_redis()

    def report(self) -> str:
        """The tail of daphne's and Redis' logs, for assertion messages."""
        return "\n".join(f"--- {name} ---\n{(self.tmp_path / name).read_text(errors='replace')[-4000:]}"
                         for name in ("daphne.log", "redis.log"))


@pytest.fixture
def stack(transactional_db: None, tmp_path: Path) -> Iterator[Stack]:
    """The test's own Redis and a daphne on it."""
    running = Stack(tmp_path)
    try:
        yield running
    finally:
        stop(running.processes)


def publish_progress(redis_url: str, job: Job, step: int) -> None:
    """Publish the job's ``job.progress`` event on the real Redis, as a worker does."""
    job.progress_step = step
    message = {"type": events.LAYER_MESSAGE_TYPE, "event": events.job_changed(job, "progress")}

    async def send() -> None:
        layer = RedisChannelLayer(hosts=[{"address": redis_url}])
        try:
            await layer.group_send(events.job_group(job.pk), message)
        finally:
            await layer.close_pools()

    async_to_sync(send)()


def open_job_socket(stack: Stack, job: Job, cookie: str) -> WebSocket:
    """A job socket whose first message, the snapshot, has arrived."""
    headers = {"Origin": f"http://127.0.0.1:{stack.port}", "Cookie": cookie}
    ws = WebSocket(stack.port, f"/ws/jobs/{job.pk}/", headers)
    first = ws.receive_json()
    assert first["type"] == "snapshot", first
    return ws


def test_a_job_socket_comes_back_after_a_redis_restart(stack: Stack, django_user_model: Any) -> None:
    user = django_user_model.objects.create_user(username="ana", password="pw")
    team = Team.objects.create(name="Lab", slug="lab")
    Membership.objects.create(team=team, user=user, role=Role.VIEWER)
    job = Job.objects.create(team=team, requested_by=user, type="render", queue="preview", status="running",
                             progress_total=100)
    browser = Client()
    browser.force_login(user)
    cookie = f"sessionid={browser.cookies['sessionid'].value}"
    ws = open_job_socket(stack, job, cookie)
    publish_progress(stack.redis_url, job, 1)
    assert ws.receive_json()["step"] == 1  # the stream works before the restart

    stack.restart_redis()

    closes: list[int | None] = []
    step = 1
    current: WebSocket | None = ws

    def next_progress_arrives() -> bool:
        """Reconnect if the socket closed (as the browser does), else publish the next step and
        say whether the socket received it."""
        nonlocal current, step
        try:
            if current is None:
                time.sleep(0.5)  # the browser client's first backoff
                current = open_job_socket(stack, job, cookie)
            step += 1
            publish_progress(stack.redis_url, job, step)
            current.sock.settimeout(1.0)
            message = current.receive_json()
        except TimeoutError:
            return False
        except WebSocketClosedError as closed:
            closes.append(closed.code)
            if current is not None:
                current.close()
            current = None
            return False
        return bool(message["type"] == "progress" and message["step"] == step)

    wait_for(next_progress_arrives, RECOVERY_TIMEOUT, "a progress event published after the restart",
             lambda: f"closes seen: {closes}; last step {step}\n{stack.report()}")
    assert current is not None
    current.close()
    # The socket that lost its Redis (and any handshake before daphne reached the new one) closed
    # with "try again later", a code the client reconnects on.
    assert closes and set(closes) == {4503}, stack.report()
