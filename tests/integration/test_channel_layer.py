"""The production channel layer against a real Redis: idle consumers must keep their channel.

channels-redis blocks up to 5 s per read; with redis-py's default 5 s socket timeout the read
failed with "Timeout reading from ..." and the WebSocket consumer died after 5 idle seconds.
"""

from __future__ import annotations

import asyncio
import copy
from typing import Any

from channels_redis.core import RedisChannelLayer

from webapp import settings as production

IDLE_SECONDS = 7.0


def production_layer(redis_url: str) -> RedisChannelLayer:
    """The production CHANNEL_LAYERS config, pointed at ``redis_url``."""
    config: dict[str, Any] = copy.deepcopy(production.CHANNEL_LAYERS["default"]["CONFIG"])
    hosts = [host if isinstance(host, dict) else {"address": host} for host in config["hosts"]]
    config["hosts"] = [{**host, "address": redis_url} for host in hosts]
    return RedisChannelLayer(**config)


def test_a_message_after_an_idle_wait_longer_than_one_blocking_read_arrives(redis_url: str) -> None:
    layer = production_layer(redis_url)

    async def scenario() -> dict[str, Any]:
        channel = await layer.new_channel()

        async def send_later() -> None:
            await asyncio.sleep(IDLE_SECONDS)
            await layer.send(channel, {"type": "frame.ready", "n": 1})

        sender = asyncio.create_task(send_later())
        try:
            return await asyncio.wait_for(layer.receive(channel), IDLE_SECONDS + 10)
        finally:
            await sender
            await layer.flush()
            await layer.close_pools()

    assert asyncio.run(scenario()) == {"type": "frame.ready", "n": 1}
