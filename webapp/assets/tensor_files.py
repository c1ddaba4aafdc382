"""Reading safetensors headers without torch: tensor names, dtypes, shapes and metadata.

Web processes never import torch, yet must check that an uploaded latent or edit vector
fits its model before storing it. A safetensors file is an 8-byte little-endian header
length, a JSON header and the raw tensor bytes; the header alone answers those questions.
"""

from __future__ import annotations

import json
import math
import struct
from dataclasses import dataclass, field

DTYPE_BYTES = {
    "F64": 8,
    "F32": 4,
    "F16": 2,
    "BF16": 2,
    "I64": 8,
    "I32": 4,
    "I16": 2,
    "I8": 1,
    "U8": 1,
    "BOOL": 1,
}
MAX_HEADER_BYTES = 1024 * 1024


class TensorFileError(ValueError):
    """The bytes are not a well-formed safetensors file."""


@dataclass
class TensorInfo:
    """One tensor of a safetensors file."""

    dtype: str
    shape: tuple[int, ...]


@dataclass
class TensorFileHeader:
    """What a safetensors header says: its tensors and its string metadata."""

    tensors: dict[str, TensorInfo] = field(default_factory=dict)
    metadata: dict[str, str] = field(default_factory=dict)


def read_header(data: bytes) -> TensorFileHeader:
    """Parse and check the header of safetensors bytes (offsets must cover the file exactly)."""
    if len(data) < 8:
        raise TensorFileError("the file is too short to be a safetensors file")
    (length,) = struct.unpack("<Q", data[:8])
    if length > MAX_HEADER_BYTES or 8 + length > len(data):
        raise TensorFileError("the safetensors header length is invalid")
    try:
        raw = json.loads(data[8 : 8 + length])
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise TensorFileError(f"the safetensors header is not JSON: {error}") from error
    if not isinstance(raw, dict):
        raise TensorFileError("the safetensors header is not a JSON object")
    header = TensorFileHeader(metadata=_metadata(raw.pop("__metadata__", {})))
    body = len(data) - 8 - length
    end = 0
    for name, entry in sorted(raw.items(), key=lambda item: _offsets(item[1])[0]):
        start, stop = _offsets(entry)
        dtype, shape = entry.get("dtype"), entry.get("shape")
        if (
            dtype not in DTYPE_BYTES
            or not isinstance(shape, list)
            or not all(isinstance(size, int) and size >= 0 for size in shape)
        ):
            raise TensorFileError(f"tensor {name!r} has an invalid dtype or shape")
        if start != end or stop - start != DTYPE_BYTES[dtype] * math.prod(shape):
            raise TensorFileError(f"tensor {name!r} has invalid data offsets")
        end = stop
        header.tensors[name] = TensorInfo(dtype=dtype, shape=tuple(shape))
    if end != body:
        raise TensorFileError("the safetensors data does not match its header")
    return header


def _offsets(entry: object) -> tuple[int, int]:
    """The data offsets of one header entry."""
    offsets = entry.get("data_offsets") if isinstance(entry, dict) else None
    if not (isinstance(offsets, list) and len(offsets) == 2 and all(isinstance(o, int) for o in offsets)):
        raise TensorFileError("a tensor entry has no valid data_offsets")
    return offsets[0], offsets[1]


def _metadata(raw: object) -> dict[str, str]:
    """The header's ``__metadata__`` (a string -> string map)."""
    if not isinstance(raw, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in raw.items()
    ):
        raise TensorFileError("the safetensors metadata must map strings to strings")
    return raw
