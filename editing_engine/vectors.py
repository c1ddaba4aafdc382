"""Edit vectors and W+ latents on disk, and applying any number of vectors at once.

An edit vector is a W+ offset ``delta [num_ws, w_dim]`` found by an edit, with the facts needed
to reuse it safely: which model (id and weights hash) it belongs to, the W+ shape, the labels
it involves, its region statistics, how it was optimised, its final losses, and its source.
One safetensors file holds it: the tensor ``delta`` and, in the header metadata under the key
``partedit``, a JSON object with everything else. Latents (``ws [1, num_ws, w_dim]``) use the
same scheme with the tensor ``ws``. Both formats are defined and checked, without torch, in
``formats.py``; this module turns what it returns into tensors. Nothing is ever unpickled.

Applying vectors is ``ws + sum_i s_i * delta_i``; ``scales`` may be a ``[S, V]`` matrix, so S
scale settings (e.g. every position of a preview slider) come out of one batched call.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import save as save_safetensors_bytes

from . import formats
from .formats import LATENT_FORMAT, MAX_FILE_BYTES, METADATA_KEY, VECTOR_FORMAT, VectorError
from .generator import Generator

Scales = Sequence[float] | Sequence[Sequence[float]] | torch.Tensor


@dataclass
class EditVector:
    """A W+ edit offset with its provenance; ``delta`` is ``[num_ws, w_dim]`` float32."""

    delta: torch.Tensor
    model_hash: str
    model_id: str = ""
    name: str = ""
    labels: list[int] = field(default_factory=list)
    label_names: list[str] = field(default_factory=list)
    region: dict[str, Any] = field(default_factory=dict)
    settings: dict[str, Any] = field(default_factory=dict)
    losses: dict[str, float] = field(default_factory=dict)
    source: dict[str, Any] = field(default_factory=dict)
    created_at: str = field(default_factory=lambda: datetime.now(UTC).isoformat(timespec="seconds"))

    def __post_init__(self) -> None:
        if self.delta.ndim != 2:
            raise VectorError(f"an edit vector's delta must be [num_ws, w_dim], got {list(self.delta.shape)}")
        if not bool(torch.isfinite(self.delta).all()):
            raise VectorError("an edit vector's delta holds non-finite values")
        self.delta = self.delta.detach().to(device="cpu", dtype=torch.float32).contiguous()

    @property
    def shape(self) -> tuple[int, int]:
        """The W+ shape ``(num_ws, w_dim)`` this vector applies to."""
        return (int(self.delta.shape[0]), int(self.delta.shape[1]))

    def metadata(self) -> dict[str, Any]:
        """Everything but the tensor, as the JSON object stored in the file header."""
        return {
            "format": VECTOR_FORMAT,
            "model_hash": self.model_hash,
            "model_id": self.model_id,
            "name": self.name,
            "w_plus_shape": list(self.shape),
            "labels": list(self.labels),
            "label_names": list(self.label_names),
            "region": self.region,
            "settings": self.settings,
            "losses": self.losses,
            "source": self.source,
            "created_at": self.created_at,
            "delta_norm": float(self.delta.norm()),
        }


def _encode(tensor_name: str, tensor: torch.Tensor, metadata: dict[str, Any]) -> bytes:
    header = json.dumps(metadata, sort_keys=True, allow_nan=False)
    return save_safetensors_bytes({tensor_name: tensor.detach().cpu().float().contiguous()},
                                  metadata={METADATA_KEY: header})


def _checked(what: str, read: Any, data: bytes, *expected: Any) -> formats.TensorFile:
    """Run one of the format checks, naming ``what`` in its error."""
    try:
        return read(data, *expected)
    except VectorError as error:
        raise type(error)(f"{what}: {error}") from error


def vector_to_bytes(vector: EditVector) -> bytes:
    """Serialise an edit vector to safetensors bytes (tensor ``delta`` + JSON metadata)."""
    return _encode("delta", vector.delta, vector.metadata())


def vector_from_bytes(
    data: bytes,
    expected_model_hash: str | None = None,
    expected_shape: Sequence[int] | None = None,
    what: str = "edit vector",
) -> EditVector:
    """Parse edit-vector bytes, refusing malformed data and model or shape mismatches."""
    checked = _checked(what, formats.read_vector, data, expected_model_hash, expected_shape)
    meta = checked.metadata
    return EditVector(
        delta=torch.from_numpy(checked.array),
        model_hash=meta["model_hash"],
        model_id=meta.get("model_id", ""),
        name=meta.get("name", ""),
        labels=list(meta.get("labels", [])),
        label_names=list(meta.get("label_names", [])),
        region=meta.get("region", {}),
        settings=meta.get("settings", {}),
        losses={key: float(value) for key, value in meta.get("losses", {}).items()},
        source=meta.get("source", {}),
        created_at=meta.get("created_at", ""),
    )


def save_vector(path: str | Path, vector: EditVector) -> Path:
    """Write an edit vector to one ``.safetensors`` file (atomically)."""
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(vector_to_bytes(vector))
    tmp.replace(path)
    return path


def _read(path: Path, what: str) -> bytes:
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise VectorError(f"{what} {path} is {size} bytes, too large")
        return path.read_bytes()
    except OSError as error:
        raise VectorError(f"cannot read {what} {path}: {error}") from error


def load_vector(
    path: str | Path,
    expected_model_hash: str | None = None,
    expected_shape: Sequence[int] | None = None,
) -> EditVector:
    """Read an edit vector, refusing malformed files and model-hash or W+ shape mismatches."""
    path = Path(path)
    return vector_from_bytes(_read(path, "edit vector"), expected_model_hash, expected_shape,
                             what=f"edit vector {path}")


def save_latent(
    path: str | Path, ws: torch.Tensor, model_hash: str, source: dict[str, Any] | None = None
) -> Path:
    """Write a W+ latent ``[1, num_ws, w_dim]`` (or ``[num_ws, w_dim]``) as safetensors."""
    data = latent_to_bytes(ws, model_hash, source)
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(data)
    tmp.replace(path)
    return path


def latent_to_bytes(ws: torch.Tensor, model_hash: str, source: dict[str, Any] | None = None) -> bytes:
    """A W+ latent ``[1, num_ws, w_dim]`` (or ``[num_ws, w_dim]``) as the bytes of a latent file."""
    ws = ws.detach().cpu().reshape(-1, *ws.shape[-2:])
    if ws.shape[0] != 1:
        raise VectorError(f"a latent file holds one W+ latent, got a batch of {ws.shape[0]}")
    meta = {"format": LATENT_FORMAT, "model_hash": model_hash, "w_plus_shape": list(ws.shape[1:]),
            "source": source or {}}
    return _encode("ws", ws, meta)


def load_latent(
    path: str | Path,
    expected_model_hash: str | None = None,
    expected_shape: Sequence[int] | None = None,
) -> torch.Tensor:
    """Read a W+ latent as ``[1, num_ws, w_dim]``, refusing malformed files and mismatches."""
    checked = _checked(f"latent {path}", formats.read_latent, _read(Path(path), "latent"),
                       expected_model_hash, expected_shape)
    return torch.from_numpy(checked.array)


def stack_deltas(vectors: Sequence[EditVector | torch.Tensor]) -> torch.Tensor:
    """The deltas of ``vectors`` as one ``[V, num_ws, w_dim]`` tensor; all must share a shape."""
    if not vectors:
        raise VectorError("no edit vectors given")
    deltas = [v.delta if isinstance(v, EditVector) else v for v in vectors]
    shapes = {tuple(d.shape) for d in deltas}
    if len(shapes) != 1 or len(next(iter(shapes))) != 2:
        raise VectorError(f"edit vectors must all be [num_ws, w_dim] of one shape, got {sorted(shapes)}")
    return torch.stack(deltas)


def as_scale_matrix(scales: Scales, count: int) -> torch.Tensor:
    """Scales as an ``[S, V]`` float tensor: one row per setting, one column per vector."""
    matrix = torch.as_tensor(scales, dtype=torch.float32)
    if matrix.ndim == 1:
        matrix = matrix[None]
    if matrix.ndim != 2 or matrix.shape[1] != count:
        raise VectorError(
            f"scales must be [{count}] or [S, {count}] for {count} vectors, got {list(matrix.shape)}"
        )
    if not bool(torch.isfinite(matrix).all()):
        raise VectorError("scales must be finite numbers")
    return matrix


def apply_vectors(
    ws: torch.Tensor,
    vectors: Sequence[EditVector | torch.Tensor],
    scales: Scales,
) -> torch.Tensor:
    """``ws + sum_i s_i * delta_i``: ws ``[B, num_ws, w_dim]``, scales ``[V]`` or ``[S, V]``.

    With ``[S, V]`` scales the result has one latent per row: ``B == S``, or one of them is 1
    and is broadcast (one latent previewed at S settings, or S latents edited alike).
    """
    deltas = stack_deltas(vectors).to(device=ws.device, dtype=ws.dtype)
    if ws.ndim == 2:
        ws = ws[None]
    if ws.ndim != 3 or tuple(ws.shape[1:]) != tuple(deltas.shape[1:]):
        raise VectorError(f"latents {list(ws.shape)} do not match vectors of shape {list(deltas.shape[1:])}")
    matrix = as_scale_matrix(scales, deltas.shape[0]).to(device=ws.device, dtype=ws.dtype)
    if matrix.shape[0] not in (1, ws.shape[0]) and ws.shape[0] != 1:
        raise VectorError(
            f"{matrix.shape[0]} scale settings cannot pair with a batch of {ws.shape[0]} latents"
        )
    return ws + torch.einsum("sv,vnd->snd", matrix, deltas)


@torch.no_grad()
def render_with_vectors(
    generator: Generator,
    ws: torch.Tensor,
    vectors: Sequence[EditVector | torch.Tensor],
    scales: Scales,
    batch_size: int = 16,
) -> torch.Tensor:
    """Images ``[N, 3, R, R]`` of ``apply_vectors(ws, vectors, scales)``, rendered in batches."""
    device = next(generator.parameters()).device
    edited = apply_vectors(ws.to(device), vectors, scales)
    step = max(1, batch_size)
    return torch.cat([generator.synthesis(edited[i:i + step], noise_mode="const")
                      for i in range(0, len(edited), step)])

