"""Which team a studio page shows, the user's role in it, and what that role may do.

The team comes from ``?team=<id>`` (remembered in the session), else the session's last team,
else the user's first team. Every choice is checked by ``webapp.teams.permissions``: a team the
user is not a member of is 404, as everywhere else.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.contrib.auth.base_user import AbstractBaseUser
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest

from webapp.teams.models import Membership, Team
from webapp.teams.permissions import Action, can, get_team_object_or_404, role_in

SESSION_KEY = "studio_team"


@dataclass(frozen=True)
class StudioContext:
    """The signed-in user's teams, the current one, their role there and what it allows."""

    memberships: list[Membership]
    team: Team | None
    role: str | None
    can_edit: bool
    can_annotate: bool


def _requested_team(request: HttpRequest) -> Team | None:
    """The team named by ``?team=``, checked against the user's memberships (404 otherwise)."""
    raw = request.GET.get("team", "").strip()
    if not raw:
        return None
    if not raw.isdecimal():
        raise Http404("No such team.")
    return get_team_object_or_404(request.user, Team, int(raw), Action.VIEW)


def studio_context(request: HttpRequest, team: Team | None = None) -> StudioContext:
    """The studio context of a signed-in request; remembers an explicitly chosen team in the session.

    ``team`` (already permission-checked, e.g. the team of the image a page shows) overrides
    ``?team=`` and the session.
    """
    user = request.user
    if not isinstance(user, AbstractBaseUser):
        raise PermissionDenied("The studio's pages are for signed-in users.")
    memberships = list(
        Membership.objects.filter(user=user).select_related("team").order_by("team__name", "team_id")
    )
    team = team or _requested_team(request)
    if team is None:
        remembered = request.session.get(SESSION_KEY)
        by_id = {membership.team_id: membership.team for membership in memberships}
        team = by_id.get(remembered) if isinstance(remembered, int) else None
        team = team or (memberships[0].team if memberships else None)
    if team is None:
        return StudioContext(memberships, None, None, False, False)
    if request.session.get(SESSION_KEY) != team.pk:  # a session write per page view only when it changes
        request.session[SESSION_KEY] = team.pk
    return StudioContext(
        memberships=memberships,
        team=team,
        role=role_in(request.user, team),
        can_edit=can(request.user, team, Action.EDIT),
        can_annotate=can(request.user, team, Action.ANNOTATE),
    )
