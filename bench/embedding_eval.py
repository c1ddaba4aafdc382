"""Embedding quality on procedural renders: PSNR and part accuracy, in-domain and out-of-domain.

For each style, ``--count`` held-out renders (seeds from ``EVAL_SEED_BASE``, disjoint from GAN,
oracle and encoder ranges) are embedded (encoder init + ``--steps`` of optimisation). Reported
per style, for the encoder alone (0 steps) and after optimisation:

* PSNR of the reconstruction vs the input render;
* branch mIoU: the branch's segmentation of the embedded latent vs the oracle's labels of the
  input image (what a user annotating an uploaded image gets);
* oracle mIoU: the oracle's labels of the reconstruction vs of the input (how well the
  reconstruction keeps the parts, independent of the branch);
* seconds per image.

Run: ``nice -n 10 .venv/bin/python bench/embedding_eval.py [--json out.json]``.
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

from editing_engine.checkpoints import load_generator
from editing_engine.domain import STYLES, render_face
from editing_engine.embedding import embed_image
from editing_engine.encoder import load_encoder
from editing_engine.losses import build_perceptual_distance
from editing_engine.metrics import intersections_unions
from editing_engine.models_path import default_model_path
from editing_engine.oracle import BUNDLED_ORACLE_DIR, load_oracle, predict
from editing_engine.segmentation import load_branch, segment

EVAL_SEED_BASE = 50_000_000


def pooled_miou(pairs: list[tuple[np.ndarray, np.ndarray]], num_labels: int) -> float:
    """mIoU pooled over all pixels of ``(prediction, target)`` pairs."""
    intersection = np.zeros(num_labels, dtype=np.int64)
    union = np.zeros(num_labels, dtype=np.int64)
    for pred, target in pairs:
        inter, uni = intersections_unions(pred, target, num_labels)
        intersection += inter
        union += uni
    present = union > 0
    return float(np.mean(intersection[present] / union[present]))


def main() -> None:
    """Embed renders of each style and print PSNR / mIoU for the encoder init and the optimised latent."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", type=Path, default=default_model_path())
    parser.add_argument("--encoder", type=Path, help="default: <model>/encoder")
    parser.add_argument("--branch", type=Path, help="default: <model>/branch")
    parser.add_argument("--oracle", type=Path, default=BUNDLED_ORACLE_DIR)
    parser.add_argument("--lpips-weights", type=Path)
    parser.add_argument("--count", type=int, default=20, help="renders per style")
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--threads", type=int, default=0)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    model = load_generator(args.model)
    encoder = load_encoder(args.encoder or args.model / "encoder", model.config)
    branch = load_branch(args.branch or args.model / "branch", model.config)
    oracle = load_oracle(args.oracle)
    perceptual = build_perceptual_distance(model, args.lpips_weights)
    num_labels = branch.config.num_labels
    resolution = model.config.resolution
    print(
        f"machine: {platform.node()} {platform.machine()}, torch {torch.__version__}, "
        f"{torch.get_num_threads()} threads, date {time.strftime('%Y-%m-%d')}"
    )
    print(
        f"model {args.model} ({model.weights_hash[:12]}), perceptual {type(perceptual).__name__}, "
        f"{args.count} renders per style, {args.steps} steps"
    )
    print(f"{'style':<14} {'latent':<10} {'PSNR dB':>8} {'branch mIoU':>12} {'oracle mIoU':>12} {'s/img':>6}")
    results = []
    for style in STYLES:
        rows: dict[str, dict[str, list]] = {"encoder": {}, "optimised": {}}
        for key in rows:
            rows[key] = {"psnr": [], "branch": [], "oracle": [], "seconds": []}
        for seed in range(EVAL_SEED_BASE, EVAL_SEED_BASE + args.count):
            image = render_face(seed, size=resolution, style=style).image
            target = predict(oracle, image[None])[0]
            for key, steps in (("encoder", 0), ("optimised", args.steps)):
                start = time.perf_counter()
                result = embed_image(model.generator, encoder, image, steps=steps, perceptual=perceptual)
                rows[key]["seconds"].append(time.perf_counter() - start)
                rows[key]["psnr"].append(result.psnr)
                rows[key]["branch"].append(
                    (segment(model.generator, branch, result.ws).labels[0].numpy(), target)
                )
                rows[key]["oracle"].append((predict(oracle, result.image[None])[0], target))
        for key, row in rows.items():
            figures = {
                "style": style,
                "latent": key,
                "psnr": float(np.mean(row["psnr"])),
                "branch_miou": pooled_miou(row["branch"], num_labels),
                "oracle_miou": pooled_miou(row["oracle"], num_labels),
                "seconds_per_image": float(np.mean(row["seconds"])),
            }
            results.append(figures)
            print(
                f"{style:<14} {key:<10} {figures['psnr']:>8.2f} {figures['branch_miou']:>12.3f} "
                f"{figures['oracle_miou']:>12.3f} {figures['seconds_per_image']:>6.1f}",
                flush=True,
            )
    if args.json:
        args.json.write_text(
            json.dumps(
                {"results": results, "arguments": {k: str(v) for k, v in vars(args).items()}}, indent=2
            )
        )
        print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
