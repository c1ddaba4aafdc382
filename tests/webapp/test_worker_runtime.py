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
    worker_runtime._parts.clear()


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


def test_a_cached_part_is_loaded_once_per_key(monkeypatch: pytest.MonkeyPatch) -> None:
    loads: list[str] = []

    def load(name: str) -> Any:
        loads.append(name)
        return object()

    first = worker_runtime.cached_part(("branch", 1), lambda: load("1"))
    again = worker_runtime.cached_part(("branch", 1), lambda: load("1 again"))
    other = worker_runtime.cached_part(("branch", 2), lambda: load("2"))

    assert first is again and other is not first and loads == ["1", "2"]


def test_the_least_recently_used_part_leaves_the_cache_first(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(worker_runtime, "MAX_CACHED_PARTS", 2)
    a = worker_runtime.cached_part("a", object)
    worker_runtime.cached_part("b", object)
    assert worker_runtime.cached_part("a", object) is a  # a is now the most recent
    worker_runtime.cached_part("c", object)  # evicts b

    assert list(worker_runtime._parts) == ["a", "c"]
