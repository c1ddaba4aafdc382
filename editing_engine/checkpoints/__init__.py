"""Model files in and out: the project's own format, and safe import of public StyleGAN2 checkpoints.

The engine saves one format only: a directory holding ``config.json`` (the generator config plus
metadata) and ``weights.safetensors`` (tensors prefixed ``G_ema.`` and, optionally, ``D.`` for the
discriminator). ``load_generator`` is the single entry point every caller (CLI, Celery worker,
tests) uses to get a generator from disk; it detects the format and also reads

- rosinality stylegan2-pytorch ``.pt`` files (``g_ema``, optional ``d`` and ``latent_avg``), through
  ``torch.load(weights_only=True)``;
- NVIDIA stylegan2-ada-pytorch / stylegan3 network pickles (``G_ema``, ``D``, ...), through a
  restricted unpickler that rebuilds tensors, plain containers and ``torch_utils.persistence``
  records and refuses every other global, so no code from the file is imported or run.

Imported weights are renamed onto this project's parameter names, every source tensor must be
consumed and every shape must match. docs/checkpoints.md holds the key tables and what is exact.

One module per format: ``native`` (save and load), ``rosinality``, ``nvidia_pickle`` (with its
restricted unpickler); ``import_plan`` renames a foreign state dict onto ours; ``base`` holds the
error type, the loaded model and the format names. This package is the entry point.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from .base import (
    _LEGACY_TORCH_MAGIC,
    _ZIP_MAGIC,
    CONFIG_FILE,
    FORMAT_NAME,
    FORMAT_NATIVE,
    FORMAT_NVIDIA,
    FORMAT_ROSINALITY,
    ROSINALITY_MAPPING_LR,
    W_AVG_SAMPLES,
    WEIGHTS_FILE,
    CheckpointError,
    LoadedModel,
    fill_module,
    hash_state,
)
from .native import load_native, save_model
from .nvidia_pickle import (
    PersistentRecord,
    RestrictedUnpickler,
    load_network_pickle,
    read_network_pickle,
    record_state_dict,
)
from .rosinality import load_rosinality

__all__ = [
    "CONFIG_FILE",
    "FORMAT_NAME",
    "FORMAT_NATIVE",
    "FORMAT_NVIDIA",
    "FORMAT_ROSINALITY",
    "ROSINALITY_MAPPING_LR",
    "WEIGHTS_FILE",
    "W_AVG_SAMPLES",
    "CheckpointError",
    "LoadedModel",
    "PersistentRecord",
    "RestrictedUnpickler",
    "detect_format",
    "fill_module",
    "hash_state",
    "import_checkpoint",
    "load_generator",
    "load_native",
    "load_network_pickle",
    "load_rosinality",
    "read_network_pickle",
    "record_state_dict",
    "save_model",
]


def detect_format(path: str | Path) -> str:
    """Which checkpoint format ``path`` holds (``FORMAT_*``), from its layout and first bytes."""
    path = Path(path)
    if path.is_dir():
        if not (path / CONFIG_FILE).exists():
            raise CheckpointError(f"{path} is a directory without {CONFIG_FILE}: not a PartEdit model")
        return FORMAT_NATIVE
    if not path.exists():
        raise CheckpointError(f"no checkpoint at {path}")
    if path.name in (CONFIG_FILE, WEIGHTS_FILE):
        raise CheckpointError(f"{path}: a PartEdit model is a directory; pass {path.parent} instead")
    with path.open("rb") as handle:
        head = handle.read(len(_LEGACY_TORCH_MAGIC))
    if head.startswith(_ZIP_MAGIC) or head.startswith(_LEGACY_TORCH_MAGIC):
        return FORMAT_ROSINALITY
    if len(head) >= 2 and head[0] == 0x80 and 2 <= head[1] <= 5:
        return FORMAT_NVIDIA
    raise CheckpointError(
        f"unrecognised checkpoint format: {path} (first bytes {head[:8]!r}); expected a PartEdit model "
        "directory, a rosinality stylegan2-pytorch .pt file or an NVIDIA stylegan2-ada network pickle"
    )


_LOADERS: dict[str, Callable[[Path], LoadedModel]] = {
    FORMAT_NATIVE: load_native,
    FORMAT_ROSINALITY: load_rosinality,
    FORMAT_NVIDIA: load_network_pickle,
}


def load_generator(path: str | Path) -> LoadedModel:
    """Load a generator from ``path``, detecting the checkpoint format."""
    path = Path(path)
    return _LOADERS[detect_format(path)](path)


def import_checkpoint(source: str | Path, destination: str | Path, overwrite: bool = False) -> LoadedModel:
    """Convert any checkpoint ``load_generator`` reads into a PartEdit model directory (verified reload)."""
    destination = Path(destination)
    if destination.exists() and not destination.is_dir():
        raise CheckpointError(f"{destination} exists and is not a directory")
    if destination.is_dir() and any(destination.iterdir()) and not overwrite:
        raise CheckpointError(f"{destination} is not empty; pass overwrite=True (--overwrite) to replace it")
    model = load_generator(source)
    metadata = {**model.metadata, "imported_from_format": detect_format(source)}
    save_model(destination, model.generator, discriminator_config=model.discriminator_config or None,
               metadata=metadata, discriminator_state=model.discriminator_state or None)
    saved = load_native(destination)
    if saved.weights_hash != model.weights_hash:
        raise CheckpointError(f"{destination}: weights changed while saving (hash mismatch)")
    return saved
