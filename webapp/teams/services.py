"""Team and membership changes; every function checks permissions before it writes."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils.text import slugify

from webapp.errors import Conflict, InvalidInput

from .models import Membership, Role, Team
from .permissions import Action, require


def _unique_slug(name: str) -> str:
    """A slug derived from ``name`` that no team uses yet."""
    base = slugify(name)[:90] or "team"
    slug, suffix = base, 2
    while Team.objects.filter(slug=slug).exists():
        slug, suffix = f"{base}-{suffix}", suffix + 1
    return slug


def create_team(user: Any, name: str) -> Team:
    """Create a team whose first owner is ``user``."""
    name = name.strip()
    if not name:
        raise InvalidInput("A team needs a name.", code="invalid_name")
    with transaction.atomic():
        team = Team.objects.create(name=name, slug=_unique_slug(name))
        Membership.objects.create(team=team, user=user, role=Role.OWNER)
    return team


def rename_team(actor: Any, team: Team, name: str) -> Team:
    """Rename ``team`` (owners only)."""
    require(actor, team, Action.MANAGE_MEMBERS)
    name = name.strip()
    if not name:
        raise InvalidInput("A team needs a name.", code="invalid_name")
    team.name = name
    team.save(update_fields=["name"])
    return team


def add_member(actor: Any, team: Team, username: str, role: str) -> Membership:
    """Add the user called ``username`` to ``team`` with ``role`` (owners only)."""
    require(actor, team, Action.MANAGE_MEMBERS)
    if role not in Role.values:
        raise InvalidInput(
            f"Unknown role {role!r}; use one of {', '.join(Role.values)}.", code="invalid_role"
        )
    user = get_user_model().objects.filter(username=username).first()
    if user is None:
        raise InvalidInput(f"No user is called {username!r}.", code="unknown_user")
    with transaction.atomic():
        if Membership.objects.filter(team=team, user=user).exists():
            raise Conflict(f"{username} is already a member of this team.", code="already_member")
        return Membership.objects.create(team=team, user=user, role=role)


def _check_keeps_an_owner(membership: Membership) -> None:
    """Refuse a change that would leave the membership's team without an owner (inside a transaction).

    The team row is locked first (``SELECT ... FOR UPDATE`` that is really executed: Django drops
    FOR UPDATE from ``count()``), so concurrent owner changes of one team run one after the other
    and each counts the owners the previous one left.
    """
    if membership.role != Role.OWNER:
        return
    Team.objects.select_for_update().filter(pk=membership.team_id).first()
    owners = Membership.objects.filter(team=membership.team_id, role=Role.OWNER)
    if owners.count() <= 1:
        raise Conflict(
            "A team must keep at least one owner; make someone else owner first.", code="last_owner"
        )


def change_role(actor: Any, membership: Membership, role: str) -> Membership:
    """Give a member a new role (owners only); the last owner cannot be demoted."""
    require(actor, membership.team, Action.MANAGE_MEMBERS)
    if role not in Role.values:
        raise InvalidInput(
            f"Unknown role {role!r}; use one of {', '.join(Role.values)}.", code="invalid_role"
        )
    with transaction.atomic():
        if role != Role.OWNER:
            _check_keeps_an_owner(membership)
        membership.role = role
        membership.save(update_fields=["role"])
    return membership


def remove_member(actor: Any, membership: Membership) -> None:
    """Remove a member (owners), or leave a team (anyone); the last owner cannot go."""
    if membership.user_id != actor.pk:
        require(actor, membership.team, Action.MANAGE_MEMBERS)
    with transaction.atomic():
        _check_keeps_an_owner(membership)
        membership.delete()
