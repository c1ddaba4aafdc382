"""Evaluation plumbing on the procedural domain: batches, oracle accuracy, generator quality, CLI."""

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from editing_engine.checkpoints import load_generator
from editing_engine.cli import main
from editing_engine.domain import LABELS
from editing_engine.evaluation import (
    ORACLE_TRAIN_SEED_BASE,
    OracleAccuracy,
    evaluate_generator,
    evaluate_oracle,
    format_accuracy_table,
    generate_images,
    procedural_batches,
)
from editing_engine.oracle import Oracle, OracleConfig, load_oracle, oracle_metadata, training_stages
from editing_engine.rendering import render_seed

pytestmark = pytest.mark.usefixtures("single_thread")


def domain_oracle() -> Oracle:
    torch.manual_seed(0)
    return Oracle(OracleConfig(num_labels=len(LABELS), base_channels=4, channel_max=8, depth=2,
                               label_names=tuple(LABELS))).eval()


def test_procedural_batches_are_deterministic_fresh_and_mixed() -> None:
    batches = procedural_batches(batch_size=8, size=16, out_of_domain_fraction=0.5)
    images, labels = batches(3)
    assert images.shape == (8, 16, 16, 3) and images.dtype == np.uint8
    assert labels.shape == (8, 16, 16) and int(labels.max()) < len(LABELS)
    again, _ = batches(3)
    np.testing.assert_array_equal(images, again)
    other, _ = batches(4)
    assert not np.array_equal(images, other)
    with pytest.raises(ValueError, match="out_of_domain_fraction"):
        procedural_batches(4, out_of_domain_fraction=1.5)


def test_evaluate_oracle_reports_present_labels_and_table() -> None:
    accuracy = evaluate_oracle(domain_oracle(), "in_domain", count=3, size=16, chunk=2)
    assert accuracy.count == 3
    assert set(accuracy.per_label_iou) <= set(LABELS)
    assert "background" in accuracy.per_label_iou
    assert all(0.0 <= iou <= 1.0 for iou in accuracy.per_label_iou.values())
    assert accuracy.mean_iou == pytest.approx(np.mean(list(accuracy.per_label_iou.values())))
    table = format_accuracy_table([accuracy, OracleAccuracy("out_of_domain", 1, 0, {"skin": 0.5}, 0.5)])
    assert table.splitlines()[0].split() == ["label", "in_domain", "out_of_domain"]
    assert table.splitlines()[-1].split()[-1] == "0.5000"


def test_generate_images_match_render_seed(tiny_model_dir: Path) -> None:
    generator = load_generator(tiny_model_dir).generator
    images = generate_images(generator, [5, 9], truncation_psi=0.7, batch_size=1)
    np.testing.assert_array_equal(images[1], render_seed(generator, 9, 0.7))
    assert images.shape == (2, 16, 16, 3) and images.dtype == np.uint8


def test_evaluate_generator_figures(tiny_model_dir: Path) -> None:
    generator = load_generator(tiny_model_dir).generator
    quality = evaluate_generator(generator, domain_oracle(), count=12)
    assert quality.floor is not None
    assert quality.generated.fid > quality.floor.fid >= 0.0
    assert quality.generated.kid > quality.floor.kid
    data = quality.to_dict()
    assert data["resolution"] == 16 and data["feature_dim"] == 20
    assert evaluate_generator(generator, domain_oracle(), count=4, with_floor=False).floor is None


def test_cli_train_oracle_then_evaluate_generator(tiny_model_dir: Path, tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    oracle_dir = tmp_path / "oracle"
    assert main(["train-oracle", "--output", str(oracle_dir), "--steps", "2", "--batch-size", "2",
                 "--size", "16", "--base-channels", "2", "--channel-max", "4", "--eval-count", "2",
                 "--threads", "1", "--log-every", "1"]) == 0
    out = capsys.readouterr().out
    assert "step 2/2" in out and "mIoU" in out
    metadata = oracle_metadata(oracle_dir)
    assert [entry["style"] for entry in metadata["held_out"]] == ["in_domain", "out_of_domain"]  # type: ignore[union-attr]
    assert load_oracle(oracle_dir).config.label_names == tuple(LABELS)
    stages = training_stages(oracle_dir)
    assert [stage["training"]["images_seen"] for stage in stages] == [4]
    assert stages[0]["seed_base"] == ORACLE_TRAIN_SEED_BASE

    continued = tmp_path / "continued"
    assert main(["train-oracle", "--init", str(oracle_dir), "--output", str(continued), "--steps", "1",
                 "--batch-size", "3", "--size", "16", "--eval-count", "1", "--threads", "1"]) == 0
    stages = training_stages(continued)
    assert [stage["seed_base"] for stage in stages] == [ORACLE_TRAIN_SEED_BASE, ORACLE_TRAIN_SEED_BASE + 4]
    assert load_oracle(continued).config == load_oracle(oracle_dir).config
    other_renders = tmp_path / "other-renders"
    assert main(["train-oracle", "--output", str(other_renders), "--steps", "1", "--batch-size", "2",
                 "--size", "16", "--base-channels", "2", "--channel-max", "4", "--eval-count", "1",
                 "--threads", "1", "--seed-base", "15000000"]) == 0
    assert [stage["seed_base"] for stage in training_stages(other_renders)] == [15_000_000]
    output = tmp_path / "quality.json"
    assert main(["evaluate-generator", "--model", str(tiny_model_dir), "--oracle", str(oracle_dir),
                 "--n", "6", "--threads", "1", "--output", str(output)]) == 0
    out = capsys.readouterr().out
    assert "generated: FID" in out and "floor: FID" in out
    result = json.loads(output.read_text())
    assert result["count"] == 6 and result["generated"]["fid"] >= 0 and result["oracle"] == str(oracle_dir)


def test_cli_evaluate_generator_reports_a_bad_oracle(tiny_model_dir: Path, tmp_path: Path,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["evaluate-generator", "--model", str(tiny_model_dir), "--oracle", str(tmp_path),
                 "--n", "4", "--output", str(tmp_path / "q.json")]) == 2
    assert "cannot read" in capsys.readouterr().err
