"""The one permission module: who may do what to which team-owned object.

Every entry point (REST views, WebSocket consumers, file downloads, service functions) asks
here. Objects of teams the user is not a member of do not exist for them (``Http404``, never
their data); a member whose role does not allow the action gets ``PermissionDenied`` (403).
Each team-owned model names the path from itself to its team in a ``TEAM_PATH`` class
attribute (``""`` for ``Team`` itself, ``"team"``, ``"image__team"`` ...).
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any, TypeVar

from django.core.exceptions import PermissionDenied
from django.db.models import Model, QuerySet
from django.http import Http404

from .models import Membership, Role, Team

ModelT = TypeVar("ModelT", bound=Model)


class Action(StrEnum):
    """Things a member may do in a team."""

    VIEW = "view"
    ANNOTATE = "annotate"
    EDIT = "edit"
    MANAGE_LIBRARY = "manage_library"
    MANAGE_MEMBERS = "manage_members"


ALLOWED_ROLES: dict[Action, frozenset[str]] = {
    Action.VIEW: frozenset({Role.OWNER, Role.EDITOR, Role.ANNOTATOR, Role.VIEWER}),
    Action.ANNOTATE: frozenset({Role.OWNER, Role.EDITOR, Role.ANNOTATOR}),
    Action.EDIT: frozenset({Role.OWNER, Role.EDITOR}),
    Action.MANAGE_LIBRARY: frozenset({Role.OWNER, Role.EDITOR}),
    Action.MANAGE_MEMBERS: frozenset({Role.OWNER}),
}
"""The action -> roles table; nothing else in the code base decides permissions."""

ACTION_WORDS: dict[Action, str] = {
    Action.VIEW: "view this team's work",
    Action.ANNOTATE: "annotate images",
    Action.EDIT: "edit images, sessions and models",
    Action.MANAGE_LIBRARY: "create or change edit vectors",
    Action.MANAGE_MEMBERS: "manage the team and its members",
}


def _member_lookup(model: type[Model]) -> str:
    """The ORM lookup from ``model`` to the users who are members of its team."""
    path = model.TEAM_PATH  # type: ignore[attr-defined]
    return f"{path}__memberships__user" if path else "memberships__user"


def team_of(obj: Model) -> Team:
    """The team an object belongs to, following its model's ``TEAM_PATH``."""
    target: Any = obj
    path = type(obj).TEAM_PATH  # type: ignore[attr-defined]
    for part in path.split("__") if path else []:
        target = getattr(target, part)
    return target


def role_in(user: Any, team: Team) -> str | None:
    """The user's role in ``team``, or None when they are not a member (or not signed in)."""
    if not getattr(user, "is_authenticated", False):
        return None
    return Membership.objects.filter(team=team, user=user).values_list("role", flat=True).first()


def can(user: Any, team: Team, action: Action) -> bool:
    """Whether ``user`` may perform ``action`` in ``team``."""
    return role_in(user, team) in ALLOWED_ROLES[action]


def require(user: Any, team: Team, action: Action) -> str:
    """Return the user's role in ``team``; 404 if not a member, 403 if the role does not allow ``action``."""
    role = role_in(user, team)
    if role is None:
        raise Http404("No such team.")
    if role not in ALLOWED_ROLES[action]:
        raise PermissionDenied(
            f"Your role in this team ({role}) does not allow you to {ACTION_WORDS[action]}."
        )
    return role


def visible_to(user: Any, queryset: QuerySet[ModelT]) -> QuerySet[ModelT]:
    """``queryset`` restricted to objects of the teams ``user`` is a member of."""
    if not getattr(user, "is_authenticated", False):
        return queryset.none()
    return queryset.filter(**{_member_lookup(queryset.model): user})


def get_team_object_or_404(
    user: Any, model_or_queryset: type[ModelT] | QuerySet[ModelT], pk: Any, action: Action
) -> ModelT:
    """Fetch one object for ``action``: 404 if missing or in another team, 403 if the role is too low."""
    queryset = (
        model_or_queryset
        if isinstance(model_or_queryset, QuerySet)
        else model_or_queryset._default_manager.all()
    )
    try:
        obj = visible_to(user, queryset).filter(pk=pk).first()
    except (TypeError, ValueError):
        obj = None
    if obj is None:
        raise Http404(f"No such {queryset.model._meta.verbose_name}.")
    require(user, team_of(obj), action)
    return obj
