"""``partedit-engine`` uses PARTEDIT_TORCH_THREADS, the setting the workers use; ``--threads`` wins."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import torch

from editing_engine.cli import main


@pytest.fixture
def restore_threads() -> Iterator[int]:
    """Put torch's thread count back after the test."""
    before = torch.get_num_threads()
    yield before
    torch.set_num_threads(before)


def render(tiny_model_dir: Path, tmp_path: Path) -> int:
    """Run ``partedit-engine render`` on the tiny model in this process."""
    return main(["render", "--model", str(tiny_model_dir), "--seed", "1", "-o", str(tmp_path / "x.png")])


def test_the_cli_applies_the_thread_setting(tiny_model_dir: Path, tmp_path: Path, restore_threads: int,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    torch.set_num_threads(2)
    monkeypatch.setenv("PARTEDIT_TORCH_THREADS", "1")
    assert render(tiny_model_dir, tmp_path) == 0
    assert torch.get_num_threads() == 1


def test_an_explicit_threads_option_wins(restore_threads: int, monkeypatch: pytest.MonkeyPatch) -> None:
    from editing_engine.threads import apply_thread_setting

    monkeypatch.setenv("PARTEDIT_TORCH_THREADS", "1")
    assert apply_thread_setting(2) == 2


def test_unset_leaves_torchs_default(restore_threads: int, monkeypatch: pytest.MonkeyPatch) -> None:
    from editing_engine.threads import apply_thread_setting

    monkeypatch.delenv("PARTEDIT_TORCH_THREADS", raising=False)
    assert apply_thread_setting() == restore_threads


def test_a_bad_thread_setting_is_a_clear_error(
    tiny_model_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("PARTEDIT_TORCH_THREADS", "many")
    assert render(tiny_model_dir, tmp_path) == 2
    assert "PARTEDIT_TORCH_THREADS must be a whole number >= 0; got 'many'" in capsys.readouterr().err
