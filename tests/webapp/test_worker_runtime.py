"""Worker process setup: PARTEDIT_TORCH_THREADS is applied once per process, before the engine runs."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import torch

from webapp import worker_runtime


@pytest.fixture(autouse=True)
def fresh_process(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Each test starts as a new worker process would; torch's thread count and the cache are restored."""
    threads = torch.get_num_threads()
    monkeypatch.setattr(worker_runtime, "_threads_applied_in", None)
    yield
    torch.set_num_threads(threads)
    worker_runtime._models.clear()


def test_loading_the_model_applies_the_thread_setting(settings: Any, tiny_model_dir: Path) -> None:
    settings.PARTEDIT_TORCH_THREADS, settings.PARTEDIT_DEVICE = 1, "cpu"
    torch.set_num_threads(3)

    worker_runtime.loaded_model(tiny_model_dir)

    assert torch.get_num_threads() == 1


def test_zero_leaves_torchs_thread_count(settings: Any, tiny_model_dir: Path) -> None:
    settings.PARTEDIT_TORCH_THREADS, settings.PARTEDIT_DEVICE = 0, "cpu"
    torch.set_num_threads(3)

    worker_runtime.loaded_model(tiny_model_dir)

    assert torch.get_num_threads() == 3


def test_setting_is_applied_once_per_process(settings: Any) -> None:
    settings.PARTEDIT_TORCH_THREADS = 1
    worker_runtime.apply_torch_threads()
    torch.set_num_threads(2)

    worker_runtime.apply_torch_threads()

    assert torch.get_num_threads() == 2
