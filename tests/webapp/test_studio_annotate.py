"""The annotation page view: who may open it, what it tells the page, and that it stays CSP-safe."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client

from webapp.assets.models import Image
from webapp.teams.models import Role, Team

from .conftest import create_model
from .test_studio_pages import inline_code, signed_in

pytestmark = pytest.mark.django_db


@pytest.fixture
def lab(make_user: Callable[[str], Any], make_team: Callable[..., Team],
        make_image: Callable[..., Image]) -> dict[str, Any]:
    """A team with a user of each role, a model with three images, and an outsider."""
    users = {role: make_user(role) for role in Role.values}
    team = make_team("Face lab", {users[role]: role for role in Role.values})
    model = create_model(team)
    images = [make_image(model, f"photo {i}") for i in range(3)]
    outsider = make_user("outsider")
    make_team("Other lab", {outsider: Role.OWNER})
    return {"users": users, "team": team, "model": model, "images": images, "outsider": outsider}


def page_data(html: str) -> dict[str, Any]:
    """The JSON block the page's modules read."""
    start = html.index('<script id="annotate-data" type="application/json">') + len(
        '<script id="annotate-data" type="application/json">')
    return json.loads(html[start:html.index("</script>", start)])


def test_needs_a_signed_in_member(lab: dict[str, Any]) -> None:
    path = f"/images/{lab['images'][0].pk}/annotate/"
    assert Client().get(path)["Location"].startswith("/sign-in/?next=")
    assert signed_in(lab["outsider"]).get(path).status_code == 404
    assert signed_in(lab["users"][Role.OWNER]).get("/images/999999/annotate/").status_code == 404


def annotate_html(user: Any, image: Image) -> str:
    """The annotation page of ``image`` as ``user`` sees it."""
    return signed_in(user).get(f"/images/{image.pk}/annotate/").content.decode()


@pytest.mark.parametrize(("role", "editable"), [(Role.OWNER, True), (Role.EDITOR, True),
                                                (Role.ANNOTATOR, True), (Role.VIEWER, False)])
def test_annotators_get_tools_viewers_a_read_only_page(lab: dict[str, Any], role: str,
                                                       editable: bool) -> None:
    html = annotate_html(lab["users"][role], lab["images"][1])

    assert ('id="tools"' in html) is editable
    assert ('id="save-button"' in html) is editable
    assert ('id="predict-button"' in html) is editable
    assert page_data(html)["can_annotate"] is editable
    assert inline_code(html) == []


def test_page_data_has_taxonomy_neighbours_and_api_paths(lab: dict[str, Any]) -> None:
    first, middle, last = lab["images"]
    data = page_data(annotate_html(lab["users"][Role.ANNOTATOR], middle))

    labels = list(lab["model"].labels.order_by("index").values("index", "name", "colour", "is_context"))
    assert data["model"] == {"id": lab["model"].pk, "name": lab["model"].name,
                             "resolution": lab["model"].resolution, "labels": labels}
    assert data["urls"]["previous"] == f"/images/{first.pk}/annotate/"
    assert data["urls"]["next"] == f"/images/{last.pk}/annotate/"
    assert data["urls"]["image"] == f"/api/images/{middle.pk}/normalized/"
    assert data["urls"]["annotations"] == f"/api/images/{middle.pk}/annotations/"
    edge = page_data(annotate_html(lab["users"][Role.ANNOTATOR], last))
    assert edge["urls"]["next"] is None
    # Uploaded images have no latent yet and the model no branch: Predict is offered but disabled.
    assert data["predict"] == {"branch": None, "has_latent": False}
    assert data["urls"]["jobs"] == "/api/jobs/"


def test_the_page_shows_the_image_team_even_when_another_is_current(lab: dict[str, Any],
                                                                   make_team: Callable[..., Team]) -> None:
    owner = lab["users"][Role.OWNER]
    other = make_team("Second lab", {owner: Role.VIEWER})
    client = signed_in(owner)
    client.get(f"/dataset/?team={other.pk}")

    html = client.get(f"/images/{lab['images'][0].pk}/annotate/").content.decode()

    assert f'data-team="{lab["team"].pk}"' in html
    assert 'data-role="owner"' in html
    assert 'id="tools"' in html


@pytest.mark.parametrize("path", ["/static/annotate/main.js", "/static/canvas/editor.js"])
def test_modules_are_served(client: Client, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 200
    assert "javascript" in response["Content-Type"]
