"""The job progress socket ``/ws/jobs/<id>/``: a read-only stream of one job's events.

On connect the requester's access is checked by the teams permission module (the same rule
as ``GET /api/jobs/<id>/``); a refused handshake closes with 4401 (not signed in), 4403
(role too low) or 4404 (no such job in the user's teams). The check runs again whenever one of
the user's memberships changes, and the socket closes with the same codes once access is gone.
An accepted client first gets a ``snapshot`` and then every ``progress`` and ``status`` event
of the job (docs/jobs.md): the ``job.progress`` and ``job.status`` events of ``webapp.events``,
with the ``job.`` prefix dropped from their type.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from channels.db import database_sync_to_async
from django.core.exceptions import PermissionDenied
from django.http import Http404

from webapp import events
from webapp.jobs import services
from webapp.jobs.models import Job
from webapp.teams.sockets import MembershipAwareConsumer

CLOSE_UNAUTHENTICATED = 4401
CLOSE_FORBIDDEN = 4403
CLOSE_NOT_FOUND = 4404


class JobConsumer(MembershipAwareConsumer):
    """Streams one job's snapshot, progress and status events to a member of the job's team."""

    def access_close_code(self) -> int | None:
        """None while the user may see the job, else 4401, 4403 or 4404 (re-run on membership changes)."""
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            return CLOSE_UNAUTHENTICATED
        try:
            services.job_for_viewer(user, self.scope["url_route"]["kwargs"]["job_id"])
        except Http404:
            return CLOSE_NOT_FOUND
        except PermissionDenied:
            return CLOSE_FORBIDDEN
        return None

    async def connect(self) -> None:
        """Check access, join the job's group, accept and send the current state."""
        code = await database_sync_to_async(self.access_close_code)()
        if code is not None:
            await self.close(code=code)
            return
        job_id = self.scope["url_route"]["kwargs"]["job_id"]
        self.group = events.job_group(job_id)
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self.follow_memberships()
        await self.accept()
        # Read the state after joining the group, so no event falls between snapshot and stream.
        current = await database_sync_to_async(Job.objects.get)(pk=job_id)
        snapshot = client_message(events.job_changed(current, "status"), "snapshot")
        await self.send(text_data=json.dumps(snapshot))

    async def disconnect(self, code: int) -> None:
        """Leave the job's group."""
        if hasattr(self, "group"):
            await self.channel_layer.group_discard(self.group, self.channel_name)
        await self.stop_following_memberships()

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        """Answer any client message with an error: the socket only streams; cancel via the REST API."""
        await self.send(
            text_data=json.dumps(
                {"type": "error", "code": "read_only", "message": "This socket only streams job events; "
                 "cancel with POST /api/jobs/<id>/cancel/."}
            )
        )

    async def domain_event(self, message: dict[str, Any]) -> None:
        """Forward one job event published on the job's group."""
        event = message["event"]
        if await self.screen_event(event):
            return
        if event["type"] in ("job.progress", "job.status"):
            await self.send(text_data=json.dumps(client_message(event, event["type"].removeprefix("job."))))


def client_message(event: Mapping[str, Any], message_type: str) -> dict[str, Any]:
    """The socket message of a job event: its payload with ``type`` snapshot, progress or status."""
    return {**event, "type": message_type}
