"""Checking edit-vector files without torch: format, shape, values and the model they belong to.

The engine writes one safetensors file per vector: the float32 tensor ``delta``
``[num_ws, w_dim]`` and, under the metadata key ``partedit``, JSON with the format name,
the model's weights hash, the labels involved, settings, losses and source.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
from safetensors import SafetensorError
from safetensors.numpy import load

from webapp.assets.models import GeneratorModel
from webapp.assets.tensor_files import TensorFileError, read_header
from webapp.errors import InvalidInput, PayloadTooLarge

VECTOR_FORMAT = "partedit-edit-vector/v1"
MAX_VECTOR_BYTES = 16 * 1024 * 1024


class IncompatibleVector(InvalidInput):
    """An edit vector made with another generator model (or for another W+ shape)."""

    code = "incompatible_vector"


def check_vector_file(data: bytes, model: GeneratorModel) -> dict[str, Any]:
    """Return the vector file's metadata after checking it fits ``model``; clear 400s otherwise."""
    if len(data) > MAX_VECTOR_BYTES:
        raise PayloadTooLarge("The file is far larger than any edit vector.", code="file_too_large")
    try:
        header = read_header(data)
        metadata = json.loads(header.metadata["partedit"])
    except (TensorFileError, KeyError, ValueError) as error:
        raise InvalidInput(
            f"This is not a PartEdit edit-vector file: {error}", code="invalid_vector"
        ) from error
    if not isinstance(metadata, dict) or metadata.get("format") != VECTOR_FORMAT:
        raise InvalidInput(f"The file is not in the {VECTOR_FORMAT} format.", code="invalid_vector")
    delta = header.tensors.get("delta")
    if delta is None or set(header.tensors) != {"delta"} or delta.dtype != "F32":
        raise InvalidInput("An edit vector holds exactly one float32 tensor 'delta'.", code="invalid_vector")
    if metadata.get("model_hash") != model.weights_hash:
        raise IncompatibleVector(
            f"This vector was made with another generator model ({str(metadata.get('model_hash'))[:12]}...), "
            f"not with {model.name} ({model.weights_hash[:12]}...); vectors only apply to their own model."
        )
    if delta.shape != (model.num_ws, model.w_dim):
        raise IncompatibleVector(
            f"The vector's W+ shape is {list(delta.shape)}; "
            f"{model.name} needs [{model.num_ws}, {model.w_dim}]."
        )
    try:
        values = load(data)["delta"]
    except SafetensorError as error:
        raise InvalidInput(f"The vector's data is unreadable: {error}", code="invalid_vector") from error
    if not np.isfinite(values).all():
        raise InvalidInput("The vector holds non-finite values.", code="invalid_vector")
    return metadata
