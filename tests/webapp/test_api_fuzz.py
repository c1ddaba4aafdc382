"""Field fuzzing over every operation of the OpenAPI schema: no input gets a 5xx.

The cases are generated from the schema itself: for each operation, every path parameter,
query parameter and request-body field in turn gets each of a few hostile values (wrong types,
huge strings and numbers, negative numbers, NaN and infinity, NUL characters, deep nesting),
the other fields keeping a plausible value; JSON operations also get a few raw bodies that are
not JSON objects. The caller owns the team that holds one of everything, so requests reach the
services instead of stopping at a 404.
"""

from __future__ import annotations

import io
import json
from typing import Any
from urllib.parse import quote

import numpy as np
import pytest
from django.contrib.auth import get_user_model
from django.db import transaction
from django.test import override_settings
from drf_spectacular.generators import SchemaGenerator
from rest_framework.test import APIClient

from tests.webapp.factories import RESOLUTION, create_model, latent_bytes, mask_png, png_bytes, vector_bytes
from webapp.annotations.services import register_segmentation_branch, save_annotation_version
from webapp.assets import services as assets
from webapp.editsessions import services as sessions
from webapp.jobs.models import Job
from webapp.library import services as library
from webapp.teams.models import Membership, Role, Team

pytestmark = pytest.mark.django_db

SCHEMA = SchemaGenerator().get_schema(request=None, public=True)
OPERATIONS = [
    (method.upper(), path, operation)
    for path, methods in SCHEMA["paths"].items()
    for method, operation in methods.items()
]
DEEP = "[" * 100_000 + "]" * 100_000
# Hostile values of a query string, path segment or form field (all text).
TEXT_VALUES = ["", "\x00", "x" * 20_000, "-1", "99999999999999999999999", "1e999", "NaN", "[[{"]
# Hostile values of a JSON field; "nan" and "deep" are written into the raw text.
JSON_VALUES: list[Any] = [
    None, True, -1, 2**63, -(10**30), 1.5, "", "\x00", "x" * 20_000, [], {"a": [1]}, "nan", "deep",
]
RAW_BODIES = [DEEP, "[1]", '"text"', "null", "NaN", '{"a": 1e999}', "{", b"\xff\xfe"]


@pytest.fixture(scope="module")
def module_media(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """One MEDIA_ROOT for the module's shared world."""
    return tmp_path_factory.mktemp("media")


@pytest.fixture
def media_root(settings: Any, module_media: Any) -> Any:
    """Overrides the per-test MEDIA_ROOT: every test sees the files of the shared world."""
    settings.MEDIA_ROOT = module_media
    settings.PARTEDIT_REGISTER_MODEL_FOR_NEW_TEAMS = False
    return module_media


@pytest.fixture(scope="module")
def world(django_db_setup: Any, django_db_blocker: Any, module_media: Any) -> Any:
    """A team with one of everything, owned by the caller; rolled back after the module."""
    with django_db_blocker.unblock(), override_settings(MEDIA_ROOT=module_media), transaction.atomic():
        yield build_world()
        transaction.set_rollback(True)


def build_world() -> dict[str, Any]:
    """The owner, a viewer and the team's model, images, annotation, branch, vectors, session and job."""
    owner = get_user_model().objects.create_user(username="owner", password="pw")
    viewer = get_user_model().objects.create_user(username="viewer", password="pw")
    team = Team.objects.create(name="A", slug="a")
    Membership.objects.create(team=team, user=owner, role=Role.OWNER)
    Membership.objects.create(team=team, user=viewer, role=Role.VIEWER)
    model = create_model(team)
    image = assets.create_uploaded_image(owner, model, png_bytes(), "annotated")
    assets.store_latent(image, latent_bytes())
    version = save_annotation_version(owner, image, mask_png(np.zeros((RESOLUTION, RESOLUTION))), None)
    branch = register_segmentation_branch(model, b"weights", [version], {"miou": 0.5}, activate=False)
    thumbs = (png_bytes((16, 16)), png_bytes((16, 16)))
    vector = library.create_edit_vector(owner, model, vector_bytes(model), "smile", thumbnails=thumbs)
    session = sessions.create_session(owner, image)
    sessions.add_vector_entry(owner, session, 0, vector, 1.0)
    sessions.add_mask_edit_entry(owner, session, 1, mask_png(np.ones((RESOLUTION, RESOLUTION))))
    job = Job.objects.create(team=team, requested_by=owner, type="render", queue="gpu")
    return {
        "owner": owner,
        "ids": {
            "teams": team.pk, "models": model.pk, "images": image.pk, "annotations": version.pk,
            "branches": branch.pk, "vectors": vector.pk, "sessions": session.pk, "jobs": job.pk,
            "team_pk": team.pk, "user_pk": viewer.pk,
            "entry_pk": session.entries.order_by("position").first().pk,
        },
        "fields": {
            "team": team.pk, "model": model.pk, "image": image.pk, "vector": vector.pk,
            "base_revision": 2, "base_version": 1, "username": "viewer", "role": "viewer",
        },
    }


def resolve(node: dict[str, Any]) -> dict[str, Any]:
    """Follow a ``$ref`` into the schema's components."""
    while "$ref" in node:
        node = SCHEMA["components"]["schemas"][node["$ref"].rsplit("/", 1)[-1]]
    return node


def path_values(path: str, world: dict[str, Any]) -> dict[str, str]:
    """A valid value of every path parameter: the world's object of the collection it names."""
    values = {}
    segments = path.strip("/").split("/")
    for index, segment in enumerate(segments):
        if segment.startswith("{"):
            name = segment[1:-1]
            collection = segments[index - 1]
            values[name] = str(world["ids"].get(name, world["ids"].get(collection, 1)))
    return values


def plausible(name: str, prop: dict[str, Any], world: dict[str, Any], path: str) -> Any:
    """A value that the field would accept in a normal request."""
    prop = resolve(prop)
    if name in world["fields"]:
        return world["fields"][name]
    if prop.get("enum"):
        return prop["enum"][0]
    if prop.get("format") == "binary":
        return vector_bytes_for(world) if "vectors" in path else mask_or_photo(name)
    return {"integer": 1, "number": 1.0, "boolean": True, "array": [], "object": {}}.get(
        prop.get("type", "string"), "x"
    )


def vector_bytes_for(world: dict[str, Any]) -> bytes:
    """A valid vector file for the world's model."""
    from webapp.assets.models import GeneratorModel

    return vector_bytes(GeneratorModel.objects.get(pk=world["ids"]["models"]))


def mask_or_photo(name: str) -> bytes:
    """A valid mask for mask fields, a photo otherwise."""
    return mask_png(np.ones((RESOLUTION, RESOLUTION))) if name == "mask" else png_bytes()


def body_schema(operation: dict[str, Any]) -> tuple[str | None, dict[str, Any]]:
    """The request body's content type (multipart with files, else JSON if offered) and its properties."""
    content = operation.get("requestBody", {}).get("content", {})
    if not content:
        return None, {}
    kind = "application/json" if "application/json" in content else "multipart/form-data"
    properties = resolve(content[kind]["schema"]).get("properties", {})
    if any(resolve(prop).get("format") == "binary" for prop in properties.values()):
        kind = "multipart/form-data"
        properties = resolve(content[kind]["schema"]).get("properties", {})
    return kind, properties


def json_text(body: dict[str, Any]) -> str:
    """JSON with the markers ``"nan"`` and ``"deep"`` turned into a NaN and deep nesting."""
    return json.dumps(body).replace('"nan"', "NaN").replace('"deep"', DEEP)


def multipart(body: dict[str, Any]) -> dict[str, Any]:
    """A multipart body: bytes become uploaded files."""
    form = {}
    for key, value in body.items():
        if isinstance(value, bytes):
            handle = io.BytesIO(value)
            handle.name = f"{key}.bin"
            value = handle
        form[key] = value
    return form


def cases(method: str, path: str, operation: dict[str, Any], world: dict[str, Any]) -> list[tuple[str, Any]]:
    """(description, request kwargs) of every fuzzed request of one operation."""
    valid_path = path_values(path, world)
    kind, properties = body_schema(operation)
    base_body = {name: plausible(name, prop, world, path) for name, prop in properties.items()}
    query_names = [p["name"] for p in operation.get("parameters", []) if p["in"] == "query"]

    def request(path_args: dict[str, str], query: str = "", body: Any = None, raw: Any = None) -> Any:
        url = path.format(**path_args) + (f"?{query}" if query else "")
        if raw is not None:
            return {"method": method, "path": url, "data": raw, "content_type": "application/json"}
        if kind == "application/json":
            return {"method": method, "path": url, "data": json_text(body or {}), "content_type": kind}
        if kind is not None:
            return {"method": method, "path": url, "form": multipart(body or {})}
        return {"method": method, "path": url}

    found: list[tuple[str, Any]] = [("valid", request(valid_path, body=base_body))]
    for name in valid_path:
        for value in TEXT_VALUES:
            path_args = {**valid_path, name: quote(value)}
            found.append((f"path {name}={value[:20]!r}", request(path_args, body=base_body)))
    for name in query_names:
        for value in TEXT_VALUES:
            query = f"{name}={quote(value)}"
            found.append((f"query {name}={value[:20]!r}", request(valid_path, query, base_body)))
    values = JSON_VALUES if kind == "application/json" else [*TEXT_VALUES, b"\x00garbage"]
    for name in properties:
        for value in values:
            body = {**base_body, name: value}
            found.append((f"body {name}={str(value)[:20]!r}", request(valid_path, body=body)))
    if kind == "application/json":
        found.extend((f"raw body {str(raw)[:20]!r}", request(valid_path, raw=raw)) for raw in RAW_BODIES)
    return found


def send(client: APIClient, spec: dict[str, Any]) -> Any:
    """Send one case."""
    method, path = spec["method"], spec["path"]
    if "form" in spec:
        return getattr(client, method.lower())(path, spec["form"], format="multipart")
    if "data" in spec:
        return client.generic(method, path, spec["data"], content_type=spec["content_type"])
    return client.generic(method, path)


@pytest.mark.parametrize(
    ("method", "path", "operation"), OPERATIONS, ids=[f"{m} {p}" for m, p, _ in OPERATIONS]
)
def test_no_input_gets_a_server_error(world: dict[str, Any], method: str, path: str, operation: Any) -> None:
    client = APIClient(raise_request_exception=False)
    client.force_authenticate(world["owner"])
    failures = []
    for description, spec in cases(method, path, operation, world):
        response = send(client, spec)
        if response.status_code >= 500:
            failures.append(f"{description}: {response.status_code} {response.content[:200]!r}")
    assert not failures, "\n".join(failures)


def test_the_fuzzing_covers_every_operation_of_the_schema() -> None:
    operations = {(m, p) for m, p, _ in OPERATIONS}
    assert ("POST", "/api/auth/token/") in operations and ("POST", "/api/vectors/") in operations
    assert len(operations) == sum(len(methods) for methods in SCHEMA["paths"].values()) >= 45
