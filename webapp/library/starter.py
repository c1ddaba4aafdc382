"""The starter library a model directory ships (``<model>/library/``), registered with the model.

``scripts/build_starter_library.py`` makes these vectors with PartEdit's own editing on the demo
model and writes ``library.json`` (names, descriptions, tags, scales, figures) beside the vector
files and their before/after thumbnails. Registering them gives a new team vectors to apply
within a minute of opening the app. Idempotent: a vector is registered once per model (by its
file name, recorded in its provenance). No torch: the files are read as JSON and bytes.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from django.db import transaction

from webapp.assets.models import GeneratorModel
from webapp.errors import ServiceError
from webapp.teams.models import Role

from .models import EditVector
from .services import create_edit_vector

logger = logging.getLogger(__name__)

LIBRARY_FOLDER = "library"
MANIFEST = "library.json"
MANIFEST_FORMAT = "partedit-starter-library/v1"
STARTER_TAG = "starter"


def starter_manifest(model: GeneratorModel) -> list[dict[str, Any]]:
    """The vectors the model directory's starter library lists ([] when it has none or another model's)."""
    path = Path(model.path) / LIBRARY_FOLDER / MANIFEST
    try:
        manifest = json.loads(path.read_text())
    except (OSError, ValueError):
        return []
    if not isinstance(manifest, dict) or manifest.get("format") != MANIFEST_FORMAT:
        logger.warning("%s is not a %s file; no starter library registered", path, MANIFEST_FORMAT)
        return []
    if manifest.get("model_weights_hash") != model.weights_hash:
        logger.warning("the starter library in %s was made for other weights; not registered", path.parent)
        return []
    vectors = manifest.get("vectors")
    return [entry for entry in vectors if isinstance(entry, dict)] if isinstance(vectors, list) else []


def register_starter_library(model: GeneratorModel) -> list[EditVector]:
    """Add the model's starter vectors to its team's library (each once); returns the ones added now.

    They are added on behalf of the team's first owner and then carry no author: provenance says
    they were made by the starter-library script (source seed, figures in ``settings``).
    """
    owner = model.team.memberships.filter(role=Role.OWNER).order_by("pk").first()
    if owner is None:
        return []
    folder = Path(model.path) / LIBRARY_FOLDER
    added = []
    for entry in starter_manifest(model):
        name = str(entry.get("file", ""))
        if EditVector.objects.filter(model=model, settings__starter_file=name).exists():
            continue
        try:
            data = (folder / name).read_bytes()
            thumbnails = tuple((folder / str(entry[key])).read_bytes() if entry.get(key) else None
                               for key in ("before", "after"))
            with transaction.atomic():
                vector = create_edit_vector(
                    owner.user, model, data, str(entry.get("name") or name),
                    description=str(entry.get("description", "")),
                    tags=[*entry.get("tags", []), STARTER_TAG],
                    scales=(float(entry.get("default_scale", 1.0)), float(entry.get("min_scale", -2.0)),
                            float(entry.get("max_scale", 2.0))),
                    loss_curve=entry.get("loss_curve") or None,
                    thumbnails=(thumbnails[0], thumbnails[1]),
                )
                figures = entry.get("figures") if isinstance(entry.get("figures"), dict) else {}
                vector.settings = {**vector.settings, "starter_file": name, "starter_figures": figures}
                vector.author = None
                vector.save(update_fields=["settings", "author"])
        except (OSError, KeyError, TypeError, ValueError, ServiceError) as error:
            logger.warning("starter vector %s of model %s not registered: %s", name, model.pk, error)
            continue
        added.append(vector)
    return added
