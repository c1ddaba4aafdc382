"""Measure a saved oracle on held-out renders: per-label IoU and mIoU for both styles, and its speed.

Usage: .venv/bin/python bench/oracle_eval.py [--oracle models/oracle] [--count 500] [--threads 1]
       [--agreement models/annotator_oracle [--model models/demo]]

Seeds come from ``evaluation.ORACLE_TEST_SEED_BASE`` (disjoint from the oracle's training seeds).
Also times ``predict`` against a bare forward pass measured in the same run (ratio = predict
overhead: uint8 conversion, argmax, chunking).

``--agreement OTHER`` also compares the two oracles' maps with each other (per-label IoU pooled
over the images, one oracle's maps as the other's target: symmetric) on the same held-out
renders of both styles, beside each oracle's IoU against the exact labels, and on ``--count``
generated images of ``--model`` (seeds from ``AGREEMENT_SAMPLE_SEED_BASE``, truncation 0.7; no
exact labels there). Brackets: 95 % bootstrap intervals of the mIoU, resampling the images.
"""

from __future__ import annotations

import argparse
import json
import math
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from editing_engine.checkpoints import load_generator
from editing_engine.domain import STYLES
from editing_engine.evaluation import (
    ORACLE_TEST_SEED_BASE,
    evaluate_oracle,
    format_accuracy_table,
    generate_images,
    render_set,
)
from editing_engine.metrics import intersections_unions
from editing_engine.oracle import (
    BUNDLED_ORACLE_DIR,
    Oracle,
    images_to_input,
    label_names,
    load_oracle,
    predict,
)

AGREEMENT_SAMPLE_SEED_BASE = 71_000_000
"""Generator seeds of the agreement images (disjoint from GAN, annotation and test ranges)."""


@dataclass
class Comparison:
    """One label-map set against another: per-label IoU pooled over the images, mIoU and its CI."""

    per_label_iou: dict[str, float]
    mean_iou: float
    mean_iou_ci95: tuple[float, float]


def per_image_counts(pred: np.ndarray, target: np.ndarray, num_labels: int) -> np.ndarray:
    """``[N, 2, num_labels]``: each image's per-label intersection and union counts."""
    return np.stack([np.stack(intersections_unions(p, t, num_labels))
                     for p, t in zip(pred, target, strict=True)])


def pooled_iou(counts: np.ndarray) -> np.ndarray:
    """Per-label IoU pooled over the images of ``counts`` (NaN where a label is absent)."""
    intersection, union = counts[:, 0].sum(axis=0), counts[:, 1].sum(axis=0)
    return np.where(union > 0, intersection / np.maximum(union, 1), np.nan)


def miou_interval(counts: np.ndarray, resamples: int = 1000, seed: int = 0) -> tuple[float, float]:
    """95 % bootstrap interval of the pooled mIoU, resampling images."""
    rng = np.random.default_rng(seed)
    draws = [np.nanmean(pooled_iou(counts[rng.integers(0, len(counts), len(counts))]))
             for _ in range(resamples)]
    return float(np.percentile(draws, 2.5)), float(np.percentile(draws, 97.5))


def compare(pred: np.ndarray, target: np.ndarray, names: list[str]) -> Comparison:
    """Per-label IoU, mIoU and its bootstrap interval of ``pred`` against ``target`` label maps."""
    counts = per_image_counts(pred, target, len(names))
    iou = pooled_iou(counts)
    return Comparison({names[i]: float(iou[i]) for i in range(len(names)) if not np.isnan(iou[i])},
                      float(np.nanmean(iou)), miou_interval(counts))


def agreement_rows(first: Oracle, second: Oracle, images: np.ndarray, truth: np.ndarray | None
                   ) -> dict[str, Comparison]:
    """First oracle vs second (symmetric), and each against the exact ``truth`` maps when given."""
    names = list(label_names(first))
    maps = predict(first, images), predict(second, images)
    rows = {"first vs second": compare(maps[0], maps[1], names)}
    if truth is not None:
        rows["first vs truth"] = compare(maps[0], truth, names)
        rows["second vs truth"] = compare(maps[1], truth, names)
    return rows


def print_agreement(title: str, rows: dict[str, Comparison]) -> None:
    """One column per comparison, one row per label, mIoU [CI] last."""
    print(f"\n{title}")
    print(f"{'label':<12}" + "".join(f"{name:>26}" for name in rows))
    labels = list(dict.fromkeys(label for row in rows.values() for label in row.per_label_iou))
    for label in labels:
        values = [row.per_label_iou.get(label, math.nan) for row in rows.values()]
        print(f"{label:<12}" + "".join(f"{value:>26.4f}" for value in values))
    cells = [f"{row.mean_iou:.4f} [{low:.3f}, {high:.3f}]" for row in rows.values()
             for low, high in [row.mean_iou_ci95]]
    print(f"{'mIoU':<12}" + "".join(f"{cell:>26}" for cell in cells))


def agreement(oracle: Oracle, args: argparse.Namespace) -> dict[str, Any]:
    """Print and return the two oracles' agreement on held-out renders and generated images."""
    second = load_oracle(args.agreement)
    print(f"\nagreement: first = {args.oracle}, second = {args.agreement}, {args.count} images per set")
    result: dict[str, Any] = {"first": str(args.oracle), "second": str(args.agreement), "count": args.count}
    for style in STYLES:
        seeds = range(ORACLE_TEST_SEED_BASE, ORACLE_TEST_SEED_BASE + args.count)
        images, labels = render_set(seeds, style, args.size)
        rows = agreement_rows(oracle, second, images, labels)
        print_agreement(f"{style} renders (seeds from {ORACLE_TEST_SEED_BASE})", rows)
        result[style] = {name: asdict(row) for name, row in rows.items()}
    model = load_generator(args.model)
    seeds = range(AGREEMENT_SAMPLE_SEED_BASE, AGREEMENT_SAMPLE_SEED_BASE + args.count)
    rows = agreement_rows(oracle, second, generate_images(model.generator, seeds, truncation_psi=0.7), None)
    print_agreement(f"generated images of {args.model} ({model.weights_hash[:12]}), seeds from "
                    f"{AGREEMENT_SAMPLE_SEED_BASE}, psi 0.7", rows)
    result["generated"] = {"model": str(args.model), "weights_hash": model.weights_hash,
                           **{name: asdict(row) for name, row in rows.items()}}
    return result


def main() -> None:
    """Print the oracle's held-out accuracy table and its prediction speed."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--oracle", type=Path, default=BUNDLED_ORACLE_DIR)
    parser.add_argument("--count", type=int, default=500, help="held-out renders per style")
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--json", type=Path, help="also write the figures here")
    parser.add_argument("--agreement", type=Path, help="a second oracle to compare with --oracle")
    parser.add_argument("--model", type=Path, default=Path("models/demo"),
                        help="generator of the agreement's generated images")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    oracle = load_oracle(args.oracle)
    start = time.perf_counter()
    accuracies = [evaluate_oracle(oracle, style, args.count, args.size) for style in STYLES]
    print(f"held-out renders: {args.count} per style, seeds from {ORACLE_TEST_SEED_BASE}, "
          f"size {args.size} ({time.perf_counter() - start:.1f} s incl. rendering)")
    print(format_accuracy_table(accuracies))

    images, _ = render_set(range(ORACLE_TEST_SEED_BASE, ORACLE_TEST_SEED_BASE + 64), "in_domain", args.size)
    x = images_to_input(images)
    with torch.no_grad():
        oracle(x)
        start = time.perf_counter()
        oracle(x)
        forward = time.perf_counter() - start
    start = time.perf_counter()
    predict(oracle, images)
    predicted = time.perf_counter() - start
    print(f"speed ({args.threads} thread(s), batch 64): forward {forward / 64 * 1000:.2f} ms/image, "
          f"predict {predicted / 64 * 1000:.2f} ms/image, ratio predict/forward {predicted / forward:.2f}")
    document: object = [accuracy.to_dict() for accuracy in accuracies]
    if args.agreement is not None:
        document = {"accuracy": document, "agreement": agreement(oracle, args)}
    if args.json:
        args.json.write_text(json.dumps(document, indent=2))


if __name__ == "__main__":
    main()
