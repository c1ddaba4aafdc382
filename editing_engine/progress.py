"""Progress reporting and cooperative cancellation shared by every long-running engine job.

Long jobs (branch training, encoder training, embedding, editing) take two optional callbacks:
``progress(step, total, loss)`` after each step and ``should_cancel() -> bool`` before each
step. A job that sees ``should_cancel()`` return True raises ``Cancelled`` and leaves no
partial result behind.
"""

from __future__ import annotations

from collections.abc import Callable

ProgressCallback = Callable[[int, int, float], None]
CancelCheck = Callable[[], bool]


class Cancelled(Exception):  # noqa: N818 - the name reads as the event it reports
    """A long-running job stopped because its cancel check returned True."""


def check_cancel(should_cancel: CancelCheck | None, what: str = "job") -> None:
    """Raise ``Cancelled`` when ``should_cancel`` is given and returns True."""
    if should_cancel is not None and should_cancel():
        raise Cancelled(f"{what} cancelled")


def report(progress: ProgressCallback | None, step: int, total: int, loss: float) -> None:
    """Call ``progress(step, total, loss)`` when a callback is given."""
    if progress is not None:
        progress(step, total, float(loss))
