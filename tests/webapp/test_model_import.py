"""Registering a model from an uploaded checkpoint: POST /api/models/import/ and the import_model job."""

from __future__ import annotations

import io
import json
import pickle
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from rest_framework.test import APIClient

from tests.engine.checkpoint_files import call_global, rosinality_g_ema, save_rosinality
from webapp.assets.models import GeneratorModel
from webapp.assets.storage import media_path
from webapp.jobs.models import Job
from webapp.jobs.tasks import run_job
from webapp.teams.models import Role, Team

pytestmark = pytest.mark.django_db

LABELS = [{"name": "background", "colour": "#000000", "context": True}, {"name": "face", "colour": "#e6b48c"}]


@pytest.fixture
def lab(make_user: Callable[[str], Any], make_team: Callable[..., Team], settings: Any,
        tmp_path: Path) -> dict[str, Any]:
    """An editor and an annotator of a team; imported models go to a folder of the test's own."""
    from webapp import worker_runtime

    settings.PARTEDIT_DEVICE = "cpu"
    settings.PARTEDIT_IMPORTED_MODELS_DIR = tmp_path / "imported"
    editor, annotator = make_user("editor"), make_user("annotator")
    team = make_team("Lab", {editor: Role.EDITOR, annotator: Role.ANNOTATOR})
    yield {"editor": editor, "annotator": annotator, "team": team}
    worker_runtime._models.clear()


def upload(client: APIClient, team: Team, data: bytes, filename: str, **fields: Any) -> Any:
    """POST a checkpoint to the import endpoint (labels as JSON text, as the page sends them)."""
    handle = io.BytesIO(data)
    handle.name = filename
    body = {"team": team.pk, "file": handle, **fields}
    if "labels" in body:
        body["labels"] = json.dumps(body["labels"])
    return client.post("/api/models/import/", body, format="multipart")


@pytest.fixture
def imported(django_capture_on_commit_callbacks: Any) -> Callable[[Any], Job]:
    """Run the job an upload queued, in-process, with its after-commit work; the job afterwards."""

    def run(response: Any) -> Job:
        assert response.status_code == 201, response.content
        body = response.json()
        assert body["type"] == "import_model" and body["status"] == "queued"
        with django_capture_on_commit_callbacks(execute=True):
            run_job.apply(args=(body["id"],))
        return Job.objects.get(pk=body["id"])

    return run


def model_zip(model_dir: Path, folder: str = "") -> bytes:
    """A model folder zipped (optionally inside a top folder), as a user would upload it."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as bundle:
        for path in sorted(model_dir.iterdir()):
            bundle.write(path, f"{folder}{path.name}")
    return buffer.getvalue()


def test_a_zipped_model_folder_is_registered_with_its_own_labels(
    lab: dict[str, Any], client_for: Callable[[Any], APIClient], labelled_model_dir: Path,
    imported: Callable[[Any], Job],
) -> None:
    job = imported(upload(client_for(lab["editor"]), lab["team"], model_zip(labelled_model_dir, "tiny/"),
                          "tiny.zip", name="Tiny faces"))

    assert (job.status, job.error_message) == ("succeeded", "")
    model = GeneratorModel.objects.get(pk=job.result["model"])
    assert (model.team, model.name, model.resolution) == (lab["team"], "Tiny faces", 16)
    assert list(model.labels.values_list("name", flat=True)) == ["background", "face"]
    assert Path(model.path).name == f"job-{job.pk}"
    assert not media_path(job.parameters["upload"]).exists()  # the upload is dropped once registered


def test_a_rosinality_checkpoint_is_converted_with_the_given_taxonomy(
    lab: dict[str, Any], client_for: Callable[[Any], APIClient], tmp_path: Path,
    imported: Callable[[Any], Job],
) -> None:
    checkpoint = save_rosinality(tmp_path / "ffhq.pt", rosinality_g_ema(16))

    job = imported(upload(client_for(lab["editor"]), lab["team"], checkpoint.read_bytes(), "ffhq.pt",
                          labels=LABELS))

    assert job.status == "succeeded", job.error_message
    model = GeneratorModel.objects.get(pk=job.result["model"])
    assert [(label.name, label.colour, label.is_context) for label in model.labels.order_by("index")] == [
        ("background", "#000000", True), ("face", "#e6b48c", False)]
    assert model.name == f"job-{job.pk}" and model.resolution == 16
    assert model.metadata["source_format"] == "rosinality-stylegan2-pytorch"


def test_a_refused_checkpoint_fails_with_the_importers_reason_and_leaves_nothing(
    lab: dict[str, Any], client_for: Callable[[Any], APIClient], tmp_path: Path, settings: Any,
    imported: Callable[[Any], Job],
) -> None:
    marker = tmp_path / "pwned"
    evil = call_global("posix", "system", f"touch {marker}") + pickle.STOP

    job = imported(upload(client_for(lab["editor"]), lab["team"], evil, "network.pkl", labels=LABELS))

    assert job.status == "failed"
    assert "refusing to load posix.system" in job.error_message
    assert job.error_message.startswith("network.pkl: ")  # the upload's name, not the worker's paths
    assert "/tmp" not in job.error_message
    assert not marker.exists()
    assert not GeneratorModel.objects.exists()
    assert not media_path(job.parameters["upload"]).exists()
    assert not (Path(settings.PARTEDIT_IMPORTED_MODELS_DIR) / f"job-{job.pk}").exists()


def test_a_checkpoint_without_a_taxonomy_is_refused(
    lab: dict[str, Any], client_for: Callable[[Any], APIClient], tmp_path: Path,
    imported: Callable[[Any], Job],
) -> None:
    checkpoint = save_rosinality(tmp_path / "ffhq.pt", rosinality_g_ema(16))

    job = imported(upload(client_for(lab["editor"]), lab["team"], checkpoint.read_bytes(), "ffhq.pt"))

    assert job.status == "failed" and "no part-label taxonomy" in job.error_message


def test_a_zip_without_a_model_folder_is_refused(
    lab: dict[str, Any], client_for: Callable[[Any], APIClient],
    imported: Callable[[Any], Job],
) -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as bundle:
        bundle.writestr("notes.txt", "hello")

    client = client_for(lab["editor"])
    job = imported(upload(client, lab["team"], buffer.getvalue(), "model.zip", labels=LABELS))

    assert job.status == "failed" and "no PartEdit model folder" in job.error_message


@pytest.mark.parametrize(("filename", "labels", "code"), [
    ("weights.safetensors", LABELS, "unsupported_checkpoint"),
    ("model.pt", [{"name": "background", "colour": "black"}], "invalid_taxonomy"),
])
def test_bad_requests_are_refused_before_anything_is_stored(
    lab: dict[str, Any], client_for: Callable[[Any], APIClient], filename: str, labels: Any, code: str
) -> None:
    response = upload(client_for(lab["editor"]), lab["team"], b"data", filename, labels=labels)

    assert response.status_code == 400 and response.json()["error"]["code"] == code
    assert not Job.objects.exists()
    assert not media_path(f"teams/{lab['team'].pk}/checkpoints").exists()


def test_a_checkpoint_over_the_limit_is_413(lab: dict[str, Any], client_for: Callable[[Any], APIClient],
                                            settings: Any) -> None:
    settings.PARTEDIT_MAX_CHECKPOINT_BYTES = 10

    response = upload(client_for(lab["editor"]), lab["team"], b"x" * 11, "model.pt", labels=LABELS)

    assert response.status_code == 413 and response.json()["error"]["code"] == "file_too_large"


def test_only_editors_register_models(lab: dict[str, Any], client_for: Callable[[Any], APIClient],
                                      make_user: Callable[[str], Any]) -> None:
    assert upload(client_for(lab["annotator"]), lab["team"], b"x", "m.pt", labels=LABELS).status_code == 403
    outsider = client_for(make_user("outsider"))
    assert upload(outsider, lab["team"], b"x", "m.pt", labels=LABELS).status_code == 404
    assert not Job.objects.exists()


def test_an_import_job_only_reads_its_own_teams_uploads(lab: dict[str, Any]) -> None:
    from webapp.assets.job_kinds import prepare_import_model
    from webapp.errors import InvalidInput

    with pytest.raises(InvalidInput, match="own uploads"):
        prepare_import_model(lab["editor"], lab["team"],
                             {"upload": "teams/999/checkpoints/x.pt", "filename": "x.pt"})
    with pytest.raises(InvalidInput, match="own uploads"):
        escaping = f"teams/{lab['team'].pk}/checkpoints/../../9/x.pt"
        prepare_import_model(lab["editor"], lab["team"], {"upload": escaping, "filename": "x.pt"})
