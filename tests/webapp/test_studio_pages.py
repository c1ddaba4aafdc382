"""The studio's page views: sign-in, team scoping, role-dependent controls, CSP-safe HTML."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client

from tests.webapp.pages import inline_code, signed_in
from webapp.assets.models import GeneratorModel
from webapp.studio.context import SESSION_KEY
from webapp.teams.models import Role, Team

PAGES = ["/dataset/", "/models/", "/jobs/", "/library/", "/sessions/", "/sample/"]
EDIT_CONTROLS = ['id="open-sample"', 'id="open-upload"', 'id="open-train"']

pytestmark = pytest.mark.django_db


@pytest.fixture
def lab(make_user: Callable[[str], Any], make_team: Callable[..., Team],
        make_model: Callable[..., GeneratorModel]) -> dict[str, Any]:
    """A team with a user of each role and a model, plus an outsider with a team of their own."""
    users = {role: make_user(role) for role in Role.values}
    team = make_team("Face lab", {users[role]: role for role in Role.values})
    outsider = make_user("outsider")
    other = make_team("Other lab", {outsider: Role.OWNER})
    return {"users": users, "team": team, "model": make_model(team), "outsider": outsider, "other": other,
            "other_model": make_model(other, weights_hash="b" * 64)}


@pytest.mark.parametrize("path", ["/", *PAGES])
def test_pages_need_a_signed_in_user(path: str) -> None:
    response = Client().get(path)

    assert response.status_code == 302
    assert response["Location"].startswith("/sign-in/?next=")


def test_home_is_the_dataset(lab: dict[str, Any]) -> None:
    response = signed_in(lab["users"]["viewer"]).get("/")

    assert response.status_code == 302
    assert response["Location"] == "/dataset/"


def test_sign_in_page_has_a_csrf_protected_form() -> None:
    client = Client(enforce_csrf_checks=True)
    response = client.get("/sign-in/")

    html = response.content.decode()
    assert response.status_code == 200
    assert 'name="csrfmiddlewaretoken"' in html
    assert 'name="username"' in html and 'name="password"' in html
    assert client.post("/sign-in/", {"username": "x", "password": "y"}).status_code == 403  # no token


def test_sign_in_and_out(lab: dict[str, Any]) -> None:
    client = Client()

    wrong = client.post("/sign-in/", {"username": "editor", "password": "nope"})
    assert wrong.status_code == 200
    assert 'id="sign-in-error"' in wrong.content.decode()

    right = client.post("/sign-in/", {"username": "editor", "password": "pw"})
    assert right.status_code == 302 and right["Location"] == "/dataset/"
    assert client.get("/dataset/").status_code == 200

    assert client.get("/sign-out/").status_code == 405  # signing out is a POST (CSRF-protected)
    out = client.post("/sign-out/")
    assert out.status_code == 302 and out["Location"] == "/sign-in/"
    assert client.get("/dataset/").status_code == 302


def test_sign_in_follows_next(lab: dict[str, Any]) -> None:
    credentials = {"username": "editor", "password": "pw", "next": "/jobs/"}
    response = Client().post("/sign-in/?next=/jobs/", credentials)

    assert response["Location"] == "/jobs/"


@pytest.mark.parametrize("path", PAGES)
def test_pages_show_user_role_team_and_navigation(lab: dict[str, Any], path: str) -> None:
    html = signed_in(lab["users"]["annotator"]).get(path).content.decode()

    assert 'data-role="annotator"' in html and 'data-can-edit="false"' in html
    assert 'data-can-annotate="true"' in html
    assert f'data-team="{lab["team"].pk}"' in html
    assert 'class="who-name">annotator<' in html
    for link in PAGES:
        assert f'href="{link}"' in html
    assert f'href="{path}" aria-current="page"' in html
    assert '<option value="{}" selected>Face lab</option>'.format(lab["team"].pk) in html
    assert "Other lab" not in html  # only the user's own teams are offered
    assert 'action="/sign-out/"' in html


@pytest.mark.parametrize("path", ["/sign-in/", *PAGES])
def test_pages_have_no_inline_scripts_handlers_or_styles(lab: dict[str, Any], path: str) -> None:
    client = Client() if path == "/sign-in/" else signed_in(lab["users"]["owner"])
    html = client.get(path).content.decode()

    assert inline_code(html) == []
    assert '<script type="module" src="/static/lib/shell.js">' in html


def test_inline_code_finder_finds_each_kind() -> None:
    html = '<script>x()</script><a onclick="y()">a</a><p style="color:red">p</p><style>p{}</style>'

    assert len(inline_code(html)) == 4
    data_and_module = '<script type="application/json" id="d">{}</script><script src="/m.js"></script>'
    assert inline_code(data_and_module) == []


@pytest.mark.parametrize(("role", "editable"), [("owner", True), ("editor", True), ("annotator", False),
                                                 ("viewer", False)])
def test_edit_controls_only_for_roles_that_may_edit(lab: dict[str, Any], role: str, editable: bool) -> None:
    client = signed_in(lab["users"][role])
    dataset = client.get("/dataset/").content.decode()
    models = client.get("/models/").content.decode()

    for control in EDIT_CONTROLS:
        assert (control in dataset) is editable
    assert ('id="open-register"' in models) is editable
    assert (f'data-can-edit="{str(editable).lower()}"') in dataset


@pytest.mark.parametrize(("role", "offered"), [("owner", True), ("annotator", True), ("viewer", False)])
def test_most_uncertain_next_is_offered_to_annotators(lab: dict[str, Any], role: str, offered: bool) -> None:
    dataset = signed_in(lab["users"][role]).get("/dataset/").content.decode()

    assert ('id="most-uncertain"' in dataset) is offered


def test_team_choice_is_checked_and_remembered(lab: dict[str, Any], make_team: Callable[..., Team]) -> None:
    user = lab["users"]["viewer"]
    second = make_team("Another team", {user: Role.EDITOR})
    client = signed_in(user)

    assert client.get(f"/dataset/?team={lab['other'].pk}").status_code == 404  # not a member
    assert client.get("/dataset/?team=abc").status_code == 404
    assert client.get("/dataset/?team=999999").status_code == 404

    chosen = client.get(f"/jobs/?team={second.pk}").content.decode()
    assert 'data-role="editor"' in chosen and f'data-team="{second.pk}"' in chosen
    assert client.session[SESSION_KEY] == second.pk
    remembered = client.get("/models/").content.decode()
    assert f'data-team="{second.pk}"' in remembered and 'data-can-edit="true"' in remembered


def test_a_removed_membership_falls_back_to_another_team(lab: dict[str, Any]) -> None:
    user = lab["users"]["viewer"]
    client = signed_in(user)
    session = client.session
    session[SESSION_KEY] = lab["other"].pk  # e.g. the user was removed from that team since
    session.save()

    assert f'data-team="{lab["team"].pk}"' in client.get("/dataset/").content.decode()


def test_dataset_shows_the_chosen_model_of_the_team_only(lab: dict[str, Any]) -> None:
    client = signed_in(lab["users"]["editor"])
    model = lab["model"]
    html = client.get("/dataset/").content.decode()

    assert f'data-model="{model.pk}"' in html and f'data-resolution="{model.resolution}"' in html
    assert 'data-recommended="16"' in html
    assert client.get(f"/dataset/?model={model.pk}").status_code == 200
    assert client.get(f"/dataset/?model={lab['other_model'].pk}").status_code == 404


def test_dataset_without_a_model_points_to_the_models_page(make_user: Callable[[str], Any],
                                                           make_team: Callable[..., Team]) -> None:
    user = make_user("lonely")
    make_team("Empty lab", {user: Role.OWNER})
    html = signed_in(user).get("/dataset/").content.decode()

    assert "has no generator model yet" in html and 'id="open-train"' not in html


def test_a_user_without_a_team_is_offered_to_create_one(make_user: Callable[[str], Any]) -> None:
    client = signed_in(make_user("newcomer"))
    html = client.get("/dataset/").content.decode()

    assert 'id="create-team"' in html and 'data-team=""' in html and 'id="image-grid"' not in html
    assert 'id="frame"' in client.get("/sample/").content.decode()  # the preview needs no team


@pytest.mark.parametrize("path", ["lib/api.js", "lib/socket.js", "lib/jobs.js", "lib/ui.js", "lib/shell.js",
                                  "lib/charts.js", "jobs/main.js", "library/main.js", "sessions/main.js",
                                  "preview/main.js", "dataset/main.js", "dataset/grid.js", "dataset/crop.js",
                                  "dataset/training.js", "models/main.js", "models/taxonomy.js",
                                  "models/register.js"])
def test_es_modules_are_served_as_javascript(client: Client, path: str) -> None:
    response = client.get(f"/static/{path}")

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/javascript")


def test_stylesheet_is_served(client: Client) -> None:
    response = client.get("/static/lib/studio.css")

    assert response.status_code == 200 and response["Content-Type"].startswith("text/css")
