"""Media storage on a real S3-compatible server (moto's server mode over HTTP, boto3 unmocked).

Uploads, stored-file downloads, worker-side local copies, model publishing and fetching by
weights hash, and a whole job run by a worker that only reaches the model through storage.
"""

from __future__ import annotations

import io
import json
import re
import shutil
import uuid
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image as PILImage

from tests.s3_server import S3Server
from webapp.assets import model_store, storage
from webapp.assets.models import GeneratorModel, Image
from webapp.assets.services import create_uploaded_image, register_model
from webapp.jobs import services
from webapp.jobs.models import JobType
from webapp.jobs.tasks import run_job
from webapp.teams.models import Role

pytestmark = pytest.mark.django_db


@pytest.fixture
def bucket(s3_server: S3Server, settings: Any, tmp_path: Path) -> str:
    """A fresh bucket as media storage, with this test's own worker cache folder."""
    name = s3_server.create_bucket(f"media-{uuid.uuid4().hex[:12]}")
    settings.STORAGES = {**settings.STORAGES, "default": s3_server.storage_setting(name)}
    settings.PARTEDIT_CACHE_DIR = tmp_path / "cache"
    return name


def photo() -> bytes:
    """A small random RGB PNG."""
    buffer = io.BytesIO()
    pixels = np.random.default_rng(3).integers(0, 255, (20, 24, 3), dtype=np.uint8)
    PILImage.fromarray(pixels).save(buffer, "PNG")
    return buffer.getvalue()


def test_files_round_trip_through_the_bucket(s3_server: S3Server, bucket: str, settings: Any) -> None:
    assert not storage.is_filesystem()
    name = storage.write_atomic("teams/1/x/a.bin", b"\x00payload\xff")

    assert s3_server.keys(bucket) == ["teams/1/x/a.bin"]
    assert storage.read_bytes(name) == b"\x00payload\xff"
    copy = storage.local_copy(name)
    assert copy.read_bytes() == b"\x00payload\xff"
    assert Path(settings.PARTEDIT_CACHE_DIR) in copy.parents
    assert not Path(settings.MEDIA_ROOT, name).exists()

    storage.delete_files([name])
    assert s3_server.keys(bucket) == []
    with pytest.raises(FileNotFoundError):
        storage.read_bytes(name)
    # Stored names are never reused, so the worker's cached copy stays valid.
    assert storage.local_copy(name).read_bytes() == b"\x00payload\xff"


def test_a_failed_batch_removes_its_objects(s3_server: S3Server, bucket: str) -> None:
    with pytest.raises(RuntimeError), storage.new_files() as files:
        files.write("teams/1/x/b.bin", b"b")
        assert s3_server.keys(bucket) == ["teams/1/x/b.bin"]
        raise RuntimeError("the database write failed")
    assert s3_server.keys(bucket) == []


def test_names_escaping_the_cache_are_refused(bucket: str) -> None:
    with pytest.raises(ValueError, match="outside the cache"):
        storage.local_copy("../../etc/passwd")


def test_uploads_live_in_the_bucket_and_are_served_from_it(
    s3_server: S3Server, bucket: str, make_user: Any, make_team: Any, labelled_model_dir: Path,
    client_for: Any,
) -> None:
    editor = make_user("editor")
    team = make_team("Lab", {editor: Role.EDITOR})
    model, _ = register_model(team, labelled_model_dir, "tiny")
    image = create_uploaded_image(editor, model, photo(), "photo")

    keys = s3_server.keys(bucket)
    assert image.original.name in keys and image.normalized.name in keys
    response = client_for(editor).get(f"/api/images/{image.pk}/original/")
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == photo()


def test_registering_a_model_publishes_it_once_by_weights_hash(
    s3_server: S3Server, bucket: str, make_team: Any, labelled_model_dir: Path, settings: Any
) -> None:
    model, _ = register_model(make_team("A"), labelled_model_dir, "tiny")
    prefix = f"models/{model.weights_hash}/"
    published = [key for key in s3_server.keys(bucket) if key.startswith(prefix)]
    expected = sorted(prefix + p.relative_to(labelled_model_dir).as_posix()
                      for p in labelled_model_dir.rglob("*") if p.is_file())
    assert sorted(published) == sorted([*expected, prefix + "manifest.json"])
    assert model_store.publish_model_dir(labelled_model_dir, model.weights_hash) is False

    shutil.rmtree(labelled_model_dir)
    local = model_store.model_directory(model.path, model.weights_hash)
    assert local == Path(settings.PARTEDIT_CACHE_DIR).resolve() / "models" / model.weights_hash
    assert (local / "weights.safetensors").is_file() and (local / "labels.json").is_file()


def test_a_model_file_changed_in_storage_is_refused(
    s3_server: S3Server, bucket: str, make_team: Any, labelled_model_dir: Path
) -> None:
    model, _ = register_model(make_team("A"), labelled_model_dir, "tiny")
    s3_server.client().put_object(Bucket=bucket, Key=f"models/{model.weights_hash}/labels.json", Body=b"{}")

    with pytest.raises(ValueError, match="does not match its manifest"):
        model_store.cached_model_dir(model.weights_hash)
    assert not (Path(model_store.settings.PARTEDIT_CACHE_DIR) / "models" / model.weights_hash).exists()


def test_a_worker_without_the_model_directory_runs_jobs_from_storage(
    s3_server: S3Server, bucket: str, make_user: Any, make_team: Any, labelled_model_dir: Path, settings: Any
) -> None:
    from webapp import worker_runtime

    settings.PARTEDIT_DEVICE = "cpu"
    editor = make_user("editor")
    team = make_team("Lab", {editor: Role.EDITOR})
    model, _ = register_model(team, labelled_model_dir, "tiny")
    shutil.rmtree(labelled_model_dir)  # this "host" never had the model directory
    image = create_uploaded_image(editor, model, photo(), "photo")
    job = services.create_job(editor, team, JobType.EMBED_IMAGE, {"image": image.pk, "steps": 3})
    try:
        run_job.apply(args=(job.pk,))
    finally:
        worker_runtime._models.clear()

    job.refresh_from_db()
    assert (job.status, job.error_message) == ("succeeded", "")
    image = Image.objects.get(pk=image.pk)
    assert image.status == "ready" and image.latent.name in s3_server.keys(bucket)
    assert GeneratorModel.objects.get(pk=model.pk).path == str(labelled_model_dir.resolve())


def test_settings_build_the_s3_storage_from_the_environment(s3_server: S3Server) -> None:
    from tests.webapp.test_web_processes import run_python

    code = "import json, webapp.settings as s; print(json.dumps(s.STORAGES['default']))"
    base = {"SECRET_KEY": "x", "REDIS_URL": "redis://127.0.0.1:1/0"}
    result = run_python(code, **base, **s3_server.env("media"))
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == s3_server.storage_setting("media")
    missing = run_python(code, **base, PARTEDIT_STORAGE="s3")
    assert missing.returncode != 0 and "PARTEDIT_S3_BUCKET must be set" in missing.stderr
    wrong = run_python(code, **base, PARTEDIT_STORAGE="ftp")
    assert wrong.returncode != 0 and "PARTEDIT_STORAGE must be filesystem or s3" in wrong.stderr


def test_no_webapp_code_reads_a_stored_file_by_filesystem_path() -> None:
    # FieldFile.path exists only for filesystem storage; with a bucket it raises. Stored files are
    # read with storage.open_stored / read_bytes, or storage.local_copy where a path is needed.
    root = Path(__file__).resolve().parents[2] / "webapp"
    field_path = re.compile(r"\.(?:latent|vector|mask|weights|normalized|original|reconstruction|"
                            r"strength_strip|thumbnail_\w+|file)\.path\b")
    offenders = [f"{path.relative_to(root)}:{number}" for path in root.rglob("*.py")
                 for number, line in enumerate(path.read_text().splitlines(), 1) if field_path.search(line)]
    assert offenders == []
