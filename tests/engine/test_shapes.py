"""The shared shape check: named sizes match anything, fixed sizes and rank must match exactly."""

from __future__ import annotations

import pytest
import torch

from editing_engine.errors import EngineError
from editing_engine.regions import RegionError
from editing_engine.shapes import ShapeError, assert_shape, shape_matches


def test_named_dimensions_match_any_size_fixed_ones_must_be_equal() -> None:
    images = torch.zeros(2, 3, 8, 8)
    assert shape_matches(images, ("B", 3, 8, 8)) and shape_matches(images, ("B", 3, "H", "W"))
    assert not shape_matches(images, ("B", 4, 8, 8))
    assert not shape_matches(images, ("B", 3, 8))


def test_the_error_names_the_tensor_the_expected_and_the_actual_shape() -> None:
    with pytest.raises(ShapeError, match=r"^images must be \[B, 3, 16, 16\], got \[2, 3, 8, 8\]$") as error:
        assert_shape(torch.zeros(2, 3, 8, 8), ("B", 3, 16, 16), "images")
    assert isinstance(error.value, EngineError)

    with pytest.raises(RegionError, match=r"mask must be \[H, W\], got \[1, 4, 4\]"):
        assert_shape(torch.zeros(1, 4, 4), ("H", "W"), "mask", RegionError)
