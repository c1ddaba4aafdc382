"""Request bodies and query strings are bounded before parsing: deep JSON, big bodies, NaN, NUL are 4xx."""

from __future__ import annotations

import io
from typing import Any

import pytest
from rest_framework.test import APIClient

from tests.webapp.factories import png_bytes
from webapp.teams.models import Role

pytestmark = pytest.mark.django_db

DEEP = "[" * 100_000 + "]" * 100_000


@pytest.fixture
def owner_client(make_user: Any, make_team: Any, make_model: Any, client_for: Any) -> Any:
    """A team owner's client; the team has a model."""
    owner = make_user("owner")
    make_model(make_team("Lab", {owner: Role.OWNER}))
    return client_for(owner)


def post_json(client: Any, url: str, text: str) -> Any:
    """POST a raw JSON text."""
    return client.generic("POST", url, text, content_type="application/json")


@pytest.mark.parametrize("url", ["/api/auth/token/", "/api/teams/"])
def test_deeply_nested_json_is_a_400(owner_client: Any, url: str) -> None:
    response = post_json(owner_client, url, DEEP)

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "parse_error"


def test_anonymous_token_view_refuses_deep_json() -> None:
    response = post_json(APIClient(), "/api/auth/token/", '{"username": ' + DEEP + "}")

    assert response.status_code == 400 and "nested" in response.json()["error"]["message"]


@pytest.mark.parametrize("text", ['{"name": NaN}', '{"name": 1e999}', '{"name": "a\\u0000b"}'])
def test_nan_infinity_and_nul_in_json_are_a_400(owner_client: Any, text: str) -> None:
    response = post_json(owner_client, "/api/teams/", text)

    assert response.status_code == 400 and response.json()["error"]["code"] == "parse_error"


def test_a_json_body_over_the_limit_is_a_413(owner_client: Any, settings: Any) -> None:
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    response = post_json(owner_client, "/api/teams/", '{"name": "' + "x" * 2000 + '"}')

    assert response.status_code == 413 and response.json()["error"]["code"] == "request_too_large"


@pytest.mark.parametrize(
    "query", ["q=%00", "author=a%00b", "tag=%00", "label=%00", "team=1%00", "%00=1"]
)
def test_nul_in_a_query_string_is_a_400(owner_client: Any, query: str) -> None:
    response = owner_client.get(f"/api/vectors/?{query}")

    assert response.status_code == 400 and response.json()["error"]["code"] == "invalid_query"


def test_nul_in_form_values_is_a_400(owner_client: Any) -> None:
    form = owner_client.post("/api/teams/", "name=a%00b", content_type="application/x-www-form-urlencoded")
    photo = io.BytesIO(png_bytes())
    photo.name = "p.png"
    form_data = {"model": 1, "name": "a\x00b", "file": photo}
    multipart = owner_client.post("/api/images/", form_data, format="multipart")

    assert form.status_code == 400 and form.json()["error"]["code"] == "parse_error"
    assert multipart.status_code == 400 and multipart.json()["error"]["code"] == "parse_error"
