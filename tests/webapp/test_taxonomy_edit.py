"""Editing a model's taxonomy over PUT /api/models/{id}/labels/ (the Models page's label editor)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from rest_framework.test import APIClient

from webapp.annotations.models import SegmentationBranch
from webapp.assets.models import GeneratorModel
from webapp.teams.models import Role, Team

pytestmark = pytest.mark.django_db


@pytest.fixture
def lab(make_user: Callable[[str], Any], make_team: Callable[..., Team],
        make_model: Callable[..., GeneratorModel]) -> dict[str, Any]:
    """An editor and an annotator of a team with a four-label model; an outsider."""
    editor, annotator, outsider = make_user("editor"), make_user("annotator"), make_user("outsider")
    team = make_team("Lab", {editor: Role.EDITOR, annotator: Role.ANNOTATOR})
    return {"editor": editor, "annotator": annotator, "outsider": outsider, "model": make_model(team)}


def labels_of(model: GeneratorModel) -> list[tuple[int, str, str, bool]]:
    """(index, name, colour, context) of each label, in index order."""
    labels = model.labels.order_by("index")
    return [(label.index, label.name, label.colour, label.is_context) for label in labels]


def taxonomy(*labels: tuple[str, str, bool]) -> dict[str, Any]:
    """The request body for ``labels`` as (name, colour, context)."""
    return {"labels": [{"name": name, "colour": colour, "is_context": flag} for name, colour, flag in labels]}


FOUR = [("background", "#000000", True), ("skin", "#e6b48c", True), ("eyes", "#fafafa", False),
        ("mouth", "#5a143c", False)]


def put(client: APIClient, model: GeneratorModel, body: dict[str, Any]) -> Any:
    """PUT the taxonomy."""
    return client.put(f"/api/models/{model.pk}/labels/", body, format="json")


def test_rename_recolour_flag_and_append(lab: dict[str, Any], client_for: Callable[[Any], APIClient]) -> None:
    model = lab["model"]
    body = taxonomy(("background", "#000000", True), ("face", "#E6B48C", True), ("eyes", "#00ff00", False),
                    ("lips", "#5a143c", False), ("hair", "#402010", False))

    response = put(client_for(lab["editor"]), model, body)

    assert response.status_code == 200, response.content
    names = [label["name"] for label in response.json()["labels"]]
    assert names == ["background", "face", "eyes", "lips", "hair"]
    assert labels_of(model) == [(0, "background", "#000000", True), (1, "face", "#e6b48c", True),
                                (2, "eyes", "#00ff00", False), (3, "lips", "#5a143c", False),
                                (4, "hair", "#402010", False)]


def test_two_labels_may_swap_names(lab: dict[str, Any], client_for: Callable[[Any], APIClient]) -> None:
    body = taxonomy(FOUR[0], FOUR[1], ("mouth", "#fafafa", False), ("eyes", "#5a143c", False))

    assert put(client_for(lab["editor"]), lab["model"], body).status_code == 200
    assert [name for _, name, _, _ in labels_of(lab["model"])] == ["background", "skin", "mouth", "eyes"]


@pytest.mark.parametrize(("body", "status", "code"), [
    (taxonomy(*FOUR[:3]), 400, "labels_removed"),
    (taxonomy(*FOUR[:3], ("eyes", "#123456", False)), 400, "invalid_taxonomy"),  # duplicate name
    (taxonomy(*FOUR[:3], ("mouth", "red", False)), 400, "invalid_taxonomy"),
    ({"labels": "background"}, 400, "invalid"),
])
def test_invalid_taxonomies_are_refused_and_change_nothing(
    lab: dict[str, Any], client_for: Callable[[Any], APIClient], body: dict[str, Any], status: int, code: str
) -> None:
    before = labels_of(lab["model"])

    response = put(client_for(lab["editor"]), lab["model"], body)

    assert response.status_code == status and response.json()["error"]["code"] == code
    assert labels_of(lab["model"]) == before


def test_labels_are_only_appended_before_the_first_branch(lab: dict[str, Any],
                                                          client_for: Callable[[Any], APIClient]) -> None:
    model = lab["model"]
    SegmentationBranch.objects.create(model=model, weights="branch.safetensors")
    client = client_for(lab["editor"])

    appended = put(client, model, taxonomy(*FOUR, ("hair", "#402010", False)))
    recoloured = put(client, model, taxonomy(*FOUR[:3], ("mouth", "#ff0000", False)))

    assert appended.status_code == 409 and appended.json()["error"]["code"] == "has_branches"
    assert recoloured.status_code == 200 and labels_of(model)[3] == (3, "mouth", "#ff0000", False)


@pytest.mark.parametrize(("who", "status"), [("annotator", 403), ("outsider", 404), (None, 401)])
def test_only_editors_change_the_taxonomy(lab: dict[str, Any], client_for: Callable[[Any], APIClient],
                                          who: str | None, status: int) -> None:
    before = labels_of(lab["model"])
    client = client_for(lab[who] if who else None)

    assert put(client, lab["model"], taxonomy(*FOUR[:3], ("lips", "#5a143c", False))).status_code == status
    assert labels_of(lab["model"]) == before
