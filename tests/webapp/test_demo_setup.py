"""Out of the box: the shipped branch is registered with the model, and the demo account exists once."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command

from webapp.annotations.bundled import register_shipped_branch
from webapp.annotations.services import active_branch
from webapp.assets.services import register_model
from webapp.teams.models import Membership, Role, Team

pytestmark = pytest.mark.django_db
DEMO_MODEL = Path("models/demo")


@pytest.fixture
def bundled(settings: Any) -> None:
    """New teams get the bundled demo model, as in a fresh install."""
    settings.PARTEDIT_REGISTER_MODEL_FOR_NEW_TEAMS = True
    settings.PARTEDIT_MODEL_PATH = DEMO_MODEL


def test_new_team_gets_the_shipped_branch_active(bundled: None, make_user: Any, client_for: Any) -> None:
    answer = client_for(make_user("ana")).post("/api/teams/", {"name": "Face lab"})
    assert answer.status_code == 201, answer.content
    model = Team.objects.get(pk=answer.json()["id"]).generator_models.get()
    branch = active_branch(model)
    assert branch is not None and branch.job is None
    shipped = json.loads((DEMO_MODEL / "branch" / "branch.json").read_text())
    assert branch.config == shipped["branch"]
    shipped_weights = (DEMO_MODEL / "branch" / "branch.safetensors").read_bytes()
    assert Path(branch.weights.path).read_bytes() == shipped_weights
    assert branch.metrics["trained_on"] == shipped["metadata"]["num_annotations"]
    assert 0 < branch.metrics["mean_iou"] <= 1 and "skin" in branch.metrics["per_label_iou"]


def test_shipped_branch_is_registered_once(make_team: Any) -> None:
    model, _ = register_model(make_team("Lab"), DEMO_MODEL)
    assert register_shipped_branch(model) is not None
    assert register_shipped_branch(model) is None
    assert model.branches.count() == 1


def test_a_branch_that_does_not_fit_the_model_is_not_registered(make_team: Any, tmp_path: Path) -> None:
    directory = tmp_path / "model"
    shutil.copytree(DEMO_MODEL, directory, ignore=shutil.ignore_patterns("encoder"))
    document = json.loads((directory / "branch" / "branch.json").read_text())
    document["metadata"]["model_hash"] = "0" * 64
    (directory / "branch" / "branch.json").write_text(json.dumps(document))
    model, _ = register_model(make_team("Lab"), directory)
    assert register_shipped_branch(model) is None and not model.branches.exists()


def test_demo_account_is_created_once_and_prints_the_same_credentials(
    bundled: None, tmp_path: Path, capsys: Any
) -> None:
    credentials = tmp_path / "demo-credentials.json"
    call_command("demo_account", "--credentials", str(credentials))
    first = capsys.readouterr().out
    call_command("demo_account", "--credentials", str(credentials))
    second = capsys.readouterr().out

    password = json.loads(credentials.read_text())["password"]
    assert f"Sign in as demo / {password}" in first and first == second
    assert credentials.stat().st_mode & 0o077 == 0
    user = get_user_model().objects.get(username="demo")
    assert user.check_password(password) and not user.is_staff and not user.is_superuser
    membership = Membership.objects.get(user=user)
    assert membership.role == Role.OWNER and membership.team.name == "Demo team"
    model = membership.team.generator_models.get()
    assert active_branch(model) is not None


def test_demo_account_gets_a_new_password_when_the_file_is_gone(bundled: None, tmp_path: Path) -> None:
    credentials = tmp_path / "demo-credentials.json"
    call_command("demo_account", "--credentials", str(credentials))
    credentials.unlink()
    call_command("demo_account", "--credentials", str(credentials))
    password = json.loads(credentials.read_text())["password"]
    assert get_user_model().objects.get(username="demo").check_password(password)
    assert Team.objects.filter(name="Demo team").count() == 1
