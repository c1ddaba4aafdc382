"""Describe a model directory (config, weights hash, part labels) without importing torch.

The directory is the engine's own format: ``config.json`` and ``weights.safetensors``
(tensors prefixed ``G_ema.``). The weights hash is computed exactly as the engine's
``checkpoints.hash_state`` does, so a registered model and a loaded one agree on identity.
The part-label taxonomy comes from ``labels.json`` beside the weights, or else from the
config's ``metadata.labels``: an ordered list of ``{"name": ..., "colour": "#rrggbb"}``, each
with an optional boolean ``"context"`` (a host label such as background or skin whose unchanged
pixels an edit leaves out of its region).
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from safetensors import SafetensorError
from safetensors.numpy import load_file

from webapp.errors import InvalidInput

COLOUR = re.compile(r"^#[0-9a-fA-F]{6}$")
GENERATOR_PREFIX = "G_ema."


@dataclass
class PartLabelSpec:
    """One label of a taxonomy; its index is its position."""

    name: str
    colour: str
    context: bool = False


@dataclass
class ModelDescription:
    """Everything the webapp records about a model directory."""

    config: dict[str, Any]
    resolution: int
    num_ws: int
    w_dim: int
    weights_hash: str
    labels: list[PartLabelSpec]
    metadata: dict[str, Any]


def generator_weights_hash(weights_file: Path) -> str:
    """SHA-256 over the generator's tensor names, shapes and bytes (the engine's ``hash_state``)."""
    tensors = load_file(str(weights_file))
    digest = hashlib.sha256()
    state = {k[len(GENERATOR_PREFIX) :]: v for k, v in tensors.items() if k.startswith(GENERATOR_PREFIX)}
    for name in sorted(state):
        digest.update(name.encode())
        digest.update(str(tuple(int(size) for size in state[name].shape)).encode())
        digest.update(state[name].tobytes(order="C"))
    return digest.hexdigest()


def _context_flag(entry: object, index: int) -> bool:
    """A label's optional ``context`` flag: a JSON boolean, false when absent."""
    context = entry.get("context", False) if isinstance(entry, dict) else False
    if not isinstance(context, bool):
        raise InvalidInput(
            f"Label {index} has a context flag that is not true or false.", code="invalid_taxonomy"
        )
    return context


def parse_labels(raw: object) -> list[PartLabelSpec]:
    """Validate a taxonomy: 1 to 256 labels, unique names, ``#rrggbb`` colours, boolean context flags."""
    if not isinstance(raw, list) or not raw or len(raw) > 256:
        raise InvalidInput("A taxonomy is a list of 1 to 256 labels.", code="invalid_taxonomy")
    labels = []
    for index, entry in enumerate(raw):
        name = entry.get("name") if isinstance(entry, dict) else None
        colour = entry.get("colour") if isinstance(entry, dict) else None
        if (
            not isinstance(name, str)
            or not name.strip()
            or not isinstance(colour, str)
            or not COLOUR.match(colour)
        ):
            raise InvalidInput(
                f"Label {index} needs a non-empty name and a #rrggbb colour.", code="invalid_taxonomy"
            )
        context = _context_flag(entry, index)
        labels.append(PartLabelSpec(name=name.strip(), colour=colour.lower(), context=context))
    if len({label.name for label in labels}) != len(labels):
        raise InvalidInput("Label names must be unique.", code="invalid_taxonomy")
    return labels


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
    labels_file = directory / "labels.json"
    try:
        raw_labels = (
            json.loads(labels_file.read_text())["labels"] if labels_file.exists() else metadata.get("labels")
        )
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise InvalidInput(f"Cannot read {labels_file}: {error}", code="invalid_taxonomy") from error
    if raw_labels is None:
        raise InvalidInput(f"{directory} has no part-label taxonomy (labels.json).", code="invalid_taxonomy")
    try:
        weights_hash = generator_weights_hash(directory / "weights.safetensors")
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
        labels=parse_labels(raw_labels),
        metadata=metadata,
    )
