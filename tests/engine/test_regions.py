"""Edit-region construction: label-derived regions, fill edits, dilation and input checks."""

import numpy as np
import pytest
import torch

from editing_engine.regions import (
    RegionError,
    brush_region,
    changed_pixels,
    dilate,
    edit_region,
    involved_labels,
    refinement_region,
    region_statistics,
)


def face_map() -> torch.Tensor:
    """A 16x16 map: background 0, a skin square 1, an eye 2 and a mouth 3 inside it."""
    labels = torch.zeros(16, 16, dtype=torch.int64)
    labels[2:14, 2:14] = 1
    labels[4:6, 4:6] = 2
    labels[10:12, 6:10] = 3
    return labels


def test_fill_edit_is_in_the_region() -> None:
    original = face_map()
    edited = original.clone()
    edited[edited == 3] = 2  # bucket-fill the mouth with the eye label: no brush footprint at all
    region = edit_region(original, edited, dilation=0)
    assert bool(region[original == 3].all())
    assert involved_labels(original, edited) == [2, 3]
    # every pixel carrying an involved label in either map is in the region, the rest is not
    assert bool(region[original == 2].all())
    assert not bool(region[original == 1].any())
    assert not bool(region[original == 0].any())


def test_involved_labels_from_both_maps() -> None:
    original = face_map()
    edited = original.clone()
    edited[3:7, 3:7] = 2  # enlarge the eye over skin
    assert involved_labels(original, edited) == [1, 2]
    region = edit_region(original, edited, dilation=0)
    assert bool(region[(original == 1) | (edited == 1)].all())
    assert bool(region[edited == 2].all())
    assert not bool(region[original == 0].any())


def test_context_labels_only_add_their_changed_pixels() -> None:
    original = face_map()
    edited = original.clone()
    edited[3:7, 3:7] = 2
    region = edit_region(original, edited, dilation=0, context_labels=[1])
    assert torch.equal(region, (edited == 2) | (original == 2))
    assert not bool(region[12, 12])


def test_dilation_is_a_square_of_the_given_radius() -> None:
    mask = torch.zeros(15, 15, dtype=torch.bool)
    mask[7, 7] = True
    grown = dilate(mask, 3)
    assert int(grown.sum()) == 49
    assert bool(grown[4:11, 4:11].all())
    # three 3x3 passes, as the release does, give the same 7x7 square
    once = mask
    for _ in range(3):
        once = dilate(once, 1)
    assert torch.equal(once, grown)
    assert torch.equal(dilate(mask, 0), mask)


def test_default_dilation_grows_the_region() -> None:
    original = face_map()
    edited = original.clone()
    edited[4:6, 4:6] = 1
    tight = edit_region(original, edited, dilation=0)
    wide = edit_region(original, edited)
    assert bool(wide[tight].all()) and int(wide.sum()) > int(tight.sum())


def test_no_change_is_an_error() -> None:
    with pytest.raises(RegionError, match="identical"):
        edit_region(face_map(), face_map())


def test_shape_and_label_validation() -> None:
    with pytest.raises(RegionError, match="differ in shape"):
        edit_region(face_map(), torch.zeros(8, 8, dtype=torch.int64))
    with pytest.raises(RegionError, match=r"\[H, W\]"):
        edit_region(face_map()[None], face_map()[None])
    with pytest.raises(RegionError, match="integer"):
        edit_region(face_map().float(), face_map().float())
    bad = face_map()
    bad[0, 0] = 7
    with pytest.raises(RegionError, match="model has 4 labels"):
        edit_region(face_map(), bad, num_labels=4)
    bad[0, 0] = -1
    with pytest.raises(RegionError, match="negative"):
        edit_region(face_map(), bad)


def test_numpy_maps_are_accepted() -> None:
    original = face_map().numpy().astype(np.uint8)
    edited = original.copy()
    edited[0, 0] = 3
    assert bool(changed_pixels(original, edited)[0, 0])
    assert bool(edit_region(original, edited)[0, 0])


def test_brush_region_ignores_labels() -> None:
    brush = torch.zeros(16, 16, dtype=torch.bool)
    brush[8, 8] = True
    assert int(brush_region(brush).sum()) == 49
    with pytest.raises(RegionError, match="0/1"):
        brush_region(torch.full((4, 4), 2))


def test_refinement_region_uses_either_map() -> None:
    before = face_map()
    after = before.clone()
    after[10:13, 5:11] = 3  # the mouth grew
    region = refinement_region(before, after, [3], dilation=0)
    assert torch.equal(region, (before == 3) | (after == 3))
    with pytest.raises(RegionError, match="at least one"):
        refinement_region(before, after, [])
    with pytest.raises(RegionError, match="outside"):
        refinement_region(before, after, [9], num_labels=4)


def test_refinement_region_with_context_labels_takes_only_their_changed_pixels() -> None:
    before = face_map()
    after = before.clone()
    after[9, 6:10] = 3  # the mouth grew one row into the skin
    region = refinement_region(before, after, [1, 3], dilation=0, context_labels=[0, 1])
    assert torch.equal(region, (before == 3) | (after == 3))
    assert not bool(region[(before == 1) & (after == 1)].any())
    # Only context labels involved: the pixels that changed between them, nothing else.
    after = before.clone()
    after[2, 2:14] = 0  # the skin lost its top row to the background
    region = refinement_region(before, after, [0, 1], dilation=0, context_labels=[0, 1])
    assert torch.equal(region, before != after)


def test_region_statistics() -> None:
    mask = torch.zeros(10, 12, dtype=torch.bool)
    mask[2:5, 3:9] = True
    stats = region_statistics(mask)
    assert stats["pixels"] == 18
    assert stats["bbox"] == [3, 2, 8, 4]
    assert region_statistics(torch.zeros(4, 4, dtype=torch.bool))["bbox"] is None
