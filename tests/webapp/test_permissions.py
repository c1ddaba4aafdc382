"""THE permission matrix: every role x every endpoint, own team and other team, exact status codes.

Team A holds one of everything; its owner, editor, annotator and viewer each call every
endpoint, as does the owner of team B (an outsider to A, who must get 404 and never A's data)
and an anonymous client (401).
"""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from django.contrib.auth import get_user_model
from django.db import transaction
from django.test import override_settings
from rest_framework.test import APIClient

from tests.webapp.factories import (
    LABELS,
    RESOLUTION,
    create_model,
    latent_bytes,
    mask_png,
    png_bytes,
    vector_bytes,
)
from webapp.annotations.services import register_segmentation_branch, save_annotation_version
from webapp.assets import services as assets
from webapp.editsessions import services as sessions
from webapp.library import services as library
from webapp.teams.models import Membership, Role, Team

pytestmark = pytest.mark.django_db

ROLES = ["owner", "editor", "annotator", "viewer", "outsider"]


def codes(owner: int, editor: int, annotator: int, viewer: int, outsider: int = 404) -> dict[str, int]:
    """Expected status per caller."""
    return dict(zip(ROLES, [owner, editor, annotator, viewer, outsider], strict=True))


READ = codes(200, 200, 200, 200)
LIST = codes(200, 200, 200, 200, 200)
EDIT = codes(200, 200, 403, 403)
CREATE = codes(201, 201, 403, 403)
DELETE = codes(204, 204, 403, 403)
ANNOTATE = codes(201, 201, 201, 403)
OWNER = codes(200, 403, 403, 403)


def file(data: bytes, name: str) -> io.BytesIO:
    """An upload."""
    handle = io.BytesIO(data)
    handle.name = name
    return handle


# (id, method, url template, body builder or None, expected codes)
Body = Callable[[dict[str, Any]], Any] | None
ENDPOINTS: list[tuple[str, str, str, Body, dict[str, int]]] = [
    ("me", "get", "/api/me/", None, LIST),
    ("team-list", "get", "/api/teams/", None, LIST),
    ("team-detail", "get", "/api/teams/{team}/", None, READ),
    ("team-rename", "patch", "/api/teams/{team}/", lambda w: {"name": "New"}, OWNER),
    ("member-list", "get", "/api/teams/{team}/members/", None, READ),
    (
        "member-add",
        "post",
        "/api/teams/{team}/members/",
        lambda w: {"username": "newbie", "role": "viewer"},
        codes(201, 403, 403, 403),
    ),
    (
        "member-role",
        "patch",
        "/api/teams/{team}/members/{viewer_id}/",
        lambda w: {"role": "annotator"},
        OWNER,
    ),
    # Removing the annotator: owners may; the annotator removing themselves is leaving, which anyone may.
    ("member-remove", "delete", "/api/teams/{team}/members/{annotator_id}/", None, codes(204, 403, 204, 403)),
    ("coco-export", "get", "/api/teams/{team}/export/coco/", None, READ),
    ("model-list", "get", "/api/models/", None, LIST),
    ("model-detail", "get", "/api/models/{model}/", None, READ),
    (
        "model-import",
        "post",
        "/api/models/import/",
        lambda w: {"team": w["team"], "file": file(b"not really a checkpoint", "model.pt"),
                   "labels": '[{"name": "background", "colour": "#000000"}]'},
        codes(201, 201, 403, 403),
    ),
    (
        "model-labels",
        "put",
        "/api/models/{model}/labels/",
        lambda w: {"labels": [{"name": name, "colour": colour} for name, colour in LABELS]},
        EDIT,
    ),
    # Every member gets past the permission check to the model's state (no branch yet: 400).
    ("model-uncertainty", "get", "/api/models/{model}/uncertainty/", None, codes(400, 400, 400, 400)),
    ("image-list", "get", "/api/images/", None, LIST),
    (
        "image-upload",
        "post",
        "/api/images/",
        lambda w: {"model": w["model"], "file": file(png_bytes(), "a.png")},
        CREATE,
    ),
    ("image-detail", "get", "/api/images/{image}/", None, READ),
    ("image-rename", "patch", "/api/images/{image}/", lambda w: {"name": "x"}, EDIT),
    ("image-delete", "delete", "/api/images/{bare_image}/", None, DELETE),
    ("image-original", "get", "/api/images/{image}/original/", None, READ),
    ("image-normalized", "get", "/api/images/{image}/normalized/", None, READ),
    ("image-latent", "get", "/api/images/{image}/latent/", None, READ),
    ("annotation-list", "get", "/api/images/{image}/annotations/", None, READ),
    (
        "annotation-save",
        "post",
        "/api/images/{image}/annotations/",
        lambda w: {"mask": file(mask_png(np.ones((RESOLUTION, RESOLUTION))), "m.png"), "base_version": 1},
        ANNOTATE,
    ),
    ("annotation-current", "get", "/api/images/{image}/annotations/current/", None, READ),
    ("annotation-png", "get", "/api/images/{image}/annotation.png", None, READ),
    ("annotation-detail", "get", "/api/annotations/{version}/", None, READ),
    ("annotation-mask", "get", "/api/annotations/{version}/mask/", None, READ),
    ("branch-list", "get", "/api/branches/", None, LIST),
    ("branch-detail", "get", "/api/branches/{branch}/", None, READ),
    ("branch-activate", "post", "/api/branches/{branch}/activate/", None, EDIT),
    ("vector-list", "get", "/api/vectors/", None, LIST),
    (
        "vector-upload",
        "post",
        "/api/vectors/",
        lambda w: {"model": w["model"], "name": "v", "file": file(w["vector_file"], "v.safetensors")},
        CREATE,
    ),
    ("vector-detail", "get", "/api/vectors/{vector}/", None, READ),
    ("vector-update", "patch", "/api/vectors/{vector}/", lambda w: {"description": "d"}, EDIT),
    ("vector-delete", "delete", "/api/vectors/{spare_vector}/", None, DELETE),
    ("vector-file", "get", "/api/vectors/{vector}/vector/", None, READ),
    ("vector-thumbnail", "get", "/api/vectors/{vector}/after/", None, READ),
    ("vector-strip", "get", "/api/vectors/{vector}/strip/", None, codes(202, 202, 202, 202)),
    ("tag-list", "get", "/api/tags/", None, LIST),
    ("session-list", "get", "/api/sessions/", None, LIST),
    ("session-create", "post", "/api/sessions/", lambda w: {"image": w["image"]}, CREATE),
    ("session-detail", "get", "/api/sessions/{session}/", None, READ),
    ("session-delete", "delete", "/api/sessions/{session}/", None, DELETE),
    ("session-join", "post", "/api/sessions/{session}/join/", None, READ),
    (
        "entry-add",
        "post",
        "/api/sessions/{session}/entries/",
        lambda w: {"vector": w["vector"], "scale": 1.0, "base_revision": 2},
        CREATE,
    ),
    (
        "entry-scale",
        "patch",
        "/api/sessions/{session}/entries/{entry}/",
        lambda w: {"scale": 0.5, "base_revision": 2},
        EDIT,
    ),
    ("entry-remove", "delete", "/api/sessions/{session}/entries/{entry}/?base_revision=2", None, EDIT),
    ("entry-mask", "get", "/api/sessions/{session}/entries/{mask_entry}/mask/", None, READ),
    (
        "session-export",
        "post",
        "/api/sessions/{session}/export/",
        lambda w: {"edited": file(png_bytes((RESOLUTION, RESOLUTION)), "frame.png")},
        READ,
    ),
]


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
    """Team A with one of everything and a member of each role; team B with only its owner.

    Built once per module inside a transaction that is rolled back at the end; each test runs
    in its own savepoint (pytest-django), so one test's writes never reach the next.
    """
    with django_db_blocker.unblock(), override_settings(MEDIA_ROOT=module_media), transaction.atomic():
        yield build_world()
        transaction.set_rollback(True)


def build_world() -> dict[str, Any]:
    """Create team A's objects and users of every role."""
    users = {role: get_user_model().objects.create_user(username=role, password="pw") for role in ROLES}
    get_user_model().objects.create_user(username="newbie", password="pw")
    team = Team.objects.create(name="A", slug="a")
    for role in ("owner", "editor", "annotator", "viewer"):
        Membership.objects.create(team=team, user=users[role], role=role)
    other = Team.objects.create(name="B", slug="b")
    Membership.objects.create(team=other, user=users["outsider"], role=Role.OWNER)
    owner = users["owner"]
    model = create_model(team)
    image = assets.create_uploaded_image(owner, model, png_bytes(), "annotated")
    bare = assets.create_uploaded_image(owner, model, png_bytes(), "bare")
    assets.store_latent(image, latent_bytes())
    version = save_annotation_version(owner, image, mask_png(np.zeros((RESOLUTION, RESOLUTION))), None)
    branch = register_segmentation_branch(model, b"weights", [version], {"miou": 0.5}, activate=False)
    thumbs = (png_bytes((16, 16)), png_bytes((16, 16)))
    vector = library.create_edit_vector(
        owner, model, vector_bytes(model), "smile", tags=["t"], thumbnails=thumbs
    )
    spare = library.create_edit_vector(owner, model, vector_bytes(model), "spare")
    session = sessions.create_session(owner, image)
    sessions.add_vector_entry(owner, session, 0, vector, 1.0)
    sessions.add_mask_edit_entry(owner, session, 1, mask_png(np.ones((RESOLUTION, RESOLUTION))))
    entries = list(session.entries.order_by("position"))
    return {
        "users": users,
        "team": team.pk,
        "model": model.pk,
        "image": image.pk,
        "bare_image": bare.pk,
        "version": version.pk,
        "branch": branch.pk,
        "vector": vector.pk,
        "spare_vector": spare.pk,
        "session": session.pk,
        "entry": entries[0].pk,
        "mask_entry": entries[1].pk,
        "viewer_id": users["viewer"].pk,
        "annotator_id": users["annotator"].pk,
        "vector_file": vector_bytes(model),
    }


def call(client: Any, method: str, url: str, body: Any) -> Any:
    """Send one request; bodies with files go multipart, others JSON."""
    if body is None:
        return getattr(client, method)(url)
    multipart = any(isinstance(value, io.BytesIO) for value in body.values())
    return getattr(client, method)(url, body, format="multipart" if multipart else "json")


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize(
    ("name", "method", "url", "body", "expected"), ENDPOINTS, ids=[e[0] for e in ENDPOINTS]
)
def test_permission_matrix(
    world: dict[str, Any], role: str, name: str, method: str, url: str, body: Body, expected: dict[str, int]
) -> None:
    client = APIClient()
    client.force_authenticate(world["users"][role])
    response = call(client, method, url.format(**world), body(world) if body else None)

    assert response.status_code == expected[role], getattr(response, "data", None)
    if response.status_code >= 400:
        assert set(response.json()["error"]) == {"code", "message", "details"}
    if role == "outsider" and response.status_code == 200 and name.endswith("list"):
        results = response.json()["results"]
        if name == "team-list":
            assert [team["name"] for team in results] == ["B"]
        else:
            assert results == [], f"{name} leaked team A's data to an outsider"
    if role == "outsider" and response.status_code == 404:
        assert str(world["team"]) not in response.content.decode().replace(url.format(**world), "")


@pytest.mark.parametrize(
    ("name", "method", "url", "body", "expected"), ENDPOINTS, ids=[e[0] for e in ENDPOINTS]
)
def test_anonymous_gets_401_everywhere(
    world: dict[str, Any], name: str, method: str, url: str, body: Body, expected: Any
) -> None:
    response = call(APIClient(), method, url.format(**world), body(world) if body else None)

    assert response.status_code == 401
    assert response.json()["error"]["code"] == "not_authenticated"


def test_the_matrix_covers_every_api_route() -> None:
    from django.urls import get_resolver

    from webapp.api import urls as api_urls

    def names(patterns: list[Any]) -> set[str]:
        found: set[str] = set()
        for pattern in patterns:
            if hasattr(pattern, "url_patterns"):
                found |= names(pattern.url_patterns)
            elif pattern.name:
                found.add(pattern.name)
        return found

    covered = {
        "me",
        "team-list",
        "team-detail",
        "member-list",
        "member-detail",
        "team-coco-export",
        "model-list",
        "model-detail",
        "model-labels",
        "model-import",
        "image-list",
        "image-detail",
        "image-file",
        "annotation-list",
        "annotation-current",
        "annotation-png",
        "annotation-detail",
        "annotation-mask",
        "branch-list",
        "branch-detail",
        "branch-activate",
        "vector-list",
        "vector-detail",
        "vector-file",
        "vector-strip",
        "model-uncertainty",
        "tag-list",
        "session-list",
        "session-detail",
        "session-join",
        "session-entry-list",
        "session-entry-detail",
        "session-entry-mask",
        "session-export",
    }
    not_team_scoped = {"api-token", "api-schema", "api-docs"}
    jobs_routes = {name for name in names(api_urls.urlpatterns) if name.startswith("job")}
    assert get_resolver() is not None
    assert names(api_urls.urlpatterns) - jobs_routes == covered | not_team_scoped
