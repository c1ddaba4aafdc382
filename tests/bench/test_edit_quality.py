"""bench/edit_quality.py: the branch trained there learns the annotator oracle's maps, not the judge's."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch

import bench.edit_quality as edit_quality
from editing_engine.checkpoints import load_generator
from editing_engine.oracle import Oracle, OracleConfig, predict


def test_branch_trained_in_the_bench_learns_the_annotators_maps(
    tiny_model_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    model = load_generator(tiny_model_dir)
    torch.manual_seed(0)
    judge, annotator = (Oracle(OracleConfig(num_labels=15, base_channels=4, channel_max=8)).eval()
                        for _ in range(2))
    seen: dict[str, Any] = {}

    def fake_train(generator: object, config: object, annotations: list[Any], steps: int) -> torch.nn.Module:
        seen["annotations"], seen["steps"] = annotations, steps
        return torch.nn.Identity()

    monkeypatch.setattr(edit_quality, "train_branch", fake_train)
    edit_quality.obtain_branch(None, model, annotator, steps=7)
    assert seen["steps"] == 7 and len(seen["annotations"]) == 16
    ws, labels = seen["annotations"][0]
    with torch.no_grad():
        image = model.generator.synthesis(ws, noise_mode="const")
    assert (labels == predict(annotator, image)[0]).all()
    assert not (labels == predict(judge, image)[0]).all()
