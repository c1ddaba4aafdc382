"""The segmentation branch a model directory ships (``<model>/branch``), registered with the model.

A model directory may hold a trained branch in the engine's format (``branch/branch.json`` and
``branch/branch.safetensors``) and, optionally, its evaluation figures (``branch/metrics.json``,
written by ``bench/bundled_branch_eval.py``). Registering it gives a new team an active branch,
so editing works before anyone has trained one. No torch: the files are read as JSON and bytes.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from django.db import transaction

from editing_engine import formats
from webapp.assets.models import GeneratorModel
from webapp.assets.services import register_bundled_model_for_new_team
from webapp.library.starter import register_starter_library
from webapp.teams.models import Team

from .models import SegmentationBranch
from .services import register_segmentation_branch

logger = logging.getLogger(__name__)

BRANCH_FOLDER = "branch"
SHIPPED = "shipped with the model"


def shipped_branch_files(model: GeneratorModel) -> tuple[dict[str, Any], bytes, dict[str, Any]] | None:
    """The shipped branch's document, weights and figures, or None when the model ships none that fits."""
    folder = Path(model.path) / BRANCH_FOLDER
    try:
        document = json.loads((folder / formats.BRANCH_CONFIG_FILE).read_text())
        weights = (folder / formats.BRANCH_WEIGHTS_FILE).read_bytes()
    except (OSError, ValueError):
        return None
    if not isinstance(document, dict):
        document = {}
    config, metadata = document.get("branch"), document.get("metadata") or {}
    if not (document.get("format") == formats.BRANCH_FORMAT
            and isinstance(config, dict) and isinstance(metadata, dict)):
        logger.warning("%s is not a %s file; no branch registered", folder / formats.BRANCH_CONFIG_FILE,
                       formats.BRANCH_FORMAT)
        return None
    expected_hash = metadata.get("model_hash")
    wrong_hash = bool(expected_hash) and expected_hash != model.weights_hash
    if config.get("num_labels") != model.labels.count() or wrong_hash:
        logger.warning("the branch in %s does not fit model %s; no branch registered", folder, model.pk)
        return None
    try:
        figures = json.loads((folder / "metrics.json").read_text())
    except (OSError, ValueError):
        figures = {}
    return document, weights, figures if isinstance(figures, dict) else {}


def register_shipped_branch(model: GeneratorModel) -> SegmentationBranch | None:
    """Register and activate the model's shipped branch once, while the model has no branch yet."""
    files = shipped_branch_files(model)
    if files is None:
        return None
    document, weights, figures = files
    metadata = document["metadata"]
    metrics = {"source": SHIPPED, "trained_on": metadata.get("num_annotations"), "held_out": [],
               "training": metadata, **figures}
    with transaction.atomic():
        # Lock the model row so two registrations cannot both see "no branch yet".
        GeneratorModel.objects.select_for_update().filter(pk=model.pk).first()
        if model.branches.exists():
            return None
        return register_segmentation_branch(model, weights, [], metrics, config=document["branch"])


def register_server_model(team: Team) -> GeneratorModel | None:
    """Give a new team the server's model (PARTEDIT_MODEL_PATH) and the branch it ships, when enabled."""
    model = register_bundled_model_for_new_team(team)
    if model is not None:
        register_shipped_branch(model)
        register_starter_library(model)
    return model
