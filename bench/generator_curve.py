"""Generator quality against training progress: FID (oracle features) and edit hit per kimg.

Each ``--model DIR`` is a generator export (a ``train-gan`` snapshot's ``model/`` copied aside, or a
bundled model); its kimg comes from ``config.json``'s metadata. FID is measured as
``partedit-engine evaluate-generator`` does (seeds ``0 .. n-1``, truncation 1, constant noise,
against ``n`` in-domain renders from ``REFERENCE_SEED_BASE``), with a standard error from
``--resamples`` bootstrap resamples of the generated set (the reference set is the same for every
point, so the intervals show the spread between points, not the reference's own noise). KID
comes with its std over 100 subsets. ``DIR=EDIT_JSON`` attaches the scratch hit of a
``bench/edit_quality.py --json`` run on that model (its 95 % bootstrap interval over images and its
request and distinct-image counts). ``--baseline DIR`` adds each point's FID minus the baseline
generator's, with a paired bootstrap (both generators' samples for the same resampled seeds, so
the shared part of their sampling noise cancels). ``--known KIMG:FID:N`` adds a point measured
earlier (on N images) whose weights are gone (no interval).

Run:
    nice -n 10 .venv/bin/python bench/generator_curve.py --threads 1 \\
        --model models/demo=runs/curve/hit_470.json --model runs/demo64_points/img000520000 ... \\
        --baseline models/demo --known 107:2.062:2000 \\
        --json docs/figures/generator_curve.json --png docs/figures/generator_curve.png
With ``--json`` pointing at an existing file, points already measured there (same weights hash and
``n``) are reused, so adding a point costs one generator's evaluation.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image, ImageDraw

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from editing_engine.checkpoints import load_generator
from editing_engine.evaluation import (
    REFERENCE_SEED_BASE,
    feature_distances,
    generate_images,
    reference_features,
)
from editing_engine.metrics import frechet_distance, oracle_features
from editing_engine.oracle import Oracle, load_oracle


def bootstrap_fids(generated: np.ndarray, reference: np.ndarray, resamples: int, seed: int = 0,
                   baseline: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray | None]:
    """FIDs of ``resamples`` resamples (with replacement) of the generated features, and with
    ``baseline`` (features of another generator for the same seeds) the same resamples' FIDs of
    the baseline, drawn with the same indices (a paired bootstrap of the difference)."""
    rng = np.random.default_rng(seed)
    values, base_values = [], []
    for _ in range(resamples):
        index = rng.integers(0, len(generated), len(generated))
        values.append(frechet_distance(generated[index], reference))
        if baseline is not None:
            base_values.append(frechet_distance(baseline[index], reference))
    return np.array(values), (np.array(base_values) if baseline is not None else None)


def bootstrap_fid_se(generated: np.ndarray, reference: np.ndarray, resamples: int, seed: int = 0) -> float:
    """Standard error of FID from resampling the generated features (with replacement)."""
    return float(np.std(bootstrap_fids(generated, reference, resamples, seed)[0], ddof=1))


def generated_features(model_dir: Path, oracle: Oracle, count: int) -> tuple[np.ndarray, dict[str, Any]]:
    """Oracle features of the model's samples for seeds ``0 .. count-1``, and the model's description."""
    model = load_generator(model_dir)
    metadata = json.loads((model_dir / "config.json").read_text()).get("metadata", {})
    feats = np.concatenate([
        oracle_features(oracle, generate_images(model.generator, range(start, min(start + 250, count))))
        for start in range(0, count, 250)
    ])
    return feats, {"model": str(model_dir), "weights_hash": model.weights_hash,
                   "images_seen": int(metadata["images_seen"]), "kimg": metadata["images_seen"] / 1000}


def measure_point(model_dir: Path, oracle: Oracle, reference: np.ndarray, resamples: int,
                  baseline: np.ndarray | None = None) -> dict[str, Any]:
    """FID (with bootstrap standard error) and KID of one generator export; with ``baseline``
    features, also its FID minus the baseline's with a paired-bootstrap standard error."""
    feats, point = generated_features(model_dir, oracle, len(reference))
    figures = feature_distances(feats, reference)
    values, base_values = bootstrap_fids(feats, reference, resamples, baseline=baseline)
    se = float(np.std(values, ddof=1))
    point.update({"n": len(reference), "fid": figures.fid, "fid_se": se,
                  "fid_ci95": [figures.fid - 1.96 * se, figures.fid + 1.96 * se],
                  "kid": figures.kid, "kid_std": figures.kid_std})
    if baseline is not None and base_values is not None:
        difference = figures.fid - frechet_distance(baseline, reference)
        diff_se = float(np.std(values - base_values, ddof=1))
        point["fid_minus_baseline"] = {"value": difference, "se": diff_se,
                                       "ci95": [difference - 1.96 * diff_se, difference + 1.96 * diff_se]}
    return point


def hit_figures(path: Path) -> dict[str, Any]:
    """The scratch row of an edit-quality JSON: hit, its interval and the sample it rests on."""
    document = json.loads(path.read_text())
    row = next(r for r in document["summary"] if r["mode"] == "scratch")
    return {"hit": row["hit"], "hit_ci95": row.get("ci95", {}).get("hit"), "requests": row["n"],
            "distinct_images": document.get("distinct_images", row.get("images")),
            "bf_edit": row.get("bf_edit"), "miou_out": row.get("miou_out"), "source": str(path)}


def _axes_range(values: list[float], floor_zero: bool) -> tuple[float, float]:
    low, high = (0.0 if floor_zero else min(values)), max(values)
    pad = (high - low) * 0.08 or 0.05
    return (low if floor_zero else low - pad), high + pad


def draw_panel(draw: ImageDraw.ImageDraw, box: tuple[int, int, int, int], title: str,
               series: list[tuple[float, float, float | None, float | None]], x_range: tuple[float, float],
               floor_zero: bool) -> None:
    """One scatter-and-line panel with vertical interval bars: ``series`` of (x, y, low, high)."""
    left, top, right, bottom = box
    ys = [v for x, y, lo, hi in series for v in (y, lo, hi) if v is not None]
    y_low, y_high = _axes_range(ys, floor_zero)

    def at(x: float, y: float) -> tuple[float, float]:
        return (left + (x - x_range[0]) / (x_range[1] - x_range[0]) * (right - left),
                bottom - (y - y_low) / (y_high - y_low) * (bottom - top))

    draw.rectangle(box, outline="black")
    draw.text((left, top - 16), title, fill="black")
    for i in range(5):
        tick = y_low + (y_high - y_low) * i / 4
        draw.line([(left - 4, at(x_range[0], tick)[1]), (left, at(x_range[0], tick)[1])], fill="black")
        draw.text((left - 44, at(x_range[0], tick)[1] - 6), f"{tick:.2f}", fill="black")
    step = 100 if x_range[1] - x_range[0] > 300 else 50
    for kimg in range(int(x_range[0] // step + 1) * step, int(x_range[1]) + 1, step):
        draw.line([(at(kimg, y_low)[0], bottom), (at(kimg, y_low)[0], bottom + 4)], fill="black")
        draw.text((at(kimg, y_low)[0] - 10, bottom + 6), f"{kimg}", fill="black")
    draw.text(((left + right) / 2 - 12, bottom + 20), "kimg", fill="black")
    points = sorted(series)
    draw.line([at(x, y) for x, y, _, _ in points], fill=(40, 90, 200), width=2)
    for x, y, lo, hi in points:
        if lo is not None and hi is not None:
            (px, p_lo), (_, p_hi) = at(x, lo), at(x, hi)
            draw.line([(px, p_lo), (px, p_hi)], fill=(200, 60, 40), width=2)
            draw.line([(px - 4, p_lo), (px + 4, p_lo)], fill=(200, 60, 40))
            draw.line([(px - 4, p_hi), (px + 4, p_hi)], fill=(200, 60, 40))
        cx, cy = at(x, y)
        draw.ellipse([cx - 3, cy - 3, cx + 3, cy + 3], fill=(40, 90, 200))


def draw_curve(points: list[dict[str, Any]], path: Path) -> None:
    """A PNG with FID and scratch hit against kimg (bars: 95 % intervals)."""
    image = Image.new("RGB", (900, 340), "white")
    draw = ImageDraw.Draw(image)
    kimgs = [p["kimg"] for p in points]
    x_range = (min(kimgs) - 20.0, max(kimgs) + 20.0)
    fid = [(p["kimg"], p["fid"], *(p.get("fid_ci95") or (None, None))) for p in points]
    draw_panel(draw, (60, 30, 430, 290), "FID on oracle features (lower is better)", fid, x_range, True)
    hits = [(p["kimg"], p["hit"], *(p.get("hit_ci95") or (None, None))) for p in points if "hit" in p]
    if hits:
        draw_panel(draw, (510, 30, 880, 290), "scratch edit hit (higher is better)", hits, x_range, False)
    image.save(path)


def parse_model_argument(text: str) -> tuple[Path, Path | None]:
    """``DIR`` or ``DIR=EDIT_JSON``."""
    model, _, hit = text.partition("=")
    return Path(model), (Path(hit) if hit else None)


def main() -> None:
    """Measure every ``--model``, merge with ``--known`` points, write the JSON and the plot."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", action="append", default=[], help="DIR or DIR=EDIT_QUALITY_JSON")
    parser.add_argument("--known", action="append", default=[], help="KIMG:FID:N of a point without weights")
    parser.add_argument("--oracle", type=Path, default=Path("models/oracle"))
    parser.add_argument("--n", type=int, default=2000, help="generated and reference images per point")
    parser.add_argument("--resamples", type=int, default=100, help="bootstrap resamples for FID's error")
    parser.add_argument("--baseline", type=Path, help="model whose FID every point is compared with (paired)")
    parser.add_argument("--threads", type=int, default=0)
    parser.add_argument("--json", type=Path, required=True)
    parser.add_argument("--png", type=Path)
    parser.add_argument("--plot-from", type=float, default=0.0, help="plot only points from this kimg on")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    previous = json.loads(args.json.read_text()).get("points", []) if args.json.exists() else []
    baseline_hash = load_generator(args.baseline).weights_hash if args.baseline else None
    reusable = {(p["weights_hash"], p["n"]): p for p in previous
                if "weights_hash" in p and p.get("baseline_hash") == baseline_hash}
    oracle = load_oracle(args.oracle)
    reference: np.ndarray | None = None
    baseline: np.ndarray | None = None
    points = []
    for text in args.model:
        model_dir, hit_json = parse_model_argument(text)
        model = load_generator(model_dir)
        point = reusable.get((model.weights_hash, args.n))
        if point is None:
            if reference is None:
                reference = reference_features(oracle, args.n, model.config.resolution, REFERENCE_SEED_BASE)
            if args.baseline and baseline is None:
                baseline = generated_features(args.baseline, oracle, args.n)[0]
            point = measure_point(model_dir, oracle, reference, args.resamples, baseline)
            point["baseline_hash"] = baseline_hash
        point = {k: v for k, v in point.items() if not k.startswith("hit") and k not in
                 ("requests", "distinct_images", "bf_edit", "miou_out", "source")}
        if hit_json is not None:
            point.update(hit_figures(hit_json))
        versus = point.get("fid_minus_baseline")
        print(f"{point['kimg']:8.1f} kimg  FID {point['fid']:.3f} ± {1.96 * point.get('fid_se', 0):.3f}"
              + (f"  vs baseline {versus['value']:+.3f} ± {1.96 * versus['se']:.3f}" if versus else "")
              + (f"  hit {point['hit']:.3f} {point['hit_ci95']}" if "hit" in point else ""), flush=True)
        points.append(point)
    for text in args.known:
        kimg, fid, count = text.split(":")
        points.append({"kimg": float(kimg), "fid": float(fid), "n": int(count),
                       "note": "measured earlier; weights not kept"})
    points.sort(key=lambda p: p["kimg"])
    load = Path("/proc/loadavg").read_text().split()[0]
    document = {"measured": f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC, torch {torch.__version__}, "
                            f"{torch.get_num_threads()} threads, load {load}",
                "reference": {"style": "in_domain", "seed_base": REFERENCE_SEED_BASE, "n": args.n},
                "fid_interval": f"point ± 1.96 x bootstrap SE ({args.resamples} resamples of the "
                                "generated set)",
                "baseline": str(args.baseline) if args.baseline else None,
                "fid_minus_baseline": "FID minus the baseline's on the same seeds, ± 1.96 x SE of a paired "
                                      "bootstrap (the same resampled seeds for both generators)",
                "hit_interval": "95 % bootstrap over images (bench/edit_quality.py)",
                "points": points}
    args.json.write_text(json.dumps(document, indent=2))
    if args.png:
        draw_curve([p for p in points if p["kimg"] >= args.plot_from], args.png)


if __name__ == "__main__":
    main()
