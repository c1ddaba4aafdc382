"""Measure a saved oracle on held-out renders: per-label IoU and mIoU for both styles, and its speed.

Usage: .venv/bin/python bench/oracle_eval.py [--oracle models/oracle] [--count 500] [--threads 1]

Seeds come from ``evaluation.ORACLE_TEST_SEED_BASE`` (disjoint from the oracle's training seeds).
Also times ``predict`` against a bare forward pass measured in the same run (ratio = predict
overhead: uint8 conversion, argmax, chunking).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch

from editing_engine.domain import STYLES
from editing_engine.evaluation import (
    ORACLE_TEST_SEED_BASE,
    evaluate_oracle,
    format_accuracy_table,
    render_set,
)
from editing_engine.oracle import BUNDLED_ORACLE_DIR, images_to_input, load_oracle, predict


def main() -> None:
    """Print the oracle's held-out accuracy table and its prediction speed."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--oracle", type=Path, default=BUNDLED_ORACLE_DIR)
    parser.add_argument("--count", type=int, default=500, help="held-out renders per style")
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--json", type=Path, help="also write the figures here")
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
    if args.json:
        args.json.write_text(json.dumps([accuracy.to_dict() for accuracy in accuracies], indent=2))


if __name__ == "__main__":
    main()
