"""How many CPU threads torch uses in engine processes: one setting, ``PARTEDIT_TORCH_THREADS``.

The web app's workers and the ``partedit-engine`` command read the same environment variable:
a whole number of intra-op threads, ``0`` (or unset) for torch's default of one per core. A
command's own ``--threads N`` (N > 0) wins over it. On a CPU machine that also runs other work,
``1`` is usually much faster than the default (README.md, "Configuration").
"""

from __future__ import annotations

import os

import torch

from editing_engine.errors import EngineError

THREADS_VARIABLE = "PARTEDIT_TORCH_THREADS"


class ThreadSettingError(EngineError):
    """``PARTEDIT_TORCH_THREADS`` is not a whole number >= 0."""


def configured_threads() -> int:
    """The thread count ``PARTEDIT_TORCH_THREADS`` asks for (0: torch's default)."""
    raw = os.environ.get(THREADS_VARIABLE, "").strip() or "0"
    if not raw.isdecimal():
        raise ThreadSettingError(f"{THREADS_VARIABLE} must be a whole number >= 0; got {raw!r}")
    return int(raw)


def apply_thread_setting(explicit: int = 0) -> int:
    """Set torch's threads to ``explicit``, else to ``PARTEDIT_TORCH_THREADS``; returns the count in use."""
    threads = explicit if explicit > 0 else configured_threads()
    if threads > 0:
        torch.set_num_threads(threads)
    return torch.get_num_threads()
