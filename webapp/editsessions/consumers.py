"""The edit-session socket ``/ws/sessions/<id>/``: live stack operations, presence, previews and jobs.

Thin: each message is parsed by ``protocol``, then handed to the editsessions (or jobs) service
functions that REST uses; permissions come from ``webapp.teams.permissions`` through them. The
consumer subscribes to the session's, the team's and the session jobs' event groups of
``webapp.events`` and relays what its client needs. docs/protocol.md ("Edit session") lists
every message, field and error code.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

from channels.db import database_sync_to_async
from django.core.exceptions import PermissionDenied
from django.http import Http404

from webapp import events
from webapp.errors import ServiceError
from webapp.library.models import EditVector
from webapp.teams.permissions import Action, can, get_team_object_or_404, role_in
from webapp.teams.sockets import MembershipAwareConsumer

from . import services
from .models import EditSession
from .protocol import OPERATIONS, ClientMessage, ProtocolError, parse_client_text
from .serializers import EditSessionSerializer

CLOSE_UNAUTHENTICATED = 4401
CLOSE_NOT_FOUND = 4404
# Participants' colours, picked by user id so a person keeps theirs across reconnects.
PRESENCE_COLOURS = ("#e6194b", "#3cb44b", "#4363d8", "#f58231", "#911eb4", "#42d4f4", "#f032e6", "#9a6324")
FINISHED_JOB_STATUSES = frozenset({"succeeded", "failed", "cancelled"})


def presence_colour(user_id: int) -> str:
    """The display colour of a participant."""
    return PRESENCE_COLOURS[user_id % len(PRESENCE_COLOURS)]


def session_state(session_id: int) -> dict[str, Any]:
    """The session's full current state as sent to clients (the REST serializer's shape)."""
    session = EditSession.objects.prefetch_related("entries", "participants").get(pk=session_id)
    return dict(EditSessionSerializer(session).data)


class SessionConsumer(MembershipAwareConsumer):
    """One participant's connection to one edit session."""

    def access_close_code(self) -> int | None:
        """4404 once the user may no longer see the session (re-checked on membership changes)."""
        try:
            get_team_object_or_404(self.user, EditSession, self.session_id, Action.VIEW)
        except Http404:
            return CLOSE_NOT_FOUND
        return None

    async def connect(self) -> None:
        """Check access (any member may watch), join the event groups, accept and send the full state."""
        self.user = self.scope.get("user")
        if self.user is None or not self.user.is_authenticated:
            await self.close(code=CLOSE_UNAUTHENTICATED)
            return
        try:
            session, role, can_edit = await database_sync_to_async(self.open_session)()
        except Http404:
            await self.close(code=CLOSE_NOT_FOUND)
            return
        self.session_id, self.team_id = session.pk, session.image.team_id
        self.client_id = uuid.uuid4().hex[:12]
        self.presence = {
            "client_id": self.client_id,
            "user": self.user.get_username(),
            "colour": presence_colour(self.user.pk),
            "role": role,
            "tool": "",
            "pointer": None,
        }
        self.sent_revision = -1
        self.shown_frame = -1
        self.groups_joined: set[str] = set()
        await self.join(events.session_group(self.session_id))
        await self.join(events.team_group(self.team_id))
        await self.join(events.user_group(self.user.pk))
        await self.accept()
        jobs = await database_sync_to_async(self.session_jobs)()
        for job in jobs:
            await self.join(events.job_group(job["job_id"]))
        await self.send_state(request_id=None, jobs=jobs, can_edit=can_edit)
        await self.announce("presence.hello")
        await database_sync_to_async(services.request_render)(self.user, session)

    def open_session(self) -> tuple[EditSession, str, bool]:
        """The session (404 outside the user's teams), the user's role, whether they may edit; joins it."""
        session_id = self.scope["url_route"]["kwargs"]["session_id"]
        session = get_team_object_or_404(
            self.user, EditSession.objects.select_related("image__team"), session_id, Action.VIEW
        )
        services.join_session(self.user, session)
        team = session.image.team
        return session, role_in(self.user, team) or "", can(self.user, team, Action.EDIT)

    def session_jobs(self) -> list[dict[str, Any]]:
        """The session's queued and running jobs as job events."""
        session = EditSession.objects.get(pk=self.session_id)
        return [dict(events.job_changed(job, "status")) for job in services.active_session_jobs(session)]

    async def join(self, group: str) -> None:
        """Subscribe to an event group."""
        if group not in self.groups_joined:
            self.groups_joined.add(group)
            await self.channel_layer.group_add(group, self.channel_name)

    async def disconnect(self, code: int) -> None:
        """Tell the others this participant left; leave every group."""
        if not hasattr(self, "groups_joined"):
            return
        await self.announce("presence.leave")
        for group in self.groups_joined:
            await self.channel_layer.group_discard(group, self.channel_name)

    async def announce(self, kind: str) -> None:
        """Publish this connection's presence (``presence.hello``, ``.update`` or ``.leave``)."""
        event = events.Presence(type=kind, session_id=self.session_id, **self.presence)  # type: ignore[typeddict-item]
        await events.publish_from_consumer(events.session_group(self.session_id), event, self.channel_layer)

    async def send_json(self, message: dict[str, Any]) -> None:
        """Send one JSON text message."""
        await self.send(text_data=json.dumps(message))

    async def send_state(
        self, request_id: int | None, jobs: list[dict[str, Any]] | None = None, can_edit: bool | None = None
    ) -> None:
        """Send the full state (on connect, on ``sync``, and as ``stack`` after every change)."""
        state = await database_sync_to_async(session_state)(self.session_id)
        self.sent_revision = max(self.sent_revision, state["revision"])
        message: dict[str, Any] = {
            "type": "state" if jobs is not None else "stack",
            "request_id": request_id,
            "session": state,
        }
        if jobs is not None:
            message.update(you=self.presence, can_edit=can_edit, jobs=jobs)
        await self.send_json(message)

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        """Handle one client message; every refusal is an ``error`` message and the socket stays usable."""
        if text_data is None:
            await self.send_json(
                ProtocolError("binary_not_accepted", "send messages as JSON text").as_message()
            )
            return
        message: ClientMessage | None = None
        try:
            message = parse_client_text(text_data)
            await self.handle(message)
        except ProtocolError as error:
            await self.send_json(error.as_message())
        except services.StaleRevision as stale:
            await self.refuse(message, stale.code, stale.message, {"revision": stale.session.revision})
        except ServiceError as error:
            await self.refuse(message, error.code, error.message, error.details)
        except PermissionDenied as error:
            await self.refuse(message, "permission_denied", str(error) or "Your role does not allow this.")
        except Http404:
            await self.refuse(message, "not_found", "No such object in this session's team.")

    async def refuse(self, message: ClientMessage | None, code: str, text: str, details: Any = None) -> None:
        """Send an error answering ``message``."""
        request_id = message.request_id if message is not None else None
        await self.send_json(ProtocolError(code, text, request_id, details).as_message())

    async def handle(self, message: ClientMessage) -> None:
        """Dispatch a valid message to its handler."""
        if message.type in OPERATIONS:
            applied = await database_sync_to_async(self.apply_operation)(message)
            await self.send_json(
                {
                    "type": "ack",
                    "request_id": message.request_id,
                    "op_id": message.fields["op_id"],
                    "revision": applied.revision,
                    "entry": applied.entry_id,
                    "duplicate": applied.duplicate,
                }
            )
        elif message.type == "presence":
            self.presence.update(tool=message.fields["tool"], pointer=message.fields["pointer"])
            await self.announce("presence.update")
        elif message.type == "sync":
            await self.send_state(
                message.request_id,
                jobs=await database_sync_to_async(self.session_jobs)(),
                can_edit=await database_sync_to_async(self.may_edit)(),
            )
        else:
            reply = await database_sync_to_async(self.run_action)(message)
            await self.send_json({"type": "ack", "request_id": message.request_id, **reply})

    def may_edit(self) -> bool:
        """Whether the user may change the session now."""
        return can(
            self.user,
            EditSession.objects.select_related("image__team").get(pk=self.session_id).image.team,
            Action.EDIT,
        )

    def current_session(self) -> EditSession:
        """The session, re-read (it may have been deleted: then 404)."""
        session = (
            EditSession.objects.select_related("image__model", "image__team")
            .filter(pk=self.session_id)
            .first()
        )
        if session is None:
            raise Http404("The session was deleted.")
        return session

    def apply_operation(self, message: ClientMessage) -> services.AppliedOperation:
        """Apply a stack operation through the service (which checks the user's role)."""
        fields = dict(message.fields)
        session = self.current_session()
        vector = None
        if message.type == "add_vector":
            vector = get_team_object_or_404(
                self.user, EditVector.objects.select_related("model"), fields["vector"], Action.VIEW
            )
        request = services.StackOperationRequest(
            kind=message.type,  # type: ignore[arg-type]
            base_revision=fields["base_revision"],
            op_id=fields["op_id"],
            entry_id=fields.get("entry"),
            vector=vector,
            scale=fields.get("scale"),
            enabled=fields.get("enabled"),
            position=fields.get("position"),
            mask=fields.get("mask"),
        )
        return services.apply_stack_operation(self.user, session, request)

    def run_action(self, message: ClientMessage) -> dict[str, Any]:
        """Segmentation, jobs and library saves; returns the fields of the ``ack``."""
        fields = message.fields
        session = self.current_session()
        if message.type == "segment":
            return {"queued": services.request_render(self.user, session, segmentation=True)}
        if message.type in ("optimize", "refine"):
            job_type = "optimize_edit" if message.type == "optimize" else "refine"
            job = services.start_session_job(
                self.user, session, job_type, fields["entry"], fields["steps"], fields["name"]
            )
            return {"job": job.pk}
        if message.type == "cancel_job":
            from webapp.jobs import services as jobs

            job = jobs.job_for_viewer(self.user, fields["job"])
            if job.parameters.get("entry") not in set(session.entries.values_list("pk", flat=True)):
                raise Http404("No such job in this session.")
            return {"job": jobs.request_cancel(self.user, job).pk}
        vector = services.save_stack_as_vector(
            self.user, session, fields["name"], fields["description"], fields["tags"]
        )
        return {"vector": vector.pk}

    async def domain_event(self, message: dict[str, Any]) -> None:
        """Relay one event of a subscribed group to the client."""
        event = message["event"]
        if await self.screen_event(event):
            return
        kind = event["type"]
        if kind == "session.stack_changed":
            if event["revision"] > self.sent_revision:
                await self.send_state(request_id=None)
        elif kind == "session.frame":
            await self.send_frame(event)
        elif kind == "session.render_failed":
            await self.send_json(
                {
                    "type": "render_failed",
                    "revision": event["revision"],
                    "code": event["code"],
                    "message": event["message"],
                }
            )
        elif kind == "session.vector_ready":
            await self.send_json(
                {"type": "vector_ready", "entry": event["entry_id"], "vector": event["vector_id"]}
            )
        elif kind == "session.job_started":
            await self.join(events.job_group(event["job_id"]))
            await self.send_json(
                {
                    "type": "job_started",
                    "job": event["job_id"],
                    "job_type": event["job_type"],
                    "entry": event["entry_id"],
                    "user": event["user"],
                }
            )
        elif kind in ("job.progress", "job.status"):
            await self.send_json({**event, "type": "job", "event": kind.split(".")[1]})
            if event["status"] in FINISHED_JOB_STATUSES:
                self.groups_joined.discard(events.job_group(event["job_id"]))
                await self.channel_layer.group_discard(events.job_group(event["job_id"]), self.channel_name)
        elif kind == "job.preview":
            header = {"type": "frame", "kind": "job_preview", "job": event["job_id"], "step": event["step"],
                      "total": event["total"], "mime": "image/png", "bytes": len(event["png"])}
            await self.send_json(header)
            await self.send(bytes_data=event["png"])
        elif kind.startswith("vector."):
            await self.send_json(
                {"type": "library", "change": kind.split(".")[1], "vector": event["vector_id"]}
            )
        elif kind.startswith("presence.") and event["client_id"] != self.client_id:
            await self.relay_presence(event)

    async def relay_presence(self, event: dict[str, Any]) -> None:
        """Forward another participant's presence; answer a newcomer's hello with ours."""
        kind = event["type"].split(".")[1]
        client = {key: event[key] for key in ("client_id", "user", "colour", "role", "tool", "pointer")}
        await self.send_json(
            {
                "type": "presence",
                "event": "leave" if kind == "leave" else "join" if kind == "hello" else "update",
                "client": client,
            }
        )
        if kind == "hello":
            await self.announce("presence.update")

    async def send_frame(self, event: dict[str, Any]) -> None:
        """Send a frame (header + PNG, then the segmentation likewise) unless a newer one was shown."""
        if event["revision"] < self.shown_frame:
            return
        self.shown_frame = event["revision"]
        header = {
            "type": "frame",
            "revision": event["revision"],
            "width": event["width"],
            "height": event["height"],
            "render_ms": event["render_ms"],
            "mime": "image/png",
        }
        await self.send_json({**header, "kind": "image", "bytes": len(event["png"])})
        await self.send(bytes_data=event["png"])
        if event["segmentation_png"] is not None:
            await self.send_json({**header, "kind": "segmentation", "bytes": len(event["segmentation_png"])})
            await self.send(bytes_data=event["segmentation_png"])
