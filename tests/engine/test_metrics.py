"""Metric correctness: IoU on hand-made label maps, FID and KID sanity on synthetic features."""

import math

import numpy as np
import pytest
import torch

from editing_engine.metrics import (
    MetricError,
    boundary_f_score,
    frechet_distance,
    intersections_unions,
    kernel_inception_distance,
    label_boundary,
    mean_iou,
    oracle_features,
    per_label_iou,
    ssim_map,
)
from editing_engine.oracle import Oracle, OracleConfig

# 4x4 maps. Label 1: pred 4 px, target 6 px, 4 shared -> 4/6. Label 2: pred 4, target 2,
# 2 shared -> 2/4. Label 0: pred 8, target 8, 6 shared -> 6/10. Label 3 absent from both.
TARGET = np.array([
    [0, 0, 1, 1],
    [0, 0, 1, 1],
    [0, 0, 1, 1],
    [0, 0, 2, 2],
], dtype=np.uint8)
PRED = np.array([
    [0, 0, 1, 1],
    [0, 0, 1, 1],
    [0, 0, 0, 0],
    [2, 2, 2, 2],
], dtype=np.uint8)


def test_per_label_iou_exact_values() -> None:
    iou = per_label_iou(PRED, TARGET, num_labels=4)
    assert iou[0] == pytest.approx(6 / 10)
    assert iou[1] == pytest.approx(4 / 6)
    assert iou[2] == pytest.approx(2 / 4)
    assert math.isnan(iou[3])


def test_mean_iou_ignores_absent_labels() -> None:
    expected = (6 / 10 + 4 / 6 + 2 / 4) / 3
    assert mean_iou(PRED, TARGET, num_labels=4) == pytest.approx(expected)
    assert mean_iou(PRED, TARGET, num_labels=12) == pytest.approx(expected)
    assert mean_iou(PRED, TARGET, num_labels=4, labels=[1, 2]) == pytest.approx((4 / 6 + 2 / 4) / 2)
    assert math.isnan(mean_iou(PRED, TARGET, num_labels=4, labels=[3]))


def test_perfect_prediction_scores_one() -> None:
    assert mean_iou(TARGET, TARGET, num_labels=3) == 1.0


def test_region_restricts_counted_pixels() -> None:
    region = np.zeros((4, 4), dtype=bool)
    region[:, 2:] = True  # right half: label 1 pred 4 / target 6; label 2 pred 2 / target 2
    iou = per_label_iou(PRED, TARGET, num_labels=4, region=region)
    assert iou[1] == pytest.approx(4 / 6)
    assert iou[2] == pytest.approx(1.0)
    assert iou[0] == pytest.approx(0.0)  # pred puts 2 background px there, target none
    top_left = np.zeros((4, 4), dtype=bool)
    top_left[:2, :2] = True
    iou = per_label_iou(PRED, TARGET, num_labels=4, region=top_left)
    assert iou[0] == 1.0 and np.isnan(iou[1:]).all()


def test_stack_pools_pixels_and_accepts_tensors() -> None:
    pred = np.stack([PRED, TARGET])
    target = np.stack([TARGET, TARGET])
    inter, union = intersections_unions(torch.from_numpy(pred), torch.from_numpy(target), 4)
    assert inter.tolist() == [6 + 8, 4 + 6, 2 + 2, 0]
    assert union.tolist() == [10 + 8, 6 + 6, 4 + 2, 0]
    first_only = np.broadcast_to(np.array([True, False])[:, None, None], pred.shape)
    assert per_label_iou(pred, target, 4, region=first_only)[1] == pytest.approx(4 / 6)


def test_bad_inputs_raise_metric_error() -> None:
    with pytest.raises(MetricError, match="shape"):
        per_label_iou(PRED, TARGET[:2], 4)
    with pytest.raises(MetricError, match="outside"):
        per_label_iou(PRED, TARGET, 2)
    with pytest.raises(MetricError, match="integer"):
        per_label_iou(PRED.astype(np.float32), TARGET, 4)
    with pytest.raises(MetricError, match="boolean"):
        per_label_iou(PRED, TARGET, 4, region=np.ones((4, 4), dtype=np.uint8))


def test_fid_zero_for_identical_and_grows_with_shift() -> None:
    feats = np.random.default_rng(0).normal(size=(500, 8))
    assert frechet_distance(feats, feats) == pytest.approx(0.0, abs=1e-6)
    shifted = frechet_distance(feats, feats + 1.0)
    assert shifted == pytest.approx(8.0, rel=1e-6)  # mean term 8 * 1^2, covariances equal
    assert frechet_distance(feats, feats + 2.0) > shifted


def test_fid_matches_closed_form_for_diagonal_gaussians() -> None:
    rng = np.random.default_rng(1)
    a = rng.normal(size=(20000, 3))
    b = rng.normal(size=(20000, 3)) * 2.0
    # Same means; tr(S_a + S_b - 2 sqrt(S_a S_b)) = 3 * (1 + 4 - 2 * 2) = 3.
    assert frechet_distance(a, b) == pytest.approx(3.0, rel=0.05)


def test_kid_near_zero_for_same_distribution_and_positive_for_different() -> None:
    rng = np.random.default_rng(2)
    a, b = rng.normal(size=(400, 16)), rng.normal(size=(400, 16))
    same, same_std = kernel_inception_distance(a, b, num_subsets=20, max_subset_size=200)
    different, _ = kernel_inception_distance(a, b + 0.5, num_subsets=20, max_subset_size=200)
    assert abs(same) < 3 * same_std + 1e-3  # unbiased: fluctuates around zero, may go negative
    assert different > 10 * max(abs(same), same_std)


def test_fid_kid_reject_mismatched_features() -> None:
    with pytest.raises(MetricError, match="dimensions"):
        frechet_distance(np.zeros((4, 3)), np.zeros((4, 2)))
    with pytest.raises(MetricError, match="2-D"):
        kernel_inception_distance(np.zeros(4), np.zeros(4))


def test_oracle_features_shape_and_determinism() -> None:
    torch.manual_seed(0)
    oracle = Oracle(OracleConfig(num_labels=4, base_channels=4, channel_max=8, depth=2))
    images = np.random.default_rng(3).integers(0, 256, size=(5, 8, 8, 3), dtype=np.uint8)
    feats = oracle_features(oracle, images, batch_size=2)
    assert feats.shape == (5, oracle.config.feature_dim) == (5, 4 + 8 + 8)
    np.testing.assert_allclose(feats, oracle_features(oracle, images, batch_size=5), rtol=1e-5, atol=1e-6)


def square(size: int, top: int, left: int, side: int, label: int = 1) -> np.ndarray:
    out = np.zeros((size, size), dtype=np.int64)
    out[top : top + side, left : left + side] = label
    return out


def test_label_boundary_is_the_ring_of_a_square() -> None:
    ring = label_boundary(square(8, 2, 2, 4) == 1)
    assert int(ring.sum()) == 12 and not ring[3:5, 3:5].any() and ring[2, 2]


def test_boundary_f_score_tolerance_and_absent_labels() -> None:
    target = square(12, 2, 2, 6)
    assert boundary_f_score(target, target, [1]) == 1.0
    shifted = square(12, 3, 2, 6)  # one pixel down: every boundary pixel is within 1 px
    assert boundary_f_score(shifted, target, [1], tolerance=1) == 1.0
    # Without tolerance only the side columns' shared rows match: 10 of 20 boundary pixels each way.
    assert boundary_f_score(shifted, target, [1], tolerance=0) == pytest.approx(0.5)
    assert boundary_f_score(np.zeros_like(target), target, [1]) == 0.0
    assert math.isnan(boundary_f_score(target, target, [2]))
    assert boundary_f_score(target, target, [1, 2]) == 1.0
    with pytest.raises(MetricError, match="equal"):
        boundary_f_score(target, target[:4], [1])


def test_ssim_is_one_for_equal_images_and_drops_with_noise() -> None:
    torch.manual_seed(0)
    a = torch.rand(2, 3, 16, 16) * 2 - 1
    noise = torch.randn_like(a)
    same = ssim_map(a, a)
    assert same.shape == (2, 16, 16)
    torch.testing.assert_close(same, torch.ones_like(same))
    some, more = (float(ssim_map(a, (a + k * noise).clamp(-1, 1)).mean()) for k in (0.3, 0.6))
    assert more < some < 0.95
    # A constant offset of 0.2 on [0, 1] (0.4 on [-1, 1]) keeps the structure term at 1 on a flat image.
    flat = torch.zeros(1, 3, 8, 8)
    luminance = (2 * 0.5 * 0.7 + 1e-4) / (0.5**2 + 0.7**2 + 1e-4)
    expected = torch.full((1, 8, 8), luminance)
    torch.testing.assert_close(ssim_map(flat, flat + 0.4), expected, rtol=1e-5, atol=1e-6)
