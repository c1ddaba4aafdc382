"""The edit studio page of a session: members only, edit controls by role, CSP-safe HTML, its data block."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from django.test import Client

from tests.webapp.pages import inline_code, signed_in
from webapp.editsessions import services
from webapp.teams.models import Role

pytestmark = pytest.mark.django_db


@pytest.fixture
def lab(make_user: Any, make_team: Any, make_model: Any, make_image: Any) -> dict[str, Any]:
    """An owner, a viewer, an outsider, and one session on an image of the owner's team."""
    owner, viewer, outsider = make_user("owner"), make_user("viewer"), make_user("outsider")
    team = make_team("Lab", {owner: Role.OWNER, viewer: Role.VIEWER})
    make_team("Other", {outsider: Role.OWNER})
    session = services.create_session(owner, make_image(make_model(team)), "Smile study")
    return {"owner": owner, "viewer": viewer, "outsider": outsider, "session": session}


def page_data(html: str) -> dict[str, Any]:
    """The page's JSON data block."""
    match = re.search(r'<script id="session-data" type="application/json">(.*?)</script>', html, re.S)
    assert match, "no session-data block"
    return json.loads(match.group(1))


def test_an_owner_gets_the_studio_with_edit_controls(lab: dict[str, Any]) -> None:
    response = signed_in(lab["owner"]).get(f"/sessions/{lab['session'].pk}/")
    html = response.content.decode()
    data = page_data(html)
    assert response.status_code == 200 and "Smile study" in html
    assert data["socket"] == f"/ws/sessions/{lab['session'].pk}/" and data["can_edit"] is True
    assert data["model"]["resolution"] == 16 and [label["name"] for label in data["model"]["labels"]][:2] == [
        "background", "skin"]
    assert 'id="add-mask-edit"' in html and 'id="save-vector"' in html
    assert inline_code(html) == []


def test_a_viewer_watches_without_edit_controls(lab: dict[str, Any]) -> None:
    html = signed_in(lab["viewer"]).get(f"/sessions/{lab['session'].pk}/").content.decode()
    assert page_data(html)["can_edit"] is False
    assert not any(f'id="{control}"' in html for control in ("add-mask-edit", "save-vector", "add-vector"))


def test_other_teams_and_anonymous_users_do_not_get_it(lab: dict[str, Any]) -> None:
    path = f"/sessions/{lab['session'].pk}/"
    assert signed_in(lab["outsider"]).get(path).status_code == 404
    assert Client().get(path).status_code == 302
