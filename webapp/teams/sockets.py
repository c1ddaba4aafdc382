"""WebSockets that follow their user's memberships, so access is never only checked at connect.

A consumer checks access at connect as usual, then joins its user's ``user.<id>`` group. Every
change of one of the user's memberships (a new role, a removal, in the API or in the admin)
publishes ``membership.changed`` there (``webapp/teams/signals.py``), as does deactivating the
account; the consumer then runs its access check again (4401 for a deactivated account) and
closes with the code it returns, dropping every event after that.
"""

from __future__ import annotations

from typing import Any

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer
from django.contrib.auth import get_user_model

from webapp import events

CLOSE_DEACTIVATED = 4401


class MembershipAwareConsumer(AsyncWebsocketConsumer):
    """Base of every socket that shows a team's data or costs compute; see the module docstring."""

    access_revoked = False

    def access_close_code(self) -> int | None:
        """The close code if the user may no longer keep this socket, else None (runs in a DB thread)."""
        raise NotImplementedError

    def recheck_access(self) -> int | None:
        """``access_close_code`` for a user whose account is still active, else 4401 (a DB thread)."""
        user_id = self.scope["user"].pk
        if not get_user_model().objects.filter(pk=user_id, is_active=True).exists():
            return CLOSE_DEACTIVATED
        return self.access_close_code()

    async def follow_memberships(self) -> None:
        """Join the user's membership group; call once access has been granted."""
        self.membership_group = events.user_group(self.scope["user"].pk)
        await self.channel_layer.group_add(self.membership_group, self.channel_name)

    async def stop_following_memberships(self) -> None:
        """Leave the user's membership group (from ``disconnect``)."""
        if group := getattr(self, "membership_group", None):
            await self.channel_layer.group_discard(group, self.channel_name)

    async def screen_event(self, event: dict[str, Any]) -> bool:
        """Re-check access on a membership change (closing if gone); True if ``event`` must not be relayed."""
        if event.get("type") == "membership.changed" and not self.access_revoked:
            code = await database_sync_to_async(self.recheck_access)()
            if code is not None:
                self.access_revoked = True
                await self.close(code=code)
            return True
        return self.access_revoked
