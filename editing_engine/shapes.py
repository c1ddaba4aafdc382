"""Shape checks at module boundaries: one helper, so a shape bug fails loudly where it starts.

``assert_shape(x, ("B", 3, 64, 64), "images")`` accepts any size where the expected entry is a
name (a string) and exactly the given size elsewhere, and otherwise raises
``images must be [B, 3, 64, 64], got [2, 4, 64, 64]`` as the caller's error type.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from editing_engine.errors import EngineError

Dim = int | str


class ShapeError(EngineError):
    """A tensor handed to the engine has the wrong shape."""


def shape_matches(tensor: torch.Tensor, expected: Sequence[Dim]) -> bool:
    """Whether ``tensor`` has ``expected``'s rank and fixed sizes (a named entry matches any size)."""
    return tensor.ndim == len(expected) and all(
        isinstance(want, str) or size == want for size, want in zip(tensor.shape, expected, strict=True)
    )


def assert_shape(
    tensor: torch.Tensor, expected: Sequence[Dim], what: str, error: type[Exception] = ShapeError
) -> None:
    """Raise ``error("<what> must be [..], got [..]")`` unless ``tensor`` has the ``expected`` shape."""
    if not shape_matches(tensor, expected):
        raise error(f"{what} must be [{', '.join(map(str, expected))}], got {list(tensor.shape)}")
