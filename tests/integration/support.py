"""Helpers of the integration tests: polling, and reading a job's events from the real channel layer."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

from asgiref.sync import async_to_sync
from channels_redis.core import RedisChannelLayer

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
