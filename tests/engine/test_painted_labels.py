"""The labels an edit paints (what an optimised vector is named after), not every label it touches."""

from __future__ import annotations

import pytest
import torch

from editing_engine.regions import RegionError, involved_labels, painted_labels


def test_a_mouth_repaint_paints_the_mouth_only() -> None:
    # skin 1, lips 2, mouth 3, hair 4, background 0
    original = torch.ones(32, 32, dtype=torch.int64)
    original[20:24, 10:22] = 2
    original[0:4, :] = 4
    edited = original.clone()
    edited[18:26, 8:24] = 3  # the repaint: 128 pixels over skin and lips
    edited[0, 0:3] = 0  # three stray pixels where the maps disagree
    edited[31, 31] = 4

    assert involved_labels(original, edited) == [0, 1, 2, 3, 4]
    assert painted_labels(original, edited) == [3]


def test_painted_labels_are_ordered_by_area_and_keep_every_large_share() -> None:
    original = torch.zeros(10, 10, dtype=torch.int64)
    edited = original.clone()
    edited[0:3, :] = 2  # 30 pixels
    edited[5:6, :] = 1  # 10 pixels: 25 % of the change

    assert painted_labels(original, edited) == [2, 1]
    assert painted_labels(original, edited, min_share=0.5) == [2]


def test_nothing_painted_is_an_error() -> None:
    same = torch.zeros(4, 4, dtype=torch.int64)
    with pytest.raises(RegionError):
        painted_labels(same, same)
