"""The torch-free vector and latent format checks: every malformed metadata field is refused by name."""

from __future__ import annotations

import json
import struct
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from safetensors.numpy import save

from editing_engine import formats
from editing_engine.cli import main

SHAPE = (6, 8)


def vector_file(meta: dict[str, Any] | None = None, raw_meta: str | None = None, **fields: Any) -> bytes:
    """Edit-vector bytes with ``fields`` changed (None removes one), or with the raw metadata string."""
    base: dict[str, Any] = {
        "format": formats.VECTOR_FORMAT, "model_hash": "a" * 64, "w_plus_shape": list(SHAPE),
        "labels": [1, 3], "settings": {"steps": 3}, "losses": {"total": 0.5},
    }
    base.update(meta or {})
    base.update(fields)
    base = {key: value for key, value in base.items() if value is not None}
    text = raw_meta if raw_meta is not None else json.dumps(base)
    return save({"delta": np.full(SHAPE, 0.25, np.float32)}, metadata={formats.METADATA_KEY: text})


def with_header(header: bytes, body: bytes = b"") -> bytes:
    """A safetensors file with this literal JSON header."""
    return struct.pack("<Q", len(header)) + header + body


def test_a_well_formed_vector_reads_back() -> None:
    checked = formats.read_vector(vector_file(), "a" * 64, SHAPE)
    assert checked.array.dtype == np.float32 and checked.array.shape == SHAPE
    assert float(checked.array[2, 3]) == 0.25 and checked.metadata["labels"] == [1, 3]


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"labels": "abc"}, "labels"),
        ({"labels": {"a": 1}}, "labels"),
        ({"labels": [[1]]}, "labels"),
        ({"labels": 5}, "labels"),
        ({"labels": [1.5]}, "labels"),
        ({"labels": [True]}, "labels"),
        ({"labels": [-1]}, "labels"),
        ({"labels": [256]}, "labels"),
        ({"settings": "x"}, "settings"),
        ({"region": [1]}, "region"),
        ({"source": 3}, "source"),
        ({"losses": {"total": "low"}}, "losses"),
        ({"losses": {"total": True}}, "losses"),
        ({"loss_curve": [0.1, "x"]}, "loss_curve"),
        ({"label_names": [1]}, "label_names"),
        ({"name": 7}, "name"),
        ({"model_hash": ""}, "model_hash"),
        ({"model_hash": 12}, "model_hash"),
        ({"model_hash": None}, "model_hash"),
        ({"w_plus_shape": None}, "w_plus_shape"),
        ({"w_plus_shape": [6, True]}, "w_plus_shape"),
        ({"w_plus_shape": [6, 8, 1]}, "w_plus_shape"),
        ({"w_plus_shape": [8, 6]}, "disagrees"),
        ({"format": "partedit-edit-vector/v9"}, "format"),
    ],
)
def test_malformed_metadata_fields_are_refused(fields: dict[str, Any], message: str) -> None:
    with pytest.raises(formats.VectorError, match=message):
        formats.read_vector(vector_file(**fields))


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("[" * 100_000 + "]" * 100_000, "deeper"),
        ('{"format": "partedit-edit-vector/v1", "source": {"a": ' + "[" * 40 + "]" * 40 + "}}", "deeper"),
        ('{"format": "partedit-edit-vector/v1", "settings": {"lr": NaN}}', "NaN"),
        ('{"format": "partedit-edit-vector/v1", "settings": {"lr": 1e999}}', "out of range"),
        ('{"format": "partedit-edit-vector/v1", "name": "a\\u0000b"}', "NUL"),
        ('{"format": "partedit-edit-vector/v1", "source": {"a\\u0000": 1}}', "NUL"),
        ("not json", "unreadable"),
        ("[1]", "format"),
    ],
)
def test_unreadable_metadata_is_refused(raw: str, message: str) -> None:
    with pytest.raises(formats.VectorError, match=message):
        formats.read_vector(vector_file(raw_meta=raw))


def test_a_deeply_nested_safetensors_header_is_refused() -> None:
    header = b'{"x": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    with pytest.raises(formats.VectorError, match="deeper"):
        formats.read_vector(with_header(header))


def test_brackets_inside_strings_do_not_count_as_nesting() -> None:
    assert formats.json_depth(b'{"a": "[[[[\\"[[[", "b": [[1]]}') == 3
    assert formats.loads_json('{"name": "' + "[" * 1000 + '"}') == {"name": "[" * 1000}


@pytest.mark.parametrize(
    ("array", "message"),
    [
        (np.zeros(SHAPE, np.float64), "F32"),
        (np.full(SHAPE, np.inf, np.float32), "non-finite"),
    ],
)
def test_bad_tensors_are_refused(array: np.ndarray, message: str) -> None:
    meta = json.dumps({"format": formats.VECTOR_FORMAT, "model_hash": "a", "w_plus_shape": list(SHAPE)})
    with pytest.raises(formats.VectorError, match=message):
        formats.read_vector(save({"delta": array}, metadata={formats.METADATA_KEY: meta}))


def test_model_and_shape_mismatches_are_incompatible() -> None:
    with pytest.raises(formats.IncompatibleVectorError, match="not for this model"):
        formats.read_vector(vector_file(), "b" * 64)
    with pytest.raises(formats.IncompatibleVectorError, match="W\\+ shape"):
        formats.read_vector(vector_file(), None, (7, 8))


def test_cli_apply_reports_a_nested_vector_header_cleanly(tmp_path: Path, capsys: Any) -> None:
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(with_header(b'{"x": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"))
    status = main(["apply", "--seed", "1", "--vector", f"{bad}:1", "-o", str(tmp_path / "out.png")])
    assert status == 2
    assert "nested deeper" in capsys.readouterr().err
