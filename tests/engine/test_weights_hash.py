"""The weights hash: one torch-free definition (formats) that the engine's hash_state agrees with."""

from __future__ import annotations

import hashlib

import numpy as np
import torch

from editing_engine import formats
from editing_engine.checkpoints import hash_state


def test_hash_covers_names_shapes_and_bytes_including_scalars() -> None:
    state = {"b": torch.arange(6, dtype=torch.float32).reshape(2, 3).t(), "a": torch.tensor(2.5)}

    expected = hashlib.sha256()
    for name, shape, array in (("a", "()", np.float32(2.5)), ("b", "(3, 2)", np.arange(6, dtype=np.float32)
                                                              .reshape(2, 3).T.copy())):
        expected.update(name.encode() + shape.encode() + np.asarray(array).tobytes())

    assert hash_state(state) == formats.weights_hash({k: v.numpy() for k, v in state.items()})
    assert hash_state(state) == expected.hexdigest()


def test_hash_changes_with_any_value_or_name() -> None:
    state = {"w": np.zeros((2, 2), np.float32)}
    changed = {"w": np.array([[0, 0], [0, 1e-7]], np.float32)}
    renamed = {"v": np.zeros((2, 2), np.float32)}

    assert len({formats.weights_hash(s) for s in (state, changed, renamed)}) == 3
