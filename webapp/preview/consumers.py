"""The preview WebSocket consumer: validate render requests, queue renders, forward PNG frames.

Coalescing: at most one render per connection is queued on Celery at a time. A request that
arrives meanwhile waits in a single slot, which the next request replaces ("latest wins"), so a
fast-moving slider never builds a backlog on the worker.
"""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass
from typing import Any

from asgiref.sync import sync_to_async
from channels.db import database_sync_to_async
from kombu.exceptions import OperationalError

from webapp import events
from webapp.preview import services
from webapp.preview.protocol import ProtocolError, RenderRequest, parse_client_text
from webapp.teams.sockets import MembershipAwareConsumer

CLOSE_UNAUTHENTICATED = 4401
CLOSE_FORBIDDEN = 4403


@dataclass(frozen=True)
class PendingRender:
    """The render of this connection that a worker is working on."""

    render_id: str
    request: RenderRequest
    started: float


class PreviewConsumer(MembershipAwareConsumer):
    """One browser's preview socket at ``/ws/preview/``; docs/protocol.md describes its messages."""

    # A render unanswered for this long no longer blocks newer requests (e.g. its worker died).
    stall_seconds = 30.0

    def access_close_code(self) -> int | None:
        """4401 when not signed in, 4403 outside every team holding the server's model, else None."""
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            return CLOSE_UNAUTHENTICATED
        return None if services.may_preview(user) else CLOSE_FORBIDDEN

    async def connect(self) -> None:
        """Check access, join this connection's private group (render tasks send frames to it), accept."""
        code = await database_sync_to_async(self.access_close_code)()
        if code is not None:
            await self.close(code=code)
            return
        self.group = events.preview_group()
        self.in_flight: PendingRender | None = None
        self.waiting: RenderRequest | None = None
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self.follow_memberships()
        await self.accept()

    async def disconnect(self, code: int) -> None:
        """Leave the groups; frames of renders still in flight are then dropped by the layer."""
        if hasattr(self, "group"):
            await self.channel_layer.group_discard(self.group, self.channel_name)
        await self.stop_following_memberships()

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        """Handle one client frame: a JSON render request, or an error reply; the socket stays open."""
        if text_data is None:
            refusal = ProtocolError("binary_not_accepted", "send requests as JSON text")
            await self.send_message(refusal.as_message())
            return
        try:
            request = parse_client_text(text_data)
        except ProtocolError as error:
            await self.send_message(error.as_message())
            return
        if self.in_flight is None or time.monotonic() - self.in_flight.started > self.stall_seconds:
            await self.start_render(request)
        else:
            self.waiting = request

    async def start_render(self, request: RenderRequest) -> None:
        """Spend one of the user's renders, queue ``request`` on Celery and remember it as in flight."""
        try:
            await sync_to_async(services.spend_render, thread_sensitive=False)(self.scope["user"].pk)
        except services.RenderBudgetSpent as spent:
            await self.send_message(
                ProtocolError("rate_limited", f"too many renders; try again in {spent.retry_after:.0f} s",
                              request.request_id).as_message()
            )
            return
        render_id = uuid.uuid4().hex
        self.in_flight = PendingRender(render_id, request, time.monotonic())
        try:
            enqueue = sync_to_async(services.enqueue_render, thread_sensitive=False)
            await enqueue(self.group, request, render_id)
        except OperationalError:
            self.in_flight = None
            await self.send_message(
                ProtocolError("queue_unavailable", "the render queue is unreachable; try again shortly",
                              request.request_id).as_message()
            )

    async def domain_event(self, message: dict[str, Any]) -> None:
        """Handle an event of this connection's group: a frame or a failure of a render."""
        event = message["event"]
        if await self.screen_event(event):
            return
        if event["type"] == "preview.frame":
            await self.forward_frame(event)
        elif event["type"] == "preview.failed":
            await self.report_failure(event)

    async def forward_frame(self, event: dict[str, Any]) -> None:
        """Forward a rendered frame: a JSON ``frame`` header, then the PNG as one binary message."""
        request = self.take_in_flight(event["request_id"])
        if request is None:
            return
        await self.send_message(
            {
                "type": "frame",
                "request_id": request.request_id,
                "seed": event["seed"],
                "psi": event["psi"],
                "width": event["width"],
                "height": event["height"],
                "render_ms": event["render_ms"],
                "mime": "image/png",
                "bytes": len(event["png"]),
            }
        )
        await self.send(bytes_data=event["png"])
        await self.start_waiting()

    async def report_failure(self, event: dict[str, Any]) -> None:
        """Report a render that failed on the worker."""
        request = self.take_in_flight(event["request_id"])
        if request is None:
            return
        failure = ProtocolError("render_failed", f"the render failed: {event['message']}", request.request_id)
        await self.send_message(failure.as_message())
        await self.start_waiting()

    def take_in_flight(self, render_id: str) -> RenderRequest | None:
        """Clear and return the request in flight if ``render_id`` is it; None for a superseded render."""
        if self.in_flight is None or self.in_flight.render_id != render_id:
            return None
        request = self.in_flight.request
        self.in_flight = None
        return request

    async def start_waiting(self) -> None:
        """Start the request that waited while the previous render ran, if any."""
        if self.waiting is not None:
            request, self.waiting = self.waiting, None
            await self.start_render(request)

    async def send_message(self, message: dict[str, Any]) -> None:
        """Send one JSON text message."""
        await self.send(text_data=json.dumps(message))
