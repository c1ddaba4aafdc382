"""The web app's train_branch job and the engine's CLI train with the engine's default recipe."""

from __future__ import annotations

from editing_engine import segmentation
from editing_engine.cli import build_parser
from webapp.annotations import job_kinds


def test_job_defaults_are_the_engines() -> None:
    fields = job_kinds.TrainBranchParameters().fields
    assert fields["steps"].default == segmentation.DEFAULT_TRAIN_STEPS
    assert fields["pixels_per_step"].default == segmentation.DEFAULT_PIXELS_PER_STEP


def test_cli_defaults_are_the_engines() -> None:
    args = build_parser().parse_args(["train-branch", "--oracle-samples", "4"])
    assert (args.steps, args.pixels_per_step, args.lr, args.schedule) == (
        segmentation.DEFAULT_TRAIN_STEPS, segmentation.DEFAULT_PIXELS_PER_STEP,
        segmentation.DEFAULT_LEARNING_RATE, segmentation.DEFAULT_SCHEDULE)
