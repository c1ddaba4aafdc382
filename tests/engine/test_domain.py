"""The procedural face domain: determinism, label maps, styles and parameter edits."""

from dataclasses import replace

import numpy as np
import pytest

from editing_engine.domain import (
    LABEL_COLOURS,
    LABEL_INDEX,
    LABELS,
    SHAPE_PARAMS,
    UnknownStyleError,
    render_face,
    render_params,
    sample_params,
)


def test_label_set() -> None:
    assert LABELS[0] == "background"
    assert len(LABELS) >= 10 and len(set(LABELS)) == len(LABELS)
    assert {"pupils", "nostrils", "teeth"} <= set(LABELS)
    assert len(LABEL_COLOURS) == len(LABELS)
    assert len(set(LABEL_COLOURS)) == len(LABEL_COLOURS)


def test_same_seed_same_render() -> None:
    first, second = render_face(7), render_face(7)
    assert np.array_equal(first.image, second.image)
    assert np.array_equal(first.labels, second.labels)
    assert first.params == second.params
    assert not np.array_equal(first.image, render_face(8).image)


@pytest.mark.parametrize("size", [16, 32, 64])
def test_shapes_and_dtypes(size: int) -> None:
    face = render_face(3, size)
    assert face.image.shape == (size, size, 3) and face.image.dtype == np.uint8
    assert face.labels.shape == (size, size) and face.labels.dtype == np.uint8
    assert face.labels.max() < len(LABELS)


def interior(mask: np.ndarray) -> np.ndarray:
    """Pixels of ``mask`` whose four neighbours are also in ``mask`` (no anti-aliased edge)."""
    inner = mask.copy()
    inner[1:-1, 1:-1] &= mask[:-2, 1:-1] & mask[2:, 1:-1] & mask[1:-1, :-2] & mask[1:-1, 2:]
    inner[[0, -1], :] = False
    inner[:, [0, -1]] = False
    return inner


def test_label_map_is_exact_and_small_parts_appear() -> None:
    seen: set[int] = set()
    bright_checked = 0
    for seed in range(40):
        face = render_face(seed, 64)
        seen |= set(np.unique(face.labels).tolist())
        assert face.labels[0, 0] == LABEL_INDEX["background"]
        assert face.labels[29, 32] != LABEL_INDEX["background"]
        # Inside a white part (eye whites, teeth) the RGB is white-ish: labels and pixels agree.
        for name in ("eyes", "teeth"):
            inner = interior(face.labels == LABEL_INDEX[name])
            if inner.any():
                assert face.image[inner].astype(float).mean(axis=1).min() > 120, (seed, name)
                bright_checked += 1
    assert seen == set(range(len(LABELS)))
    assert bright_checked > 20


def test_edits_move_the_labels_they_should() -> None:
    params = sample_params(11)
    closed = render_params(replace(params, mouth_openness=0.0))
    wide = render_params(replace(params, mouth_openness=1.0))
    assert (wide.labels == LABEL_INDEX["teeth"]).sum() > 0
    assert (closed.labels == LABEL_INDEX["teeth"]).sum() == 0
    small = render_params(replace(params, pupil_size=0.2), 64)
    big = render_params(replace(params, pupil_size=0.95), 64)
    assert (big.labels == LABEL_INDEX["pupils"]).sum() > (small.labels == LABEL_INDEX["pupils"]).sum()
    unchanged = big.labels != small.labels
    eye_parts = [LABEL_INDEX[name] for name in ("eyes", "irises", "pupils")]
    assert np.isin(small.labels[unchanged], eye_parts).all()


def test_out_of_domain_same_labels_different_colours() -> None:
    for seed in range(4):
        inside, outside = render_face(seed), render_face(seed, style="out_of_domain")
        assert np.array_equal(inside.labels, outside.labels)
        assert inside.params.shape_vector().tolist() == outside.params.shape_vector().tolist()
    inside_stats = np.stack([render_face(s).image.reshape(-1, 3).mean(0) for s in range(20)])
    outside_stats = np.stack([render_face(s, style="out_of_domain").image.reshape(-1, 3).mean(0)
                              for s in range(20)])
    saturation_in = (inside_stats.max(1) - inside_stats.min(1)).mean()
    saturation_out = (outside_stats.max(1) - outside_stats.min(1)).mean()
    assert abs(saturation_in - saturation_out) > 5 or abs(inside_stats.mean() - outside_stats.mean()) > 10


def test_frequent_edit_targets() -> None:
    params = [sample_params(seed) for seed in range(400)]
    assert np.mean([p.mouth_curvature > 0.5 for p in params]) > 0.2
    assert np.mean([p.mouth_curvature < -0.5 for p in params]) > 0.2
    assert np.mean([p.mouth_openness > 0.35 for p in params]) > 0.4
    assert np.mean([p.pupil_size > 0.65 for p in params]) > 0.4
    assert len(params[0].shape_vector()) == len(SHAPE_PARAMS)


def test_bad_input_refused() -> None:
    with pytest.raises(UnknownStyleError):
        render_face(0, style="cubist")
    with pytest.raises(ValueError, match="size"):
        render_face(0, size=8)
    with pytest.raises(ValueError, match="seed"):
        sample_params(-1)
