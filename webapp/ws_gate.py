"""What every WebSocket handshake passes before a consumer: the origin check, refusals with close codes, 404s.

* ``SameOriginValidator``: the ``Origin`` header must name this site exactly (scheme, host and
  port of the handshake, the host being one of ``ALLOWED_HOSTS``) or be one of
  ``CSRF_TRUSTED_ORIGINS``; anything else is refused with 4403.
* ``CloseCodesAtHandshake``: a consumer that refuses a handshake closes before accepting, which
  daphne answers with a bare HTTP 403 that browsers cannot tell apart from a network error. This
  middleware accepts first and then closes, so the client sees the consumer's close code (4401,
  4403, 4404, ...; docs/protocol.md). A consumer that fails (daphne would answer HTTP 500 at the
  handshake, or drop an open socket) is closed the same way: 4503 ("try again later") when Redis,
  which carries the channel layer, is unreachable or the database connection pool stays
  exhausted; 4500 for any other error, which is logged. (The standard 1013 and 1011 cannot be
  used: daphne's WebSocket layer, autobahn, refuses to send any code but 1000 and 3000-4999 for
  an application, and the socket then stayed open with nothing behind it.)
* ``NotFoundConsumer``: the last route; a path no route matches is closed with 4404 instead of
  failing with a server error.
* ``close_oversize_messages_with_1009``: a frame or message over daphne's 1 MiB limit closes the
  socket with 1009 ("message too big") and autobahn's reason, instead of a dropped connection.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import urlsplit

from channels.generic.websocket import AsyncWebsocketConsumer
from django.conf import settings
from django.http.request import split_domain_port, validate_host
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from webapp.db_pool import is_pool_exhausted

logger = logging.getLogger(__name__)

Scope = dict[str, Any]
Message = dict[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

# In the private range like 4401/4403/4404, after the HTTP status of the same meaning.
CLOSE_INTERNAL_ERROR = 4500
CLOSE_TRY_AGAIN_LATER = 4503
CLOSE_FORBIDDEN_ORIGIN = 4403
CLOSE_NOT_FOUND = 4404
DEFAULT_PORTS = {"http": 80, "https": 443}


def header(scope: Scope, name: bytes) -> str | None:
    """The value of the handshake header ``name`` (lower case), or None."""
    for key, value in scope.get("headers", []):
        if key == name:
            return bytes(value).decode("latin1")
    return None


def normalised_origin(origin: str) -> tuple[str, str, int] | None:
    """``(scheme, host, port)`` of an origin such as ``https://edit.example.org``, default ports filled in."""
    try:
        parts = urlsplit(origin.strip().lower())
        port = parts.port or DEFAULT_PORTS.get(parts.scheme)
    except ValueError:
        return None
    if parts.scheme not in DEFAULT_PORTS or not parts.hostname or port is None:
        return None
    return parts.scheme, parts.hostname, port


def allowed_origin(scope: Scope) -> bool:
    """Whether the handshake's Origin is this very site (scheme, host, port) or a trusted origin."""
    origin = normalised_origin(header(scope, b"origin") or "")
    if origin is None:
        return False
    trusted = {normalised_origin(item) for item in settings.CSRF_TRUSTED_ORIGINS}
    if origin in trusted:
        return True
    # Every real handshake has a Host header (RFC 6455; autobahn refuses one without); a handshake
    # made in-process without one is compared with the origin's own host and port.
    scheme, hostname, port = origin
    host = header(scope, b"host") or (hostname if DEFAULT_PORTS[scheme] == port else f"{hostname}:{port}")
    domain, _ = split_domain_port(host.lower())
    if not domain or not validate_host(domain, settings.ALLOWED_HOSTS):
        return False
    own_scheme = "https" if scope.get("scheme") in ("wss", "https") else "http"
    return origin == normalised_origin(f"{own_scheme}://{host}")


class SameOriginValidator:
    """Refuse (4403) a handshake whose Origin is not this site or a trusted origin."""

    def __init__(self, application: ASGIApp) -> None:
        self.application = application

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Pass an allowed handshake on; refuse any other with close code 4403."""
        if allowed_origin(scope):
            await self.application(scope, receive, send)
            return
        await receive()  # websocket.connect
        await send({"type": "websocket.close", "code": CLOSE_FORBIDDEN_ORIGIN})


class CloseCodesAtHandshake:
    """Turn a close sent before the accept into accept + close, so the client receives the close code."""

    def __init__(self, application: ASGIApp) -> None:
        self.application = application

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Run the inner application with a ``send`` that accepts before a handshake-time close."""
        accepted = closed = False

        async def send_with_code(message: Message) -> None:
            nonlocal accepted, closed
            if message["type"] == "websocket.accept":
                accepted = True
            elif message["type"] == "websocket.close":
                if not accepted:
                    accepted = True
                    await send({"type": "websocket.accept"})
                closed = True
            await send(message)

        code = None
        try:
            await self.application(scope, receive, send_with_code)
        except (RedisConnectionError, RedisTimeoutError, ConnectionError) as error:
            logger.warning("WebSocket %s: Redis (channel layer) unreachable: %s", scope.get("path"), error)
            code = CLOSE_TRY_AGAIN_LATER
        except Exception as error:
            if is_pool_exhausted(error):
                logger.warning("WebSocket %s: no database connection came free in time", scope.get("path"))
                code = CLOSE_TRY_AGAIN_LATER
            else:
                logger.exception("WebSocket %s failed", scope.get("path"))
                code = CLOSE_INTERNAL_ERROR
        if code is not None and not closed:
            with contextlib.suppress(Exception):  # the client may be gone already
                await send_with_code({"type": "websocket.close", "code": code})


class NotFoundConsumer(AsyncWebsocketConsumer):
    """The socket of a path no route serves: closed with 4404."""

    async def connect(self) -> None:
        """Refuse the handshake with 4404."""
        await self.close(code=CLOSE_NOT_FOUND)


def close_oversize_messages_with_1009() -> None:
    """Make daphne answer a message over its size limit with a 1009 close frame and a reason.

    daphne's WebSocket layer (autobahn) fails such a connection by dropping TCP (``failByDrop``,
    which daphne offers no option for), so the client sees 1006 and no reason. autobahn takes a
    protocol class's own value of an option before the factory's; with ``failByDrop`` off it
    sends a close frame instead (the same goes for protocol errors: 1002, invalid UTF-8: 1007).
    """
    from daphne.ws_protocol import WebSocketProtocol

    WebSocketProtocol.failByDrop = False
