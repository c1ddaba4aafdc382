"""PartEdit's edit-vector and latent files, checked without torch: the one definition of both formats.

A file is safetensors: an 8-byte little-endian header length, a JSON header naming each
tensor's dtype, shape and byte offsets, then the raw tensor bytes. An edit vector holds one
float32 tensor ``delta [num_ws, w_dim]``, a latent one float32 tensor ``ws [1, num_ws, w_dim]``;
both carry a JSON object under the header metadata key ``partedit`` (format name, the model's
weights hash, the W+ shape and the provenance fields listed in ``VECTOR_FIELDS``).

The engine (``vectors.py``) turns what this module returns into torch tensors; web processes,
which never import torch, call the same functions before they store an uploaded file. JSON is
parsed with a nesting bound, finite numbers only and no NUL characters, so every value a file
carries can be stored in a database as it is. Nothing is ever unpickled.

It also names the model-directory format and computes the weights hash that identifies a
generator (:func:`weights_hash`; the engine's ``checkpoints.hash_state`` and the webapp's model
registration both use it, so a registered model and a loaded one agree on identity).
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import struct
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from safetensors.numpy import load_file

from editing_engine.errors import EngineError

# A model directory: ``config.json`` (this format name) and ``weights.safetensors``, whose
# generator tensors are prefixed ``G_ema.`` (the discriminator's ``D.``).
GENERATOR_FORMAT = "partedit-generator/v1"
GENERATOR_CONFIG_FILE = "config.json"
GENERATOR_WEIGHTS_FILE = "weights.safetensors"
GENERATOR_PREFIX = "G_ema."
# A segmentation branch directory: ``branch.json`` (this format name, the config) and its weights.
BRANCH_FORMAT = "partedit-branch/v1"
BRANCH_CONFIG_FILE = "branch.json"
BRANCH_WEIGHTS_FILE = "branch.safetensors"
VECTOR_FORMAT = "partedit-edit-vector/v1"
LATENT_FORMAT = "partedit-latent/v1"
METADATA_KEY = "partedit"
# A vector for the largest supported model (18 x 512 float32) is 37 KB; anything far larger is not one.
MAX_FILE_BYTES = 16 * 1024 * 1024
MAX_HEADER_BYTES = 1024 * 1024
MAX_JSON_DEPTH = 32
MAX_LABELS = 256
DTYPE_BYTES = {
    "F64": 8, "F32": 4, "F16": 2, "BF16": 2, "I64": 8, "I32": 4, "I16": 2, "I8": 1, "U8": 1, "BOOL": 1,
}
_JSON_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"', re.DOTALL)


class VectorError(EngineError):
    """An edit-vector or latent file is malformed, or does not fit the model it is used with."""


class IncompatibleVectorError(VectorError):
    """A well-formed file made for another model (weights hash) or another W+ shape."""


@dataclass
class TensorInfo:
    """One tensor of a safetensors file: dtype, shape and where its bytes are."""

    dtype: str
    shape: tuple[int, ...]
    start: int
    stop: int


@dataclass
class TensorFileHeader:
    """What a safetensors header says: its tensors and its string metadata."""

    tensors: dict[str, TensorInfo] = field(default_factory=dict)
    metadata: dict[str, str] = field(default_factory=dict)
    data_start: int = 0


@dataclass
class TensorFile:
    """A checked vector or latent file: its one float32 array and its metadata object."""

    array: np.ndarray
    metadata: dict[str, Any]


def json_depth(text: bytes) -> int:
    """The deepest nesting of arrays and objects in JSON text (brackets inside strings ignored)."""
    codes = np.frombuffer(_JSON_STRING.sub(b'""', text), np.uint8)
    steps = np.isin(codes, (ord("["), ord("{"))).astype(np.int64) - np.isin(codes, (ord("]"), ord("}")))
    return int(np.cumsum(steps).max(initial=0))


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"number {text} is out of range")
    return value


def _refuse_constant(name: str) -> float:
    raise ValueError(f"{name} is not a number JSON allows")


def _check_strings(value: Any) -> None:
    """Refuse NUL characters anywhere in a parsed JSON value (databases cannot store them)."""
    if isinstance(value, str):
        if "\x00" in value:
            raise ValueError("a string contains a NUL character")
    elif isinstance(value, dict):
        for key, item in value.items():
            _check_strings(key)
            _check_strings(item)
    elif isinstance(value, list):
        for item in value:
            _check_strings(item)


def loads_json(text: str | bytes, max_depth: int = MAX_JSON_DEPTH) -> Any:
    """Parse JSON nested at most ``max_depth`` deep, with finite numbers and no NUL; else ValueError."""
    raw = text.encode("utf-8", "surrogatepass") if isinstance(text, str) else bytes(text)
    if json_depth(raw) > max_depth:
        raise ValueError(f"JSON nested deeper than {max_depth} levels")
    try:
        value = json.loads(raw, parse_float=_finite_float, parse_constant=_refuse_constant)
    except RecursionError as error:  # pragma: no cover - the depth bound comes first
        raise ValueError("JSON nested too deeply") from error
    _check_strings(value)
    return value


def read_header(data: bytes) -> TensorFileHeader:
    """Parse and check a safetensors header (offsets must cover the data exactly); VectorError otherwise."""
    if len(data) < 8:
        raise VectorError("the file is too short to be a safetensors file")
    (length,) = struct.unpack("<Q", data[:8])
    if length == 0 or length > MAX_HEADER_BYTES or 8 + length > len(data):
        raise VectorError("the safetensors header length is invalid")
    try:
        raw = loads_json(data[8 : 8 + length])
    except (UnicodeDecodeError, ValueError) as error:
        raise VectorError(f"the safetensors header is not valid JSON: {error}") from error
    if not isinstance(raw, dict):
        raise VectorError("the safetensors header is not a JSON object")
    header = TensorFileHeader(metadata=_string_map(raw.pop("__metadata__", {})), data_start=8 + length)
    end = 0
    for name, entry in sorted(raw.items(), key=lambda item: _offsets(item[1])[0]):
        start, stop = _offsets(entry)
        dtype, shape = entry.get("dtype"), entry.get("shape")
        if dtype not in DTYPE_BYTES or not (isinstance(shape, list) and all(_is_int(s, 0) for s in shape)):
            raise VectorError(f"tensor {name!r} has an invalid dtype or shape")
        if start != end or stop - start != DTYPE_BYTES[dtype] * math.prod(shape):
            raise VectorError(f"tensor {name!r} has invalid data offsets")
        end = stop
        header.tensors[name] = TensorInfo(dtype=dtype, shape=tuple(shape), start=start, stop=stop)
    if end != len(data) - header.data_start:
        raise VectorError("the safetensors data does not match its header")
    return header


def _offsets(entry: object) -> tuple[int, int]:
    """The data offsets of one header entry."""
    offsets = entry.get("data_offsets") if isinstance(entry, dict) else None
    if not (isinstance(offsets, list) and len(offsets) == 2 and all(_is_int(o, 0) for o in offsets)):
        raise VectorError("a tensor entry has no valid data_offsets")
    return offsets[0], offsets[1]


def _string_map(raw: object) -> dict[str, str]:
    """The header's ``__metadata__`` (a string -> string map)."""
    if not isinstance(raw, dict) or not all(_is_string(k) and _is_string(v) for k, v in raw.items()):
        raise VectorError("the safetensors metadata must map strings to strings")
    return raw


def _is_int(value: object, low: int, high: int | None = None) -> bool:
    """Whether ``value`` is a JSON integer (not a boolean) in ``[low, high]``."""
    return (
        isinstance(value, int) and not isinstance(value, bool) and value >= low
        and (high is None or value <= high)
    )


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _is_string(value: object) -> bool:
    return isinstance(value, str)


def _is_object(value: object) -> bool:
    return isinstance(value, dict)


def _is_shape(value: object) -> bool:
    return isinstance(value, list) and len(value) == 2 and all(_is_int(size, 1) for size in value)


def _is_labels(value: object) -> bool:
    return isinstance(value, list) and len(value) <= MAX_LABELS and all(_is_int(i, 0, 255) for i in value)


def _is_names(value: object) -> bool:
    return isinstance(value, list) and len(value) <= MAX_LABELS and all(map(_is_string, value))


def _is_losses(value: object) -> bool:
    return isinstance(value, dict) and all(map(_is_number, value.values()))


def _is_curve(value: object) -> bool:
    return isinstance(value, list) and all(map(_is_number, value))


# Each metadata field and the rule it follows; `format`, `model_hash` and `w_plus_shape` are required.
VECTOR_FIELDS: dict[str, tuple[str, Callable[[object], bool]]] = {
    "format": ("a string", _is_string),
    "model_hash": ("a non-empty string", lambda value: _is_string(value) and bool(value)),
    "w_plus_shape": ("[num_ws, w_dim], two positive integers", _is_shape),
    "model_id": ("a string", _is_string),
    "name": ("a string", _is_string),
    "labels": (f"a list of at most {MAX_LABELS} label indices (integers 0-255)", _is_labels),
    "label_names": (f"a list of at most {MAX_LABELS} strings", _is_names),
    "region": ("an object", _is_object),
    "settings": ("an object", _is_object),
    "source": ("an object", _is_object),
    "losses": ("an object of numbers", _is_losses),
    "loss_curve": ("a list of numbers", _is_curve),
    "created_at": ("a string", _is_string),
    "delta_norm": ("a number", _is_number),
}
LATENT_FIELDS = {key: VECTOR_FIELDS[key] for key in ("format", "model_hash", "w_plus_shape", "source")}
REQUIRED_FIELDS = ("format", "model_hash", "w_plus_shape")


def _read_metadata(
    header: TensorFileHeader, expected_format: str, fields: dict[str, tuple[str, Callable[[object], bool]]]
) -> dict[str, Any]:
    """The ``partedit`` metadata object of a header, every known field checked against its rule."""
    if METADATA_KEY not in header.metadata:
        raise VectorError(f"the file has no '{METADATA_KEY}' metadata: not a PartEdit file")
    try:
        metadata = loads_json(header.metadata[METADATA_KEY])
    except ValueError as error:
        raise VectorError(f"the file's metadata is unreadable: {error}") from error
    if not isinstance(metadata, dict) or metadata.get("format") != expected_format:
        found = metadata.get("format") if isinstance(metadata, dict) else None
        raise VectorError(f"the file has format {found!r}, expected {expected_format!r}")
    for key in REQUIRED_FIELDS:
        if key not in metadata:
            raise VectorError(f"the file's metadata has no '{key}'")
    for key, (rule, check) in fields.items():
        if key in metadata and not check(metadata[key]):
            raise VectorError(f"the file's metadata field '{key}' must be {rule}")
    return metadata


def _read_array(data: bytes, header: TensorFileHeader, name: str) -> np.ndarray:
    """The one float32 tensor ``name`` of a checked header as a finite array; VectorError otherwise."""
    if set(header.tensors) != {name}:
        raise VectorError(f"the file must hold exactly one tensor '{name}', found {sorted(header.tensors)}")
    info = header.tensors[name]
    if info.dtype != "F32":
        raise VectorError(f"tensor '{name}' has dtype {info.dtype}, expected F32 (float32)")
    start = header.data_start + info.start
    array = np.frombuffer(data, dtype="<f4", count=math.prod(info.shape), offset=start)
    if not np.isfinite(array).all():
        raise VectorError(f"tensor '{name}' holds non-finite values")
    return array.reshape(info.shape).astype(np.float32)


def _check_size(data: bytes) -> None:
    if len(data) > MAX_FILE_BYTES:
        raise VectorError(f"the file is {len(data)} bytes, larger than any PartEdit vector or latent")


def check_fit(
    shape: tuple[int, ...],
    model_hash: str,
    expected_model_hash: str | None,
    expected_shape: tuple[int, ...] | list[int] | None,
) -> None:
    """Refuse a file of another model (weights hash) or W+ shape with ``IncompatibleVectorError``."""
    if expected_model_hash is not None and model_hash != expected_model_hash:
        raise IncompatibleVectorError(
            f"the file was made for model {model_hash[:12]}..., not for this model "
            f"({expected_model_hash[:12]}...); edit vectors only transfer within one model"
        )
    if expected_shape is not None and tuple(shape) != tuple(expected_shape):
        raise IncompatibleVectorError(
            f"the file has W+ shape {list(shape)}, the model expects {list(expected_shape)}"
        )


def read_vector(
    data: bytes,
    expected_model_hash: str | None = None,
    expected_shape: tuple[int, ...] | list[int] | None = None,
) -> TensorFile:
    """Check edit-vector bytes: one finite float32 ``delta [num_ws, w_dim]``, metadata by its rules."""
    _check_size(data)
    header = read_header(data)
    metadata = _read_metadata(header, VECTOR_FORMAT, VECTOR_FIELDS)
    delta = _read_array(data, header, "delta")
    if list(delta.shape) != metadata["w_plus_shape"]:
        raise VectorError(
            f"delta shape {list(delta.shape)} disagrees with w_plus_shape {metadata['w_plus_shape']}"
        )
    check_fit(delta.shape, metadata["model_hash"], expected_model_hash, expected_shape)
    return TensorFile(delta, metadata)


def read_latent(
    data: bytes,
    expected_model_hash: str | None = None,
    expected_shape: tuple[int, ...] | list[int] | None = None,
) -> TensorFile:
    """Check latent bytes completely: ``ws [1, num_ws, w_dim]`` float32, finite, with its metadata."""
    _check_size(data)
    header = read_header(data)
    metadata = _read_metadata(header, LATENT_FORMAT, LATENT_FIELDS)
    ws = _read_array(data, header, "ws")
    if ws.ndim != 3 or ws.shape[0] != 1 or list(ws.shape[1:]) != metadata["w_plus_shape"]:
        raise VectorError(f"a latent is [1, num_ws, w_dim] as its metadata says, got {list(ws.shape)}")
    check_fit(ws.shape[1:], metadata["model_hash"], expected_model_hash, expected_shape)
    return TensorFile(ws, metadata)


def weights_hash(arrays: Mapping[str, np.ndarray]) -> str:
    """SHA-256 over a state's tensor names, shapes and C-order bytes: the identity of a model's weights."""
    digest = hashlib.sha256()
    for name in sorted(arrays):
        array = np.asarray(arrays[name])
        digest.update(name.encode())
        digest.update(str(tuple(int(size) for size in array.shape)).encode())
        digest.update(array.tobytes(order="C"))
    return digest.hexdigest()


def generator_weights_hash(weights_file: str | Path) -> str:
    """The weights hash of the generator (``G_ema.`` tensors) in a model directory's weights file."""
    tensors = load_file(str(weights_file))
    prefix = len(GENERATOR_PREFIX)
    return weights_hash({k[prefix:]: v for k, v in tensors.items() if k.startswith(GENERATOR_PREFIX)})
