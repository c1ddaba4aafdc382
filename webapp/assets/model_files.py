"""Describe a model directory (config, weights hash, part labels) without importing torch.

The directory is the engine's own format (``editing_engine.formats``): ``config.json`` and
``weights.safetensors``. The weights hash and the taxonomy rules are the engine's own
(``formats.generator_weights_hash``, ``editing_engine.taxonomy``), so a registered model and a
loaded one agree on identity and labels. The taxonomy comes from ``labels.json`` beside the
weights, or else from the config's ``metadata.labels``.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from safetensors import SafetensorError

from editing_engine import formats, taxonomy
from editing_engine.taxonomy import LabelSpec
from webapp.errors import InvalidInput


@dataclass
class ModelDescription:
    """Everything the webapp records about a model directory."""

    config: dict[str, Any]
    resolution: int
    num_ws: int
    w_dim: int
    weights_hash: str
    labels: list[LabelSpec]
    metadata: dict[str, Any]


def parse_labels(raw: object) -> list[LabelSpec]:
    """Check a taxonomy by the engine's rules; a malformed one is a 400 ``invalid_taxonomy``."""
    try:
        return taxonomy.parse_labels(raw)
    except taxonomy.TaxonomyError as error:
        raise InvalidInput(str(error), code="invalid_taxonomy") from error


def describe_model_dir(directory: Path) -> ModelDescription:
    """Read a model directory's config, weights hash and taxonomy; clear errors if anything is off."""
    try:
        config_data = json.loads((directory / "config.json").read_text())
        generator = dict(config_data["generator"])
        resolution, w_dim = int(generator["resolution"]), int(generator["w_dim"])
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise InvalidInput(
            f"Cannot read the model config in {directory}: {error}", code="invalid_model"
        ) from error
    if resolution < 4 or 2 ** round(math.log2(resolution)) != resolution:
        raise InvalidInput(f"Model resolution {resolution} is not a power of two.", code="invalid_model")
    metadata = dict(config_data.get("metadata") or {})
    try:
        labels = taxonomy.read_labels_file(directory)
    except taxonomy.TaxonomyError as error:
        raise InvalidInput(str(error), code="invalid_taxonomy") from error
    if labels is None and metadata.get("labels") is None:
        raise InvalidInput(f"{directory} has no part-label taxonomy (labels.json).", code="invalid_taxonomy")
    if labels is None:
        labels = parse_labels(metadata["labels"])
    try:
        weights_hash = formats.generator_weights_hash(directory / formats.GENERATOR_WEIGHTS_FILE)
    except (OSError, ValueError, SafetensorError) as error:
        raise InvalidInput(
            f"Cannot read the weights in {directory}: {error}", code="invalid_model"
        ) from error
    return ModelDescription(
        config=generator,
        resolution=resolution,
        num_ws=2 * int(math.log2(resolution)) - 2,
        w_dim=w_dim,
        weights_hash=weights_hash,
        labels=labels,
        metadata=metadata,
    )
