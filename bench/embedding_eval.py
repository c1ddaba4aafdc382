"""Embedding quality on procedural renders: PSNR and part accuracy, in-domain and out-of-domain.

For each style, ``--count`` held-out renders (seeds from ``EVAL_SEED_BASE``, disjoint from GAN,
oracle and encoder ranges) are embedded (encoder init + ``--steps`` of optimisation), once per
loss weighting of ``--weights``:

* ``equal``: ``EmbeddingWeights()`` (1 x perceptual + 1 x MSE on [-1, 1] images; the engine's
  default, ``DEFAULT_EMBEDDING_WEIGHTS``);
* ``release``: ``RELEASE_EMBEDDING_WEIGHTS`` (the release's 10 x LPIPS + 1 x MSE on [0, 1]:
  perceptual 10, MSE on [-1, 1] x 1/4, about 40x more weight on the perceptual term).

Both keep the encoder-consistency term at 1. The perceptual distance is LPIPS-VGG with
``--lpips-weights``, otherwise the model's discriminator features (printed as substituted: the
release's weight 10 was set for LPIPS's scale, not for this distance's). Reported per style and
latent (the encoder alone, then each weighting):

* PSNR of the reconstruction vs the input render (mean over images);
* oracle mIoU (the judge): the oracle's labels of the reconstruction vs of the input, pooled
  over the images (how well the reconstruction keeps the parts, independent of the branch);
* branch mIoU: the branch's segmentation of the embedded latent vs the oracle's labels of the
  input image (what a user annotating an uploaded image gets);
* seconds per image.

Brackets: 95 % bootstrap intervals resampling the images; the paired differences of each
weighting against ``equal`` (same images) come with their own intervals.

Run: ``OMP_WAIT_POLICY=PASSIVE nice -n 10 .venv/bin/python bench/embedding_eval.py --threads 1
--count 40 --json docs/figures/embedding_eval.json``.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from editing_engine.checkpoints import load_generator
from editing_engine.domain import STYLES, render_face
from editing_engine.embedding import RELEASE_EMBEDDING_WEIGHTS, EmbeddingWeights, embed_image
from editing_engine.encoder import load_encoder
from editing_engine.losses import LPIPSVGG
from editing_engine.metrics import intersections_unions
from editing_engine.models_path import default_model_path
from editing_engine.oracle import BUNDLED_ORACLE_DIR, load_oracle, predict
from editing_engine.perceptual_options import add_lpips_arguments, perceptual_from_args
from editing_engine.segmentation import load_branch, segment

EVAL_SEED_BASE = 50_000_000
WEIGHTINGS = {"equal": EmbeddingWeights(), "release": RELEASE_EMBEDDING_WEIGHTS}


def image_counts(pred: np.ndarray, target: np.ndarray, num_labels: int) -> np.ndarray:
    """``[2, num_labels]``: one image's per-label intersection and union counts."""
    return np.stack(intersections_unions(pred, target, num_labels))


def pooled_miou(counts: np.ndarray) -> float:
    """mIoU pooled over the images of ``counts`` (``[N, 2, num_labels]``), absent labels left out."""
    intersection, union = counts[:, 0].sum(axis=0), counts[:, 1].sum(axis=0)
    present = union > 0
    return float(np.mean(intersection[present] / union[present]))


def interval(statistic: Any, count: int, resamples: int, seed: int = 0) -> list[float]:
    """95 % bootstrap interval of ``statistic(indices)`` over ``count`` images."""
    rng = np.random.default_rng(seed)
    draws = [statistic(rng.integers(0, count, count)) for _ in range(resamples)]
    return [float(np.percentile(draws, 2.5)), float(np.percentile(draws, 97.5))]


def latent_figures(psnr: np.ndarray, oracle: np.ndarray, branch: np.ndarray, resamples: int
                   ) -> dict[str, Any]:
    """Mean PSNR and pooled mIoUs of one latent kind, each with its bootstrap interval."""
    count = len(psnr)
    return {
        "n": count,
        "psnr": float(psnr.mean()), "psnr_ci95": interval(lambda i: psnr[i].mean(), count, resamples),
        "oracle_miou": pooled_miou(oracle),
        "oracle_miou_ci95": interval(lambda i: pooled_miou(oracle[i]), count, resamples),
        "branch_miou": pooled_miou(branch),
        "branch_miou_ci95": interval(lambda i: pooled_miou(branch[i]), count, resamples),
    }


def paired_figures(psnr: np.ndarray, oracle: np.ndarray, branch: np.ndarray, base: tuple[np.ndarray, ...],
                   resamples: int) -> dict[str, Any]:
    """PSNR, oracle- and branch-mIoU differences against the baseline on the same images, with intervals."""
    count = len(psnr)
    base_psnr, base_oracle, base_branch = base
    return {
        "branch_miou_minus_equal": pooled_miou(branch) - pooled_miou(base_branch),
        "branch_miou_minus_equal_ci95": interval(
            lambda i: pooled_miou(branch[i]) - pooled_miou(base_branch[i]), count, resamples),
        "psnr_minus_equal": float((psnr - base_psnr).mean()),
        "psnr_minus_equal_ci95": interval(lambda i: (psnr[i] - base_psnr[i]).mean(), count, resamples),
        "oracle_miou_minus_equal": pooled_miou(oracle) - pooled_miou(base_oracle),
        "oracle_miou_minus_equal_ci95": interval(
            lambda i: pooled_miou(oracle[i]) - pooled_miou(base_oracle[i]), count, resamples),
    }


def summarise(rows: dict[str, dict[str, Any]], resamples: int) -> list[dict[str, Any]]:
    """Per latent: means and intervals; against ``equal``: paired differences and intervals."""
    def arrays(key: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        row = rows[key]
        return np.array(row["psnr"]), np.stack(row["oracle"]), np.stack(row["branch"])

    summary = []
    for key, row in rows.items():
        psnr, oracle, branch = arrays(key)
        figures = {"latent": key, **latent_figures(psnr, oracle, branch, resamples),
                   "seconds_per_image": float(np.mean(row["seconds"]))}
        if key not in ("encoder", "equal") and "equal" in rows:
            figures.update(paired_figures(psnr, oracle, branch, arrays("equal"), resamples))
        summary.append(figures)
    return summary


def interval_text(row: dict[str, Any], metric: str, digits: int, sign: str = "") -> str:
    """``value [low, high]`` of a metric and its ``_ci95``."""
    low, high = row[f"{metric}_ci95"]
    return f"{row[metric]:{sign}.{digits}f} [{low:{sign}.{digits}f}, {high:{sign}.{digits}f}]"


def print_table(results: list[dict[str, Any]]) -> None:
    """A markdown table of the results (95 % bootstrap intervals over images in brackets)."""
    print("| style | latent | n | PSNR dB | oracle mIoU (judge) | branch mIoU | s/img | "
          "vs equal: PSNR, oracle mIoU, branch mIoU |")
    print("|---|---|---|---|---|---|---|---|")
    for row in results:
        versus = ""
        if "psnr_minus_equal" in row:
            versus = (f"{interval_text(row, 'psnr_minus_equal', 2, '+')}, "
                      f"{interval_text(row, 'oracle_miou_minus_equal', 3, '+')}, "
                      f"{interval_text(row, 'branch_miou_minus_equal', 3, '+')}")
        print(f"| {row['style']} | {row['latent']} | {row['n']} | {interval_text(row, 'psnr', 2)} | "
              f"{interval_text(row, 'oracle_miou', 3)} | {interval_text(row, 'branch_miou', 3)} | "
              f"{row['seconds_per_image']:.1f} | {versus} |")


def main() -> None:
    """Embed renders of each style and print PSNR / mIoU for the encoder init and each weighting."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=default_model_path())
    parser.add_argument("--encoder", type=Path, help="default: <model>/encoder")
    parser.add_argument("--branch", type=Path, help="default: <model>/branch")
    parser.add_argument("--oracle", type=Path, default=BUNDLED_ORACLE_DIR, help="the judge")
    add_lpips_arguments(parser)
    parser.add_argument("--count", type=int, default=40, help="renders per style")
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--weights", default=",".join(WEIGHTINGS), help="weightings to compare")
    parser.add_argument("--bootstrap", type=int, default=1000, help="bootstrap resamples of the images")
    parser.add_argument("--threads", type=int, default=0)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    model = load_generator(args.model)
    encoder = load_encoder(args.encoder or args.model / "encoder", model.config)
    branch = load_branch(args.branch or args.model / "branch", model.config)
    oracle = load_oracle(args.oracle)
    perceptual = perceptual_from_args(model, args)
    lpips = isinstance(perceptual, LPIPSVGG) and perceptual.calibrated
    perceptual_name = ("LPIPS-VGG" if lpips else f"{type(perceptual).__name__} substituted for LPIPS "
                       "(no LPIPS weights given)")
    weightings = {name: WEIGHTINGS[name] for name in args.weights.split(",")}
    num_labels = branch.config.num_labels
    resolution = model.config.resolution
    started = time.perf_counter()
    header = (f"{time.strftime('%Y-%m-%d %H:%M', time.gmtime())} UTC, {platform.machine()}, torch "
              f"{torch.__version__}, {torch.get_num_threads()} threads; model {args.model} "
              f"({model.weights_hash[:12]}); perceptual {perceptual_name}; {args.count} renders per style, "
              f"{args.steps} steps; weightings {weightings}")
    print(header, flush=True)
    results: list[dict[str, Any]] = []
    for style in STYLES:
        rows: dict[str, dict[str, Any]] = {key: {"psnr": [], "oracle": [], "branch": [], "seconds": []}
                                           for key in ["encoder", *weightings]}
        for seed in range(EVAL_SEED_BASE, EVAL_SEED_BASE + args.count):
            image = render_face(seed, size=resolution, style=style).image
            target = predict(oracle, image[None])[0]
            for key, row in rows.items():
                start = time.perf_counter()
                steps = 0 if key == "encoder" else args.steps
                result = embed_image(model.generator, encoder, image, steps=steps, perceptual=perceptual,
                                     weights=weightings.get(key))
                row["seconds"].append(time.perf_counter() - start)
                row["psnr"].append(result.psnr)
                reconstruction_map = predict(oracle, result.image[None])[0]
                row["oracle"].append(image_counts(reconstruction_map, target, num_labels))
                branch_map = segment(model.generator, branch, result.ws).labels[0].numpy()
                row["branch"].append(image_counts(branch_map, target, num_labels))
            print(f"  {style} {seed}: " + ", ".join(f"{k} {r['psnr'][-1]:.2f} dB" for k, r in rows.items()),
                  flush=True)
        results.extend({"style": style, **figures} for figures in summarise(rows, args.bootstrap))
    print(f"\ntotal {time.perf_counter() - started:.0f} s wall, {time.process_time():.0f} s CPU")
    print_table(results)
    if args.json:
        document = {"header": header, "model_weights_hash": model.weights_hash, "perceptual": perceptual_name,
                    "weightings": {name: vars(w) for name, w in weightings.items()}, "results": results,
                    "arguments": {k: str(v) for k, v in vars(args).items()}}
        args.json.write_text(json.dumps(document, indent=2))
        print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
