"""Which images to annotate: chosen by the branch's uncertainty vs at random, with the oracle as annotator.

A pool of ``--pool`` sampled images (the shipped branch's seed range) is labelled by the oracle,
standing in for a user. Per repetition seed: the *random* arm annotates the pool in a seeded
random order and trains a branch on the first N images for each N in ``--counts``; the
*uncertainty* arm starts from the same first ``--start`` images, trains a branch, scores every
not-yet-annotated image with ``image_uncertainty`` (mean Jensen-Shannon divergence of the
ensemble, what the web app's ``score_uncertainty`` job stores) and annotates the most uncertain
ones until it has the next N, retraining each time. Both arms train with the same recipe and
seed; each branch is scored against the oracle on ``--test-count`` held-out generated images.
Means over seeds with 95 % t-intervals, and the paired difference per N.

Run: ``OMP_WAIT_POLICY=PASSIVE nice -n 19 .venv/bin/python bench/active_learning.py --threads 1``.
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
from editing_engine.annotation_sources import oracle_annotations
from editing_engine.checkpoints import load_generator
from editing_engine.evaluation import generate_images
from editing_engine.models_path import default_model_path
from editing_engine.oracle import BUNDLED_ORACLE_DIR, label_names, load_oracle, predict
from editing_engine.segmentation import (
    BranchConfig,
    SegmentationBranch,
    image_uncertainty,
    train_branch,
)

# Student's t 0.975 quantiles by degrees of freedom (beyond 10 the df-10 value, slightly conservative).
T_975 = {1: 12.706, 2: 4.303, 3: 3.182, 4: 2.776, 5: 2.571, 6: 2.447, 7: 2.365, 8: 2.306, 9: 2.262, 10: 2.228}


def interval(values: list[float]) -> tuple[float, float]:
    """Mean and the half-width of its 95 % t-interval (0 for one value)."""
    mean = float(np.mean(values))
    if len(values) < 2:
        return mean, 0.0
    quantile = T_975[min(len(values) - 1, 10)]
    return mean, float(quantile * np.std(values, ddof=1) / np.sqrt(len(values)))


def main() -> None:
    """Run both arms for every seed and print the mIoU table."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", type=Path, default=default_model_path())
    parser.add_argument("--oracle", type=Path, default=BUNDLED_ORACLE_DIR)
    parser.add_argument("--pool", type=int, default=200)
    parser.add_argument("--start", type=int, default=2, help="random images before the first ranking")
    parser.add_argument("--counts", type=int, nargs="+", default=[4, 8, 12, 16])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--test-count", type=int, default=200)
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument("--pixels-per-step", type=int, default=1024)
    parser.add_argument("--schedule", choices=["constant", "cosine"], default="cosine")
    parser.add_argument("--learning-rate", type=float, default=2e-3)
    parser.add_argument("--psi", type=float, default=0.7)
    parser.add_argument("--threads", type=int, default=0)
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    model = load_generator(args.model)
    names = list(label_names(load_oracle(args.oracle)))
    pool = oracle_annotations(model, args.oracle, args.pool, args.psi)
    pool_ws = torch.cat([ws for ws, _ in pool])
    ws = test_latents(model.generator, args.test_count, args.psi)
    seeds = list(range(TEST_SEED_BASE, TEST_SEED_BASE + args.test_count))
    targets = predict(load_oracle(args.oracle), generate_images(model.generator, seeds, args.psi))
    config = BranchConfig.for_generator(model.config, len(names))
    print(
        f"machine: {platform.node()} {platform.machine()}, torch {torch.__version__}, "
        f"{torch.get_num_threads()} threads, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}"
    )
    print(
        f"model {args.model} ({model.weights_hash[:12]}), pool {args.pool}, start {args.start}, "
        f"{args.test_count} test images, {args.steps} steps x {args.pixels_per_step} px/member "
        f"({args.schedule}, lr {args.learning_rate:g}), "
        f"seeds {args.seeds}",
        flush=True,
    )

    def trained(chosen: list[int], seed: int) -> SegmentationBranch:
        return train_branch(model.generator, config, [pool[i] for i in chosen], steps=args.steps,
                            pixels_per_step=args.pixels_per_step, seed=seed, schedule=args.schedule,
                            learning_rate=args.learning_rate)

    results: dict[str, dict[int, list[float]]] = {"random": {}, "uncertainty": {}}
    orders = {seed: [int(i) for i in np.random.default_rng(seed).permutation(args.pool)]
              for seed in args.seeds}
    picks = {seed: orders[seed][: args.start] for seed in args.seeds}
    # Counts outermost: a run stopped early still has both arms at every count it reached.
    for count in args.counts:
        for seed in args.seeds:
            miou = score(model.generator, trained(orders[seed][:count], seed), ws, targets)[1]
            results["random"].setdefault(count, []).append(miou)
            print(f"seed {seed} random      N={count:<3} mIoU {miou:.4f}", flush=True)
            chosen = picks[seed]
            while len(chosen) < count:
                branch = trained(chosen, seed)
                rest = [i for i in range(args.pool) if i not in chosen]
                uncertainty = image_uncertainty(model.generator, branch, pool_ws[rest])
                ranked = [rest[int(i)] for i in torch.argsort(uncertainty, descending=True)]
                chosen = chosen + ranked[: count - len(chosen)]
            picks[seed] = chosen
            miou = score(model.generator, trained(chosen, seed), ws, targets)[1]
            results["uncertainty"].setdefault(count, []).append(miou)
            print(f"seed {seed} uncertainty N={count:<3} mIoU {miou:.4f}", flush=True)
    print()
    print(f"{'N':<4} {'random mIoU':>18} {'uncertainty mIoU':>18} {'difference (paired)':>22}")
    table = []
    for count in args.counts:
        rand, unc = results["random"][count], results["uncertainty"][count]
        r, rh = interval(rand)
        u, uh = interval(unc)
        d, dh = interval([b - a for a, b in zip(rand, unc, strict=True)])
        table.append({"annotations": count, "random": [r, rh], "uncertainty": [u, uh], "difference": [d, dh],
                      "random_runs": rand, "uncertainty_runs": unc})
        print(f"{count:<4} {r:>10.4f} ± {rh:.4f} {u:>10.4f} ± {uh:.4f} {d:>+14.4f} ± {dh:.4f}")
    if args.json:
        arguments = {k: str(v) for k, v in vars(args).items()}
        args.json.write_text(json.dumps({"table": table, "picks": picks, "arguments": arguments}, indent=2))
        print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
