"""Branch-training time and accuracy: where the seconds go, old defaults vs new, in one run.

Mirrors the web app's ``train_branch`` job on the demo model: N oracle-labelled samples
(the shipped branch's seeds), a fifth held out as the job does, then per phase: feature
extraction (render + cache), the training loop, the held-out evaluation (segment + IoU) and
the file write (``save_branch`` + reading the weights back, as the job stores them). Each
recipe's branch is also scored against the oracle on ``--test-count`` held-out generated images
(the same images and the same training seeds for every recipe), so a faster recipe is only
accepted if its mIoU holds. Recipes: ``STEPSxPIXELS:SCHEDULE:LR:SAMPLER`` with SAMPLER
``grid`` (per-tap ``grid_sample`` each step, the old path) or ``table`` (one gather from a
cached pixel-feature table).

Run: ``OMP_WAIT_POLICY=PASSIVE nice -n 19 .venv/bin/python bench/branch_training.py --threads 1``.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.branch_eval import TEST_SEED_BASE, score, test_latents
from editing_engine.annotation_sources import oracle_annotations
from editing_engine.checkpoints import LoadedModel, load_generator
from editing_engine.evaluation import generate_images
from editing_engine.metrics import per_label_iou
from editing_engine.models_path import default_model_path
from editing_engine.oracle import BUNDLED_ORACLE_DIR, label_names, load_oracle, predict
from editing_engine.segmentation import (
    BRANCH_WEIGHTS_FILE,
    DEFAULT_LEARNING_RATE,
    DEFAULT_PIXEL_TABLE_BYTES,
    DEFAULT_PIXELS_PER_STEP,
    DEFAULT_SCHEDULE,
    DEFAULT_TRAIN_STEPS,
    BranchConfig,
    build_feature_cache,
    save_branch,
    segment,
    train_branch,
)

OLD_DEFAULT = "2000x2048:constant:1e-3:grid"
NEW_DEFAULT = (f"{DEFAULT_TRAIN_STEPS}x{DEFAULT_PIXELS_PER_STEP}:{DEFAULT_SCHEDULE}:"
               f"{DEFAULT_LEARNING_RATE:g}:table")


@dataclass(frozen=True)
class Recipe:
    """One way to train: steps, pixels per member and step, learning-rate schedule and peak, sampler."""

    steps: int
    pixels: int
    schedule: str
    learning_rate: float
    sampler: str

    @classmethod
    def parse(cls, text: str) -> Recipe:
        """``STEPSxPIXELS:SCHEDULE:LR:SAMPLER``."""
        size, schedule, rate, sampler = text.split(":")
        steps, pixels = size.split("x")
        return cls(int(steps), int(pixels), schedule, float(rate), sampler)

    def __str__(self) -> str:
        return f"{self.steps}x{self.pixels}:{self.schedule}:{self.learning_rate:g}:{self.sampler}"


def step_profile(
    model: LoadedModel, recipe: Recipe, pairs: list, held_out: int, names: list[str], steps: int
) -> dict[str, float]:
    """CPU seconds per training step of ``recipe`` over ``steps`` steps, split into sampling, forward,
    backward and optimiser step (the loop of ``train_branch``, timed piece by piece)."""
    import math

    import torch.nn.functional as F

    from editing_engine.segmentation import (
        SegmentationBranch,
        pixel_feature_table,
        sample_member_pixels,
    )

    train = pairs[held_out:]
    config = BranchConfig.for_generator(model.config, len(names))
    cache = build_feature_cache(model.generator, train, config.resolution)
    limit = DEFAULT_PIXEL_TABLE_BYTES if recipe.sampler == "table" else 0
    table = pixel_feature_table(cache.features, config.resolution, limit)
    branch = SegmentationBranch(config, seed=0).train()
    optimizer = torch.optim.Adam(branch.parameters(), lr=recipe.learning_rate)
    rng = torch.Generator().manual_seed(0)
    members, images = config.num_members, len(train)
    per_image = max(1, math.ceil(recipe.pixels / images))
    buffer = None if table is None else table.new_empty(members * images * per_image, table.shape[1])
    totals = dict.fromkeys(("sampling", "forward", "backward", "optimiser"), 0.0)
    for _ in range(steps):
        marks = [time.process_time()]
        rows = torch.randint(0, config.resolution, (images, members * per_image), generator=rng)
        cols = torch.randint(0, config.resolution, (images, members * per_image), generator=rng)
        features, targets = sample_member_pixels(cache, table, rows, cols, members, buffer)
        marks.append(time.process_time())
        logits = branch.tail(branch.first_layer_from_pixel_features(features))
        loss = F.cross_entropy(logits.reshape(-1, config.num_labels), targets.reshape(-1))
        marks.append(time.process_time())
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        marks.append(time.process_time())
        optimizer.step()
        marks.append(time.process_time())
        for name, start, stop in zip(totals, marks, marks[1:], strict=False):
            totals[name] += stop - start
    return {name: value / steps for name, value in totals.items()}


def job_phases(
    model: LoadedModel, recipe: Recipe, pairs: list, held_out: int, names: list[str], seed: int
) -> tuple[dict[str, float], object]:
    """Seconds of each phase of the job's path for ``recipe``, and the trained branch."""
    train, test = pairs[held_out:], pairs[:held_out]
    config = BranchConfig.for_generator(model.config, len(names))
    seconds: dict[str, float] = {}
    cpu_start = time.process_time()
    start = time.perf_counter()
    build_feature_cache(model.generator, train, config.resolution)
    seconds["features"] = time.perf_counter() - start
    start = time.perf_counter()
    branch = train_branch(
        model.generator, config, train, steps=recipe.steps, pixels_per_step=recipe.pixels, seed=seed,
        learning_rate=recipe.learning_rate, schedule=recipe.schedule,  # type: ignore[arg-type]
        pixel_table_bytes=DEFAULT_PIXEL_TABLE_BYTES if recipe.sampler == "table" else 0,
    )
    seconds["training"] = time.perf_counter() - start - seconds["features"]
    start = time.perf_counter()
    if test:
        predicted = torch.stack([segment(model.generator, branch, ws).labels[0] for ws, _ in test])
        per_label_iou(predicted, torch.stack([labels for _, labels in test]), len(names))
    seconds["evaluation"] = time.perf_counter() - start
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as folder:
        (save_branch(Path(folder), branch, metadata={}) / BRANCH_WEIGHTS_FILE).read_bytes()
    seconds["write"] = time.perf_counter() - start
    seconds["total"] = sum(seconds.values())
    seconds["total_cpu"] = time.process_time() - cpu_start
    return seconds, branch


def main() -> None:
    """Time and score every recipe and print the table (ratios against the first recipe)."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", type=Path, default=default_model_path())
    parser.add_argument("--oracle", type=Path, default=BUNDLED_ORACLE_DIR)
    parser.add_argument("--annotations", type=int, default=16)
    parser.add_argument("--recipes", nargs="+", default=[OLD_DEFAULT, NEW_DEFAULT],
                        help=f"the first is the ratios' baseline (default: {OLD_DEFAULT} {NEW_DEFAULT})")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--test-count", type=int, default=200)
    parser.add_argument("--psi", type=float, default=0.7)
    parser.add_argument("--threads", type=int, default=0)
    parser.add_argument("--profile-steps", type=int, default=30,
                        help="steps of the per-step CPU profile of each recipe (0: none)")
    parser.add_argument("--no-train", action="store_true", help="only the per-step profile")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    model = load_generator(args.model)
    oracle = load_oracle(args.oracle)
    names = list(label_names(oracle))
    pairs = oracle_annotations(model, args.oracle, args.annotations, args.psi)
    held_out = args.annotations // 5 if args.annotations >= 5 else 0
    ws = test_latents(model.generator, args.test_count, args.psi)
    seeds = list(range(TEST_SEED_BASE, TEST_SEED_BASE + args.test_count))
    targets = predict(oracle, generate_images(model.generator, seeds, args.psi))
    print(
        f"machine: {platform.node()} {platform.machine()}, torch {torch.__version__}, "
        f"{torch.get_num_threads()} threads, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}"
    )
    print(
        f"model {args.model} ({model.weights_hash[:12]}), {args.annotations} annotations "
        f"({held_out} held out as the job does), {args.test_count} test images, seeds {args.seeds}",
        flush=True,
    )
    profiles = {}
    if args.profile_steps:
        print(f"per training step, CPU seconds over {args.profile_steps} steps (x steps = the loop):")
        for text in args.recipes:
            recipe = Recipe.parse(text)
            profile = step_profile(model, recipe, pairs, held_out, names, args.profile_steps)
            profiles[str(recipe)] = profile
            per_step = sum(profile.values())
            print(f"  {recipe!s:<32} " + "  ".join(f"{k} {v * 1000:.1f} ms" for k, v in profile.items())
                  + f"  = {per_step * 1000:.1f} ms/step, x {recipe.steps} = {per_step * recipe.steps:.0f} s",
                  flush=True)
    rows = []
    for text in ([] if args.no_train else args.recipes):
        recipe = Recipe.parse(text)
        for seed in args.seeds:
            seconds, branch = job_phases(model, recipe, pairs, held_out, names, seed)
            _, miou = score(model.generator, branch, ws, targets)  # type: ignore[arg-type]
            rows.append({"recipe": str(recipe), "seed": seed, "miou": miou, "seconds": seconds})
            print(
                f"{recipe!s:<32} seed {seed}: mIoU {miou:.4f}  "
                + "  ".join(f"{k} {v:.1f} s" for k, v in seconds.items()),
                flush=True,
            )
    print()
    print(f"{'recipe':<32} {'mIoU (mean over seeds)':>24} {'total s':>9} {'CPU s':>9} {'train s':>9} "
          f"{'speed-up':>9}")
    base_total = None
    for text in ([] if args.no_train else args.recipes):
        mine = [r for r in rows if r["recipe"] == str(Recipe.parse(text))]
        miou = float(np.mean([r["miou"] for r in mine]))
        spread = float(np.std([r["miou"] for r in mine]))
        total = float(np.mean([r["seconds"]["total"] for r in mine]))
        train = float(np.mean([r["seconds"]["training"] for r in mine]))
        cpu = float(np.mean([r["seconds"]["total_cpu"] for r in mine]))
        base_total = base_total or total
        print(
            f"{text:<32} {miou:>17.4f} ±{spread:.4f} {total:>9.1f} {cpu:>9.1f} {train:>9.1f} "
            f"{base_total / total:>8.2f}x"
        )
    if args.json:
        arguments = {k: str(v) for k, v in vars(args).items()}
        document = {"rows": rows, "profiles": profiles, "arguments": arguments}
        args.json.write_text(json.dumps(document, indent=2))
        print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
