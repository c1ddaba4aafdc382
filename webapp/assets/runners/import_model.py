"""Import-model job: convert an uploaded checkpoint with the engine's safe importer, register it.

Reads a rosinality ``.pt`` (weights-only ``torch.load``), an NVIDIA ``.pkl`` (restricted
unpickler: no code in the file is ever run) or a PartEdit model folder as ``.zip``; whatever the
engine refuses fails the job with the engine's reason. The converted folder goes to
``PARTEDIT_IMPORTED_MODELS_DIR/job-<id>`` with the checkpoint's own ``labels.json`` or else
the requested taxonomy, and is registered in the job's team.
"""

from __future__ import annotations

import json
import shutil
import tempfile
import zipfile
from pathlib import Path, PurePosixPath
from typing import Any

from django.conf import settings

from editing_engine import formats, taxonomy
from webapp.assets import services as assets
from webapp.assets import storage
from webapp.errors import InvalidInput
from webapp.jobs.models import Job, JobStatus
from webapp.jobs.progress import JobHooks
from webapp.jobs.runner import Runner

# A PartEdit model folder's files, as the engine's torch-free format layer names them.
CONFIG_FILE = formats.GENERATOR_CONFIG_FILE
WEIGHTS_FILE = formats.GENERATOR_WEIGHTS_FILE
LABELS_FILE = taxonomy.LABELS_FILE
MODEL_FILES = (CONFIG_FILE, WEIGHTS_FILE, LABELS_FILE)
# A zipped model folder may unpack to at most this many times the checkpoint size limit (zip bombs).
UNPACKED_LIMIT_FACTOR = 2


def destination_of(job: Job) -> Path:
    """The model folder an import job writes (a re-run of the job overwrites it)."""
    return Path(settings.PARTEDIT_IMPORTED_MODELS_DIR) / f"job-{job.pk}"


def unpack_model_zip(archive: Path, folder: Path) -> Path:
    """Extract a zipped PartEdit model folder's known files (at the top or in one folder) into ``folder``."""
    try:
        with zipfile.ZipFile(archive) as bundle:
            members = {PurePosixPath(info.filename): info for info in bundle.infolist() if not info.is_dir()}
            found = {path.name: info for path, info in members.items()
                     if path.name in MODEL_FILES and len(path.parts) <= 2}
            if CONFIG_FILE not in found or WEIGHTS_FILE not in found:
                raise InvalidInput(
                    f"The zip holds no PartEdit model folder ({CONFIG_FILE}, {WEIGHTS_FILE}).",
                    code="invalid_checkpoint",
                )
            limit = UNPACKED_LIMIT_FACTOR * settings.PARTEDIT_MAX_CHECKPOINT_BYTES
            if sum(info.file_size for info in found.values()) > limit:
                raise InvalidInput("The zipped model unpacks to more than the checkpoint size limit allows.",
                                   code="invalid_checkpoint")
            folder.mkdir(parents=True)
            for name, info in found.items():
                with bundle.open(info) as source, (folder / name).open("wb") as target:
                    shutil.copyfileobj(source, target)
    except zipfile.BadZipFile as error:
        raise InvalidInput(f"The .zip file is damaged: {error}", code="invalid_checkpoint") from error
    return folder


def convert(source: Path, destination: Path, filename: str) -> None:
    """The engine's import of ``source``; its refusal names the uploaded file, never the worker's paths."""
    from editing_engine.checkpoints import CheckpointError, import_checkpoint

    try:
        import_checkpoint(source, destination, overwrite=True)
    except CheckpointError as error:
        message = str(error).replace(str(source), filename).replace(f"{source.parent}/", "")
        raise InvalidInput(message, code="invalid_checkpoint") from error


def compute(job: Job, hooks: JobHooks) -> str:
    """Convert the upload into a verified PartEdit model folder with a taxonomy; its path."""
    parameters = job.parameters
    suffix = Path(parameters["upload"]).suffix
    destination = destination_of(job)
    hooks.progress(0, 2, 0.0)
    with tempfile.TemporaryDirectory() as work:
        source = Path(work) / f"checkpoint{suffix}"
        with storage.open_stored(parameters["upload"]) as stored, source.open("wb") as target:
            shutil.copyfileobj(stored, target)
        own_labels = None
        if suffix == ".zip":
            source = unpack_model_zip(source, Path(work) / "model")
            own_labels = source / LABELS_FILE if (source / LABELS_FILE).exists() else None
        hooks.progress(1, 2, 0.0)
        convert(source, destination, parameters["filename"])
        if own_labels is not None:
            shutil.copyfile(own_labels, destination / LABELS_FILE)
        elif parameters.get("labels"):
            (destination / LABELS_FILE).write_text(json.dumps({"labels": parameters["labels"]}, indent=1))
        else:
            raise InvalidInput("The checkpoint has no part-label taxonomy; give its labels with the upload.",
                               code="invalid_taxonomy")
    hooks.progress(2, 2, 0.0)
    return str(destination)


def store(job: Job, output: str) -> dict[str, Any]:
    """Register the converted folder in the job's team (once per weights) and drop the upload."""
    model, created = assets.register_model(job.team, Path(output), job.parameters.get("name", ""))
    upload = job.parameters["upload"]
    from django.db import transaction

    transaction.on_commit(lambda: storage.delete_files([upload]))
    return {"model": model.pk, "created": created}


def on_stop(job: Job, status: JobStatus, message: str) -> None:
    """A refused or cancelled import leaves neither its upload nor a half-written folder behind."""
    storage.delete_files([job.parameters["upload"]])
    shutil.rmtree(destination_of(job), ignore_errors=True)


RUNNER = Runner(compute=compute, store=store, on_stop=on_stop)
