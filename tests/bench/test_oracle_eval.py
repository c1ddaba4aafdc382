"""The oracle-agreement figures of bench/oracle_eval.py."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from bench.oracle_eval import agreement_rows, compare
from editing_engine.oracle import Oracle, OracleConfig


def test_compare_pools_intersections_over_images() -> None:
    target = np.array([[[0, 1], [1, 1]]] * 2, dtype=np.uint8)
    pred = np.array([[[0, 0], [1, 1]]] * 2, dtype=np.uint8)
    result = compare(pred, target, ["background", "skin"])
    # label 0: 2 shared pixels of 4 in the union; label 1: 4 of 6.
    assert result.per_label_iou == pytest.approx({"background": 0.5, "skin": 2 / 3})
    assert result.mean_iou == pytest.approx(7 / 12)
    assert result.mean_iou_ci95 == pytest.approx((7 / 12, 7 / 12))  # identical images: no spread


def test_an_oracle_agrees_with_itself_and_scores_the_same_against_truth() -> None:
    torch.manual_seed(0)
    oracle = Oracle(OracleConfig(num_labels=3, base_channels=4, channel_max=8, depth=2)).eval()
    other = Oracle(OracleConfig(num_labels=3, base_channels=4, channel_max=8, depth=2)).eval()
    images = np.random.default_rng(0).integers(0, 256, (4, 16, 16, 3), dtype=np.uint8)
    truth = np.random.default_rng(1).integers(0, 3, (4, 16, 16), dtype=np.uint8)
    rows = agreement_rows(oracle, oracle, images, truth)
    assert rows["first vs second"].mean_iou == 1.0
    assert rows["first vs truth"] == rows["second vs truth"]
    assert agreement_rows(oracle, other, images, None)["first vs second"].mean_iou < 1.0
    assert set(agreement_rows(oracle, other, images, None)) == {"first vs second"}
