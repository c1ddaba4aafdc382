"""The OpenAPI schema validates without warnings and the interactive docs are served by the app."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from django.core.management import call_command

pytestmark = pytest.mark.django_db


def test_schema_validates_without_warnings(tmp_path: Path) -> None:
    out = tmp_path / "schema.yml"
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(out))

    schema = yaml.safe_load(out.read_text())
    paths = schema["paths"]
    for path in (
        "/api/teams/",
        "/api/images/",
        "/api/images/{id}/annotations/",
        "/api/vectors/",
        "/api/sessions/{id}/entries/",
        "/api/teams/{id}/export/coco/",
    ):
        assert path in paths
    upload = paths["/api/images/"]["post"]
    assert "multipart/form-data" in upload["requestBody"]["content"]
    assert upload["responses"]["403"]["content"]["application/json"]["schema"]["$ref"].endswith("/Error")
    save = paths["/api/images/{id}/annotations/"]["post"]["responses"]["409"]
    assert save["content"]["application/json"]["schema"]["$ref"].endswith("/Error")
    vector_params = {p["name"] for p in paths["/api/vectors/"]["get"]["parameters"]}
    assert {"label", "tag", "author", "model", "page"} <= vector_params


def test_schema_and_docs_are_served(client: Any, django_user_model: Any) -> None:
    client.force_login(django_user_model.objects.create_user("reader", password="pw"))
    schema = client.get("/api/schema/")
    docs = client.get("/api/docs/")

    assert schema.status_code == 200 and b"PartEdit API" in schema.content
    assert docs.status_code == 200 and b"swagger-ui" in docs.content
    assert b"cdn.jsdelivr" not in docs.content
