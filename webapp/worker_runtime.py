"""Engine state of a Celery worker process: each generator is loaded once and reused by every task,
and so are the parts loaded beside it (segmentation branches, encoders: :func:`cached_part`).

Only worker-side code imports this module; it is the one place where the webapp imports torch
and ``editing_engine``.
"""

from __future__ import annotations

import logging
import os
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from pathlib import Path
from typing import TypeVar

import torch
from django.conf import settings

from editing_engine.checkpoints import LoadedModel, load_generator

logger = logging.getLogger(__name__)

_models: dict[tuple[Path, str], LoadedModel] = {}
_models_lock = threading.Lock()
# Branches and encoders by (what, record or file identity, device); the least recently used go first.
_parts: OrderedDict[Hashable, object] = OrderedDict()
_parts_lock = threading.Lock()
MAX_CACHED_PARTS = 16
PartT = TypeVar("PartT")
# The process that PARTEDIT_TORCH_THREADS was applied in (a forked worker child applies it again).
_threads_applied_in: int | None = None


def select_device(preference: str) -> torch.device:
    """The torch device for a PARTEDIT_DEVICE value: ``cuda`` when asked or available (``auto``), else CPU."""
    if preference == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("PARTEDIT_DEVICE=cuda but no CUDA device is available to this worker")
    if preference == "cuda" or (preference == "auto" and torch.cuda.is_available()):
        return torch.device("cuda")
    return torch.device("cpu")


def apply_torch_threads() -> None:
    """Set torch's intra-op CPU threads to PARTEDIT_TORCH_THREADS, once per process (0: torch's default)."""
    global _threads_applied_in
    if _threads_applied_in == os.getpid():
        return
    _threads_applied_in = os.getpid()
    threads = settings.PARTEDIT_TORCH_THREADS
    if threads > 0:
        logger.info("torch uses %d CPU thread(s) (PARTEDIT_TORCH_THREADS)", threads)
        torch.set_num_threads(threads)


def loaded_model(path: Path | None = None) -> LoadedModel:
    """The model at ``path`` (default PARTEDIT_MODEL_PATH) on the worker's device, loaded on first use.

    Every engine call of a worker gets its generator here, so the thread setting is applied first.
    """
    model_path = Path(path or settings.PARTEDIT_MODEL_PATH).resolve()
    device = select_device(settings.PARTEDIT_DEVICE)
    key = (model_path, str(device))
    with _models_lock:
        apply_torch_threads()
        if key not in _models:
            logger.info("loading generator %s on %s", model_path, device)
            model = load_generator(model_path)
            model.generator.to(device)
            _models[key] = model
        return _models[key]


def cached_part(key: Hashable, load: Callable[[], PartT]) -> PartT:
    """The model part (branch, encoder) cached under ``key``, loaded with ``load()`` on first use.

    ``key`` must name everything the part depends on (record id or file identity, device), since
    a cached part is shared by every later task of the process. Parts are used in eval mode and
    never changed by a task.
    """
    with _parts_lock:
        if key in _parts:
            _parts.move_to_end(key)
            return _parts[key]  # type: ignore[return-value]
    part = load()
    with _parts_lock:
        _parts[key] = part
        while len(_parts) > MAX_CACHED_PARTS:
            _parts.popitem(last=False)
    return part
