"""Helpers of the integration tests: worker processes, the shared database's URL, polling, and job events."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import quote

from asgiref.sync import async_to_sync
from channels_redis.core import RedisChannelLayer
from django.db import connection

from scripts.local_stack import StackProcess, start, start_sweeper

# A job whose worker died is redelivered once this many seconds have passed since its delivery.
VISIBILITY_TIMEOUT = 5
# Workers beat every 0.5 s; a job without a heartbeat for this long counts as lost (its
# redelivered message may claim it; the sweeper re-runs it).
HEARTBEAT_TIMEOUT = 3.0
WORKER_START_TIMEOUT = 180.0
TERMINAL = {"succeeded", "failed", "cancelled"}


def wait_for(condition: Callable[[], Any], timeout: float, what: str, report: Callable[[], str]) -> Any:
    """Poll ``condition`` every 0.2 s until it returns something truthy; fail with ``report()`` on timeout."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}\n{report()}")


class JobEvents:
    """A subscription to one job's channel-layer group on the real Redis, as a consumer has."""

    def __init__(self, redis_url: str, group: str) -> None:
        # No socket read timeout (redis-py's default is 5 s): the wait below has its own deadline,
        # and a loaded machine may take longer than 5 s to publish a job's first event.
        self.layer = RedisChannelLayer(hosts=[{"address": redis_url, "socket_timeout": None}])
        self.group = group
        self.channel = async_to_sync(self.layer.new_channel)()
        async_to_sync(self.layer.group_add)(group, self.channel)

    def until_finished(self, timeout: float) -> list[dict[str, Any]]:
        """Every message of the job up to and including its terminal ``status`` message."""
        return async_to_sync(self._collect)(timeout)

    async def _collect(self, timeout: float) -> list[dict[str, Any]]:
        messages: list[dict[str, Any]] = []
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            try:
                event = await asyncio.wait_for(self.layer.receive(self.channel), max(remaining, 0.01))
            except TimeoutError as error:
                raise AssertionError(f"no final status event in {timeout:.0f} s; got {messages}") from error
            assert event["type"] == "domain.event", event
            messages.append(event["event"])
            if event["event"]["type"] == "job.status" and event["event"]["status"] in TERMINAL:
                return messages


def worker_database_url() -> str:
    """DATABASE_URL of the test database, for the worker processes."""
    database = connection.settings_dict
    if database["ENGINE"] == "django.db.backends.sqlite3":
        return f"sqlite:///{database['NAME']}"
    if database["ENGINE"] == "django.db.backends.postgresql":
        credentials = quote(database["USER"] or "")
        if database["PASSWORD"]:
            credentials += ":" + quote(database["PASSWORD"])
        host = f"{credentials}@" if credentials else ""
        port = f":{database['PORT']}" if database["PORT"] else ""
        return f"postgres://{host}{database['HOST'] or 'localhost'}{port}/{quote(database['NAME'])}"
    raise RuntimeError(f"integration tests do not know how to share a {database['ENGINE']} database")


class Workers:
    """Celery worker processes started as production starts them, sharing the test's database."""

    def __init__(self, app: Any, env: dict[str, str], log_dir: Path) -> None:
        self.app = app
        self.env = env
        self.log_dir = log_dir
        self.running: list[StackProcess] = []

    def start(self, name: str, queues: str = "gpu,preview") -> StackProcess:
        """Start worker ``name`` on ``queues`` (prefork, one process) and wait until it answers a ping."""
        node = f"it-{name}-{os.getpid()}@integration"
        command = [sys.executable, "-m", "celery", "-A", "webapp", "worker", "--queues", queues,
                   "--concurrency", "1", "--loglevel", "INFO", "--without-gossip", "--without-mingle",
                   "--hostname", node]
        with (self.log_dir / f"worker-{name}.log").open("wb") as log:
            worker = start(f"worker {name}", command, self.env, log)
        self.running.append(worker)
        deadline = time.monotonic() + WORKER_START_TIMEOUT
        while time.monotonic() < deadline:
            if not worker.alive():
                raise AssertionError(f"worker {name} exited while starting\n{self.report()}")
            if self.app.control.ping(destination=[node], timeout=1.0):
                return worker
        raise AssertionError(f"worker {name} did not answer in {WORKER_START_TIMEOUT:.0f} s\n{self.report()}")

    def start_sweeper(self) -> StackProcess:
        """Run the job sweeper beside the workers (stopped with them; its log is in the report)."""
        with (self.log_dir / "worker-sweeper.log").open("wb") as log:
            sweeper = start_sweeper(self.env, log)
        self.running.append(sweeper)
        return sweeper

    def kill(self, worker: StackProcess) -> None:
        """SIGKILL the worker and its pool process at once, as a crash or an OOM kill would."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(worker.process.pid, signal.SIGKILL)
        worker.process.wait(timeout=30)

    def report(self) -> str:
        """The tail of every worker log, for assertion messages."""
        return "\n".join(f"--- {path.name} ---\n{path.read_text(errors='replace')[-4000:]}"
                         for path in sorted(self.log_dir.glob("worker-*.log")))
