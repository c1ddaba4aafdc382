"""Accuracy of a model's shipped segmentation branch (``<model>/branch``), scored against the oracle.

Per-label IoU and mIoU (pooled over all pixels) of the branch's labels against the oracle's
labels on ``--test-count`` held-out generated images (the same seeds and scoring as
``bench/branch_eval.py``). ``--write`` stores the figures as ``<model>/branch/metrics.json``,
which the webapp shows as the figures of the branch it registers with the model.

Run: ``nice -n 10 .venv/bin/python bench/bundled_branch_eval.py --threads 1 [--write]``.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.branch_eval import TEST_SEED_BASE, score, test_latents
from editing_engine.checkpoints import load_generator
from editing_engine.evaluation import generate_images
from editing_engine.models_path import default_model_path
from editing_engine.oracle import BUNDLED_ORACLE_DIR, label_names, load_oracle, predict
from editing_engine.segmentation import load_branch

METRICS_FILE = "metrics.json"


def main() -> None:
    """Score the shipped branch, print the figures and optionally write them next to it."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", type=Path, default=default_model_path())
    parser.add_argument("--oracle", type=Path, default=BUNDLED_ORACLE_DIR)
    parser.add_argument("--test-count", type=int, default=200)
    parser.add_argument("--psi", type=float, default=0.7)
    parser.add_argument("--threads", type=int, default=0)
    parser.add_argument("--write", action="store_true", help=f"write <model>/branch/{METRICS_FILE}")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    model = load_generator(args.model)
    branch = load_branch(args.model / "branch")
    names = list(label_names(load_oracle(args.oracle)))
    ws = test_latents(model.generator, args.test_count, args.psi)
    seeds = list(range(TEST_SEED_BASE, TEST_SEED_BASE + args.test_count))
    targets = predict(load_oracle(args.oracle), generate_images(model.generator, seeds, args.psi))
    start = time.perf_counter()
    iou, miou = score(model.generator, branch, ws, targets)
    print(f"machine: {platform.node()} {platform.machine()}, torch {torch.__version__}, "
          f"{torch.get_num_threads()} threads, date {time.strftime('%Y-%m-%d')}")
    print(f"branch {args.model / 'branch'} on {args.test_count} held-out images (psi {args.psi}), "
          f"scored in {time.perf_counter() - start:.1f} s")
    per_label = {
        name: (None if np.isnan(value) else round(float(value), 4))
        for name, value in zip(names, iou, strict=True)
    }
    for name, value in per_label.items():
        print(f"{name:<12} {value}")
    print(f"{'mIoU':<12} {miou:.4f}")
    if args.write:
        source = f"{args.test_count} held-out generated images vs the oracle (bench/bundled_branch_eval.py)"
        figures = {"evaluated_on": source, "per_label_iou": per_label, "mean_iou": round(miou, 4)}
        (args.model / "branch" / METRICS_FILE).write_text(json.dumps(figures, indent=2) + "\n")


if __name__ == "__main__":
    main()
