"""bench/generator_curve.py: FID's bootstrap error, the hit row it reads, the plot, and one measured point."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image

from bench.generator_curve import (
    bootstrap_fid_se,
    bootstrap_fids,
    draw_curve,
    generated_features,
    hit_figures,
    measure_point,
)
from editing_engine.checkpoints import save_model
from editing_engine.generator import Generator, GeneratorConfig
from editing_engine.metrics import frechet_distance
from editing_engine.oracle import Oracle, OracleConfig


def test_bootstrap_error_is_zero_for_identical_samples_and_positive_otherwise() -> None:
    reference = np.random.default_rng(1).normal(size=(200, 4))
    constant = np.ones((50, 4))
    assert bootstrap_fid_se(constant, reference, resamples=5) == 0.0
    varied = np.random.default_rng(2).normal(size=(50, 4))
    assert bootstrap_fid_se(varied, reference, resamples=20) > 0.0


def test_hit_figures_read_the_scratch_row(tmp_path: Path) -> None:
    path = tmp_path / "edit.json"
    path.write_text(json.dumps({"distinct_images": 7, "summary": [
        {"mode": "none", "n": 9, "images": 7, "hit": 0.0},
        {"mode": "scratch", "n": 9, "images": 7, "hit": 0.4, "bf_edit": 0.6, "miou_out": 0.8,
         "ci95": {"hit": [0.3, 0.5]}},
    ]}))
    figures = hit_figures(path)
    assert (figures["hit"], figures["hit_ci95"], figures["requests"], figures["distinct_images"]) == (
        0.4, [0.3, 0.5], 9, 7)


def test_draw_curve_writes_both_panels(tmp_path: Path) -> None:
    points: list[dict[str, Any]] = [
        {"kimg": 100.0, "fid": 2.0},
        {"kimg": 470.0, "fid": 0.4, "fid_ci95": [0.35, 0.45], "hit": 0.5, "hit_ci95": [0.45, 0.55]},
        {"kimg": 600.0, "fid": 0.3, "fid_ci95": [0.25, 0.35], "hit": 0.55, "hit_ci95": [0.5, 0.6]}]
    draw_curve(points, tmp_path / "curve.png")
    image = np.asarray(Image.open(tmp_path / "curve.png").convert("RGB"))
    assert image.shape == (340, 900, 3)
    # blue points drawn in the hit panel (right half), not only the FID panel
    blue = (image[:, :, 2] > 150) & (image[:, :, 0] < 100)
    assert blue[:, 450:].any() and blue[:, :450].any()


def test_measure_point_matches_the_fid_of_its_own_features(tmp_path: Path) -> None:
    torch.manual_seed(0)
    config = GeneratorConfig(resolution=16, z_dim=32, w_dim=32, mapping_layers=2, channel_base=256,
                             channel_max=32)
    model_dir = save_model(tmp_path / "model", Generator(config).eval(), metadata={"images_seen": 1500})
    oracle = Oracle(OracleConfig(num_labels=3, base_channels=4, channel_max=8, depth=2)).eval()
    reference = np.random.default_rng(0).normal(size=(12, oracle.config.feature_dim))
    point = measure_point(model_dir, oracle, reference, resamples=4)
    assert point["kimg"] == 1.5 and point["n"] == 12
    low, high = point["fid_ci95"]
    assert low < point["fid"] < high
    # same features, same formula: the point's FID is the plain FID of the generated samples
    feats, _ = generated_features(model_dir, oracle, 12)
    assert point["fid"] == frechet_distance(feats, reference)
    versus = measure_point(model_dir, oracle, reference, resamples=4, baseline=feats)["fid_minus_baseline"]
    assert versus["value"] == 0.0 and versus["se"] == 0.0


def test_paired_bootstrap_of_a_generator_against_itself_has_zero_difference_and_error() -> None:
    reference = np.random.default_rng(3).normal(size=(100, 5))
    generated = np.random.default_rng(4).normal(size=(60, 5))
    values, base_values = bootstrap_fids(generated, reference, resamples=6, baseline=generated)
    assert base_values is not None and np.array_equal(values, base_values)
    shifted = generated + 0.5
    values, base_values = bootstrap_fids(shifted, reference, resamples=6, baseline=generated)
    assert base_values is not None and np.all(values > base_values)
