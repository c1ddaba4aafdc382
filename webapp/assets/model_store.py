"""Model directories in media storage, so every worker host gets the registered weights.

Registering a model publishes its directory (config, weights, labels, encoder, branch) under
``models/<weights hash>/`` (S3 storage only: on a shared filesystem every host sees the same
model paths) with a manifest of each file's SHA-256, written last. A worker whose
registered path does not exist on its host fetches the files once into
``PARTEDIT_CACHE_DIR/models/<weights hash>/``, checks every hash, and moves the folder into
place in one rename, so a half-downloaded model is never loaded. Torch-free.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import tempfile
from pathlib import Path

from django.conf import settings
from django.core.files.storage import default_storage

from . import storage

MODELS_FOLDER = "models"
MANIFEST = "manifest.json"
WEIGHTS_FILE = "weights.safetensors"


def manifest_name(weights_hash: str) -> str:
    """The stored name of a published model's manifest."""
    return f"{MODELS_FOLDER}/{weights_hash}/{MANIFEST}"


def file_digest(path: Path) -> str:
    """SHA-256 of a file's bytes."""
    digest = hashlib.sha256()
    with path.open("rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def publish_model_dir(directory: Path, weights_hash: str) -> bool:
    """Copy ``directory``'s files to storage under its weights hash unless already there; True if copied."""
    if default_storage.exists(manifest_name(weights_hash)):
        return False
    files = {}
    for path in sorted(directory.rglob("*")):
        if path.is_file() and not path.name.startswith("."):
            relative = path.relative_to(directory).as_posix()
            storage.write_atomic(f"{MODELS_FOLDER}/{weights_hash}/{relative}", path.read_bytes())
            files[relative] = file_digest(path)
    storage.write_atomic(manifest_name(weights_hash), json.dumps({"files": files}, indent=1).encode())
    return True


def cached_model_dir(weights_hash: str, registered_path: str = "") -> Path:
    """The local copy of a published model, downloaded and checked on first use."""
    root = Path(settings.PARTEDIT_CACHE_DIR).resolve() / MODELS_FOLDER
    target = root / weights_hash
    if (target / MANIFEST).is_file():
        return target
    try:
        manifest = json.loads(storage.read_bytes(manifest_name(weights_hash)))
    except FileNotFoundError as error:
        raise FileNotFoundError(
            f"model {weights_hash[:12]} is neither at {registered_path or 'its registered path'} on this "
            "host nor in media storage; register it again from a host that has its directory"
        ) from error
    root.mkdir(parents=True, exist_ok=True)
    partial = Path(tempfile.mkdtemp(dir=root, prefix=f".partial-{weights_hash[:12]}-"))
    try:
        for relative, expected in manifest["files"].items():
            path = partial / relative
            path.parent.mkdir(parents=True, exist_ok=True)
            stored = f"{MODELS_FOLDER}/{weights_hash}/{relative}"
            with path.open("wb") as file, storage.open_stored(stored) as source:
                shutil.copyfileobj(source, file)
            if file_digest(path) != expected:
                raise ValueError(f"model {weights_hash[:12]}: {stored} does not match its manifest")
        (partial / MANIFEST).write_text(json.dumps(manifest))
        try:
            os.rename(partial, target)
        except OSError:
            # Another process of this host finished the same download first; use its copy.
            if not (target / MANIFEST).is_file():
                raise
    finally:
        with contextlib.suppress(FileNotFoundError):
            shutil.rmtree(partial)
    return target


def model_directory(path: str, weights_hash: str) -> Path:
    """Where a worker loads a registered model from: its registered path if present, else the cache.

    Filesystem storage publishes no models (every host sees the same paths), so there the
    registered path is the answer even when it is missing, and the engine reports it.
    """
    local = Path(path)
    if (local / WEIGHTS_FILE).is_file() or storage.is_filesystem():
        return local
    return cached_model_dir(weights_hash, path)
