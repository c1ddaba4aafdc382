"""Checking an edit-vector file before it is stored: the engine's torch-free format check, then the model.

The format is defined once, in ``editing_engine.formats`` (no torch, no Django); this module
maps its refusals to the API's 400s and checks that the file was made with ``model``.
"""

from __future__ import annotations

from typing import Any

from editing_engine import formats
from webapp.assets.models import GeneratorModel
from webapp.errors import InvalidInput, PayloadTooLarge


class IncompatibleVector(InvalidInput):
    """An edit vector made with another generator model (or for another W+ shape)."""

    code = "incompatible_vector"


def check_vector_file(data: bytes, model: GeneratorModel) -> dict[str, Any]:
    """Return the vector file's metadata after checking it fits ``model``; clear 400s otherwise."""
    if len(data) > formats.MAX_FILE_BYTES:
        raise PayloadTooLarge("The file is far larger than any edit vector.", code="file_too_large")
    try:
        metadata = formats.read_vector(data).metadata
    except formats.VectorError as error:
        message = f"This is not a valid PartEdit edit-vector file: {error}."
        raise InvalidInput(message, code="invalid_vector") from error
    if metadata["model_hash"] != model.weights_hash:
        raise IncompatibleVector(
            f"This vector was made with another generator model ({metadata['model_hash'][:12]}...), "
            f"not with {model.name} ({model.weights_hash[:12]}...); vectors only apply to their own model."
        )
    if metadata["w_plus_shape"] != [model.num_ws, model.w_dim]:
        raise IncompatibleVector(
            f"The vector's W+ shape is {metadata['w_plus_shape']}; "
            f"{model.name} needs [{model.num_ws}, {model.w_dim}]."
        )
    return metadata
