"""Small input limits: vector descriptions have a length limit, photos a minimum size."""

from __future__ import annotations

import io
from typing import Any

import pytest

from tests.webapp.factories import png_bytes, vector_bytes
from webapp.errors import InvalidInput
from webapp.library import services as library
from webapp.library.models import EditVector
from webapp.teams.models import Role

pytestmark = pytest.mark.django_db


@pytest.fixture
def lab(make_user: Any, make_team: Any, make_model: Any, client_for: Any) -> dict[str, Any]:
    """An owner's client and their team's model."""
    owner = make_user("owner")
    model = make_model(make_team("Lab", {owner: Role.OWNER}))
    return {"owner": owner, "model": model, "client": client_for(owner)}


def upload_file(data: bytes, name: str) -> io.BytesIO:
    """An upload."""
    handle = io.BytesIO(data)
    handle.name = name
    return handle


def test_a_megabyte_description_is_refused(lab: dict[str, Any]) -> None:
    body = {"model": lab["model"].pk, "name": "v", "description": "x" * 1_000_000,
            "file": upload_file(vector_bytes(lab["model"]), "v.safetensors")}
    created = lab["client"].post("/api/vectors/", body, format="multipart")
    vector = library.create_edit_vector(lab["owner"], lab["model"], vector_bytes(lab["model"]), "ok")
    changed = lab["client"].patch(f"/api/vectors/{vector.pk}/", {"description": "x" * 2001}, format="json")

    assert created.status_code == 400 and changed.status_code == 400
    assert EditVector.objects.count() == 1
    with pytest.raises(InvalidInput) as error:
        library.create_edit_vector(lab["owner"], lab["model"], vector_bytes(lab["model"]), "job",
                                   description="y" * 2001)
    assert error.value.code == "invalid_description"
    assert lab["client"].patch(f"/api/vectors/{vector.pk}/", {"description": "x" * 2000}).status_code == 200


@pytest.mark.parametrize(("size", "status"), [((8, 8), 400), ((40, 15), 400), ((16, 16), 201)])
def test_photos_need_the_minimum_crop_on_each_side(lab: dict[str, Any], size: tuple[int, int],
                                                   status: int) -> None:
    body = {"model": lab["model"].pk, "file": upload_file(png_bytes(size), "p.png")}
    response = lab["client"].post("/api/images/", body, format="multipart")

    assert response.status_code == status, response.json()
    if status == 400:
        assert response.json()["error"]["code"] == "image_too_small"
