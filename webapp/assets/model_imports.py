"""Registering a model from an uploaded checkpoint: the web side stores the upload, a worker job
(``import_model``, ``webapp/jobs/runners/import_model.py``) converts it with the engine's safe
importer and registers the result through ``services.register_model``. Torch-free."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.conf import settings

from webapp.errors import InvalidInput, PayloadTooLarge
from webapp.teams.models import Team
from webapp.teams.permissions import Action, require

from . import storage
from .model_files import parse_labels

# The formats the importer reads, by file name: a rosinality .pt, an NVIDIA network pickle, or
# the project's own model folder as a zip (config.json, weights.safetensors, labels.json).
CHECKPOINT_SUFFIXES = (".pt", ".pkl", ".zip")


def checkpoint_folder(team: Team) -> str:
    """Where a team's uploaded checkpoints wait for their import job (relative to media storage)."""
    return f"teams/{team.pk}/checkpoints"


def labels_parameter(raw: object) -> list[dict[str, Any]] | None:
    """A requested taxonomy, validated, as the job stores it (None: the checkpoint must bring one)."""
    if raw is None:
        return None
    labels = parse_labels(raw)
    return [{"name": label.name, "colour": label.colour, "context": label.context} for label in labels]


def request_model_import(
    user: Any, team: Team, data: bytes, filename: str, name: str = "", labels: object = None
) -> Any:
    """Store an uploaded checkpoint and queue the job that imports and registers it; returns the job."""
    from webapp.jobs import services as jobs
    from webapp.jobs.models import JobType

    require(user, team, Action.EDIT)
    suffix = Path(filename).suffix.lower()
    if suffix not in CHECKPOINT_SUFFIXES:
        raise InvalidInput(
            f"{filename!r} is not a checkpoint PartEdit imports; upload a rosinality .pt, an NVIDIA .pkl "
            "or a PartEdit model folder as .zip.",
            code="unsupported_checkpoint",
        )
    if len(data) > settings.PARTEDIT_MAX_CHECKPOINT_BYTES:
        raise PayloadTooLarge(
            f"The checkpoint is {len(data)} bytes; the limit is {settings.PARTEDIT_MAX_CHECKPOINT_BYTES}.",
            code="file_too_large",
        )
    taxonomy = labels_parameter(labels)
    stored = storage.write_atomic(storage.unique_name(checkpoint_folder(team), suffix), data)
    parameters = {"upload": stored, "filename": Path(filename).name[:200], "name": name.strip()[:100],
                  "labels": taxonomy}
    try:
        return jobs.create_job(user, team, JobType.IMPORT_MODEL, parameters)
    except Exception:
        storage.delete_files([stored])
        raise
