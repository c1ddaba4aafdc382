"""Segmentation-branch accuracy vs the number of annotations, scored against the oracle.

For each annotation count N (default 4, 8, 16, 32) a branch is trained on the oracle's label
maps of the first N sampled images (generator seeds from ``ORACLE_SAMPLE_SEED_BASE``, the range
the shipped branch uses) and scored on ``--test-count`` held-out generated images (seeds from
``TEST_SEED_BASE``): per-label IoU and mIoU of the branch's labels against the oracle's labels
of the same images (pooled over all test pixels). The oracle's own accuracy against the exact
labels of held-out procedural renders (from its metadata) is printed beside as the fully
supervised reference. ``--norms`` compares normalisation layers on the same data.

Run: ``nice -n 10 .venv/bin/python bench/branch_eval.py [--json out.json]``.
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

from editing_engine.annotation_sources import oracle_annotations
from editing_engine.checkpoints import load_generator
from editing_engine.evaluation import generate_images
from editing_engine.generator import Generator, seed_to_z
from editing_engine.metrics import intersections_unions
from editing_engine.models_path import default_model_path
from editing_engine.oracle import BUNDLED_ORACLE_DIR, label_names, load_oracle, oracle_metadata, predict
from editing_engine.segmentation import BranchConfig, SegmentationBranch, segment, train_branch

TEST_SEED_BASE = 70_000_000


def test_latents(generator: Generator, count: int, psi: float) -> torch.Tensor:
    """W+ latents ``[N, num_ws, w_dim]`` of the held-out test seeds."""
    z = torch.cat(
        [seed_to_z(seed, generator.config.z_dim) for seed in range(TEST_SEED_BASE, TEST_SEED_BASE + count)]
    )
    with torch.no_grad():
        return generator.mapping(z, truncation_psi=psi)


def score(
    generator: Generator, branch: SegmentationBranch, ws: torch.Tensor, targets: np.ndarray, batch: int = 16
) -> tuple[np.ndarray, float]:
    """Per-label IoU (pooled) and mIoU of the branch's labels vs ``targets``."""
    num_labels = branch.config.num_labels
    intersection = np.zeros(num_labels, dtype=np.int64)
    union = np.zeros(num_labels, dtype=np.int64)
    for start in range(0, ws.shape[0], batch):
        labels = segment(generator, branch, ws[start : start + batch]).labels.numpy()
        inter, uni = intersections_unions(labels, targets[start : start + batch], num_labels)
        intersection += inter
        union += uni
    iou = np.full(num_labels, np.nan)
    iou[union > 0] = intersection[union > 0] / union[union > 0]
    return iou, float(np.nanmean(iou))


def main() -> None:
    """Train branches for every (norm, count) and print the mIoU table."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", type=Path, default=default_model_path())
    parser.add_argument("--oracle", type=Path, default=BUNDLED_ORACLE_DIR)
    parser.add_argument("--counts", type=int, nargs="+", default=[4, 8, 16, 32])
    parser.add_argument("--test-count", type=int, default=200)
    parser.add_argument("--psi", type=float, default=0.7)
    parser.add_argument("--members", type=int, default=10)
    parser.add_argument("--hidden", type=int, nargs="+", default=[128, 32])
    parser.add_argument("--norms", nargs="+", default=["layer"], choices=["batch", "layer", "none"])
    parser.add_argument("--steps", type=int, default=1500)
    parser.add_argument("--pixels-per-step", type=int, default=512)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=0)
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    model = load_generator(args.model)
    oracle = load_oracle(args.oracle)
    names = list(label_names(oracle))
    pool = oracle_annotations(model, args.oracle, max(args.counts), args.psi)
    ws = test_latents(model.generator, args.test_count, args.psi)
    seeds = list(range(TEST_SEED_BASE, TEST_SEED_BASE + args.test_count))
    targets = predict(oracle, generate_images(model.generator, seeds, args.psi))
    print(
        f"machine: {platform.node()} {platform.machine()}, torch {torch.__version__}, "
        f"{torch.get_num_threads()} threads, date {time.strftime('%Y-%m-%d')}"
    )
    print(
        f"model {args.model} ({model.weights_hash[:12]}), oracle {args.oracle}, "
        f"{args.test_count} test images, "
        f"psi {args.psi}, ensemble {args.members} x {args.hidden}, {args.steps} steps x "
        f"{args.pixels_per_step} px/member"
    )
    results = []
    for norm in args.norms:
        for count in args.counts:
            config = BranchConfig.for_generator(
                model.config,
                len(names),
                num_members=args.members,
                hidden_widths=tuple(args.hidden),
                norm=norm,
            )
            start = time.perf_counter()
            branch = train_branch(
                model.generator,
                config,
                pool[:count],
                steps=args.steps,
                pixels_per_step=args.pixels_per_step,
                seed=args.seed,
            )
            seconds = time.perf_counter() - start
            iou, miou = score(model.generator, branch, ws, targets)
            results.append(
                {
                    "norm": norm,
                    "annotations": count,
                    "miou": miou,
                    "train_seconds": seconds,
                    "per_label_iou": {
                        n: (None if np.isnan(v) else float(v)) for n, v in zip(names, iou, strict=True)
                    },
                }
            )
            print(f"norm {norm:<5} N={count:<3} mIoU {miou:.4f}  (train {seconds:.0f} s)", flush=True)
    held_out = oracle_metadata(args.oracle).get("held_out") or []
    print()
    header = f"{'label':<12}" + "".join(
        f"{r['norm'][:5] + ' N=' + str(r['annotations']):>13}" for r in results
    )
    print(header + "".join(f"{'oracle ' + str(h.get('style', ''))[:6]:>15}" for h in held_out))
    for name in names:
        cells = "".join(
            f"{r['per_label_iou'][name] if r['per_label_iou'][name] is not None else float('nan'):>13.3f}"
            for r in results
        )
        oracle_cells = "".join(
            f"{h.get('per_label_iou', {}).get(name, float('nan')):>15.3f}" for h in held_out
        )
        print(f"{name:<12}{cells}{oracle_cells}")
    print(
        f"{'mIoU':<12}"
        + "".join(f"{r['miou']:>13.3f}" for r in results)
        + "".join(f"{h.get('mean_iou', float('nan')):>15.3f}" for h in held_out)
    )
    if args.json:
        args.json.write_text(
            json.dumps(
                {
                    "results": results,
                    "oracle_held_out": held_out,
                    "arguments": {k: str(v) for k, v in vars(args).items()},
                },
                indent=2,
            )
        )
        print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
