"""The starter library a model directory ships: registered once per model, with provenance."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command

from tests.webapp.factories import png_bytes, vector_bytes
from webapp.assets.services import register_model
from webapp.library.models import EditVector
from webapp.library.starter import register_starter_library
from webapp.teams.models import Role

pytestmark = pytest.mark.django_db


@pytest.fixture
def model(make_user: Any, make_team: Any, labelled_model_dir: Path, tmp_path: Path) -> Any:
    """The tiny model registered in a team, its directory holding a one-vector starter library."""
    owner = make_user("owner")
    team = make_team("Lab", {owner: Role.OWNER})
    directory = tmp_path / "with-library"
    shutil.copytree(labelled_model_dir, directory)
    model, _ = register_model(team, directory, "tiny")
    library = directory / "library"
    library.mkdir()
    (library / "smile.safetensors").write_bytes(vector_bytes(model, labels=[1]))
    (library / "smile.before.png").write_bytes(png_bytes())
    (library / "smile.after.png").write_bytes(png_bytes(colour=(1, 2, 3)))
    manifest = {"format": "partedit-starter-library/v1", "model_weights_hash": model.weights_hash,
                "vectors": [{"file": "smile.safetensors", "name": "Smile", "description": "Corners up.",
                             "tags": ["mouth"], "before": "smile.before.png", "after": "smile.after.png",
                             "figures": {"seed": 41, "oracle_hit": 0.46}, "loss_curve": [0.5, 0.2]},
                            {"file": "missing.safetensors", "name": "Missing"}]}
    (library / "library.json").write_text(json.dumps(manifest))
    return model


def test_the_starter_vectors_are_registered_once_with_provenance(model: Any) -> None:
    added = register_starter_library(model)
    again = register_starter_library(model)

    (vector,) = added
    assert again == [] and EditVector.objects.count() == 1
    assert vector.author is None and vector.name == "Smile" and vector.loss_curve == [0.5, 0.2]
    assert sorted(vector.tags.values_list("name", flat=True)) == ["mouth", "starter"]
    assert vector.settings["starter_figures"] == {"seed": 41, "oracle_hit": 0.46}
    assert vector.thumbnail_before and vector.thumbnail_after


def test_a_library_made_for_other_weights_is_not_registered(model: Any) -> None:
    manifest_path = Path(model.path) / "library" / "library.json"
    manifest = json.loads(manifest_path.read_text())
    manifest_path.write_text(json.dumps({**manifest, "model_weights_hash": "f" * 64}))
    assert register_starter_library(model) == []


def test_the_management_command_registers_every_active_model(model: Any, capsys: Any) -> None:
    call_command("register_starter_library")
    assert "1 starter vector(s) added" in capsys.readouterr().out
    assert EditVector.objects.filter(model=model).count() == 1
