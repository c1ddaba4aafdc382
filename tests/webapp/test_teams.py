"""Teams, memberships and roles through the API and the service layer."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.exceptions import PermissionDenied
from django.http import Http404

from webapp.assets.models import GeneratorModel
from webapp.teams.models import Membership, Role
from webapp.teams.permissions import ALLOWED_ROLES, Action, can, get_team_object_or_404, require

pytestmark = pytest.mark.django_db


def test_creating_a_team_makes_the_creator_owner(make_user: Any, client_for: Any) -> None:
    alice = make_user("alice")
    response = client_for(alice).post("/api/teams/", {"name": "Face Lab"})

    assert response.status_code == 201
    assert response.json()["role"] == "owner" and response.json()["slug"] == "face-lab"
    assert Membership.objects.get(user=alice).role == Role.OWNER


def test_new_team_gets_the_bundled_model_registered(make_user: Any, client_for: Any, settings: Any) -> None:
    settings.PARTEDIT_REGISTER_MODEL_FOR_NEW_TEAMS = True
    response = client_for(make_user("alice")).post("/api/teams/", {"name": "Lab"})

    model = GeneratorModel.objects.get(team_id=response.json()["id"])
    assert model.resolution == 64 and model.num_ws == 10
    assert [label.name for label in model.labels.all()][:3] == ["background", "skin", "neck"]


def test_team_list_shows_only_my_teams_with_my_role(make_user: Any, make_team: Any, client_for: Any) -> None:
    alice, bob = make_user("alice"), make_user("bob")
    make_team("Mine", {alice: Role.VIEWER})
    make_team("Theirs", {bob: Role.OWNER})

    body = client_for(alice).get("/api/teams/").json()

    assert [(team["name"], team["role"]) for team in body["results"]] == [("Mine", "viewer")]


def test_owner_adds_changes_and_removes_members(make_user: Any, make_team: Any, client_for: Any) -> None:
    alice, bob = make_user("alice"), make_user("bob")
    team = make_team("Lab", {alice: Role.OWNER})
    client = client_for(alice)

    added = client.post(f"/api/teams/{team.pk}/members/", {"username": "bob", "role": "annotator"})
    changed = client.patch(f"/api/teams/{team.pk}/members/{bob.pk}/", {"role": "editor"})
    removed = client.delete(f"/api/teams/{team.pk}/members/{bob.pk}/")

    assert added.status_code == 201 and added.json()["role"] == "annotator"
    assert changed.status_code == 200 and changed.json()["role"] == "editor"
    assert removed.status_code == 204
    assert not Membership.objects.filter(user=bob).exists()


def test_member_errors_are_clear(make_user: Any, make_team: Any, client_for: Any) -> None:
    alice = make_user("alice")
    team = make_team("Lab", {alice: Role.OWNER})
    client = client_for(alice)

    unknown = client.post(f"/api/teams/{team.pk}/members/", {"username": "nobody", "role": "viewer"})
    bad_role = client.post(f"/api/teams/{team.pk}/members/", {"username": "alice", "role": "king"})
    twice = client.post(f"/api/teams/{team.pk}/members/", {"username": "alice", "role": "viewer"})

    assert unknown.status_code == 400 and unknown.json()["error"]["code"] == "unknown_user"
    assert bad_role.status_code == 400 and "role" in bad_role.json()["error"]["details"]
    assert twice.status_code == 409 and twice.json()["error"]["code"] == "already_member"


def test_the_last_owner_can_neither_leave_nor_be_demoted(
    make_user: Any, make_team: Any, client_for: Any
) -> None:
    alice, bob = make_user("alice"), make_user("bob")
    team = make_team("Lab", {alice: Role.OWNER, bob: Role.VIEWER})
    client = client_for(alice)

    demote = client.patch(f"/api/teams/{team.pk}/members/{alice.pk}/", {"role": "editor"})
    leave = client.delete(f"/api/teams/{team.pk}/members/{alice.pk}/")

    assert demote.status_code == 409 and demote.json()["error"]["code"] == "last_owner"
    assert leave.status_code == 409
    client.patch(f"/api/teams/{team.pk}/members/{bob.pk}/", {"role": "owner"})
    assert client.delete(f"/api/teams/{team.pk}/members/{alice.pk}/").status_code == 204


def test_any_member_may_leave(make_user: Any, make_team: Any, client_for: Any) -> None:
    alice, bob = make_user("alice"), make_user("bob")
    team = make_team("Lab", {alice: Role.OWNER, bob: Role.VIEWER})

    assert client_for(bob).delete(f"/api/teams/{team.pk}/members/{bob.pk}/").status_code == 204


def test_permission_functions_hide_other_teams_and_refuse_low_roles(make_user: Any, make_team: Any) -> None:
    alice, bob = make_user("alice"), make_user("bob")
    team = make_team("Lab", {alice: Role.ANNOTATOR})

    assert can(alice, team, Action.ANNOTATE) and not can(alice, team, Action.EDIT)
    with pytest.raises(PermissionDenied, match="annotator"):
        require(alice, team, Action.EDIT)
    with pytest.raises(Http404):
        require(bob, team, Action.VIEW)
    with pytest.raises(Http404):
        get_team_object_or_404(bob, type(team), team.pk, Action.VIEW)
    assert get_team_object_or_404(alice, type(team), team.pk, Action.VIEW) == team


def test_the_action_table_orders_roles() -> None:
    counts = {role: sum(role in roles for roles in ALLOWED_ROLES.values()) for role in Role.values}
    assert counts["owner"] > counts["editor"] > counts["annotator"] > counts["viewer"] == 1


def test_token_auth_for_scripts(make_user: Any, make_team: Any) -> None:
    from rest_framework.test import APIClient

    make_team("Lab", {make_user("alice"): Role.OWNER})
    client = APIClient()
    token = client.post("/api/auth/token/", {"username": "alice", "password": "pw"}).json()["token"]
    wrong = client.post("/api/auth/token/", {"username": "alice", "password": "nope"})

    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    assert client.get("/api/me/").json()["teams"][0]["role"] == "owner"
    assert wrong.status_code == 400 and wrong.json()["error"]["code"] == "invalid"


def test_anonymous_requests_get_401_in_the_error_shape() -> None:
    from rest_framework.test import APIClient

    response = APIClient().get("/api/teams/")

    assert response.status_code == 401
    assert response.json()["error"]["code"] == "not_authenticated"
