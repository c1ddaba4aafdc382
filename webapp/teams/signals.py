"""Membership changes reach open sockets: every save or delete of a membership, by the services or
in the admin, and every save of a deactivated account, publishes ``membership.changed`` to the
user's group once it has committed."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from webapp import events

from .models import Membership


@receiver(post_save, sender=Membership, dispatch_uid="membership-saved")
def membership_saved(sender: Any, instance: Membership, **kwargs: Any) -> None:
    """Tell the user's sockets their role in a team is new or changed."""
    event = events.membership_changed(instance.team_id, instance.user_id, instance.role)
    events.publish_after_commit(events.user_group(instance.user_id), event)


@receiver(post_save, sender=settings.AUTH_USER_MODEL, dispatch_uid="user-deactivated")
def user_saved(sender: Any, instance: Any, **kwargs: Any) -> None:
    """Tell a deactivated user's sockets to re-check (they close: the account may not sign in)."""
    if not instance.is_active:
        event = events.membership_changed(None, instance.pk, None)
        events.publish_after_commit(events.user_group(instance.pk), event)


@receiver(post_delete, sender=Membership, dispatch_uid="membership-deleted")
def membership_deleted(sender: Any, instance: Membership, **kwargs: Any) -> None:
    """Tell the user's sockets they are no longer in a team."""
    event = events.membership_changed(instance.team_id, instance.user_id, None)
    events.publish_after_commit(events.user_group(instance.user_id), event)
