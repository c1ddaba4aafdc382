"""Edit-quality benchmark on the demo domain: semantic correctness, preservation and time per edit.

Edit requests are made by editing the oracle's label map of held-out images programmatically
(the oracle is the ground truth; the branch never sees these images):

    enlarge_eyes / shrink_eyes, enlarge_nose / shrink_nose, enlarge_pupils   grow/erode a part by 1 px
    widen_mouth, longer_hair, raise_brows                                     shape changes
    smile            mouth corners bent up (a curvature warp of lips/mouth/teeth)
    smile_params     re-render the face's parameters with a smiling mouth (procedural images only)
    remove_nostrils, remove_teeth, remove_brows                               remove a small part

"remove_*" edits are what a user does with the bucket fill; all others are brush edits (the
brush footprint is the changed pixels). Image kinds: generator samples (held-out seeds) and,
with ``--encoder``, in-domain and out-of-domain procedural renders embedded into W+.

Modes (all through the same engine code):

    none          the unedited image (reference floor)
    scratch       optimize_edit with PartEdit's settings (label-derived region, 30 steps)
    release       the release recipe on the release's scales (brush-only region, logit averaging,
                  150 x perceptual + 75 x MSE on masked [0, 1] images averaged over all pixels, 1 x CE,
                  29 steps); the perceptual term is LPIPS-VGG with ``--lpips-weights`` (and its heads),
                  otherwise the model's discriminator features stand in for it (printed as such)
    release-pixel the same with the perceptual term left out (what is left of the release without LPIPS)
    transfer      a scratch vector of another image of the same kind applied unchanged (scale 1); the
                  first ``--transfer-sources`` requests of each kind are the sources, taken in turn
    transfer+10   transfer, then 10 refinement steps;  transfer+30: 30 steps

Requests are spread over the images (each edit kind starts at a different image), so most
requests are on distinct images; the JSON records ``distinct_images``.

What the engine is given is what a user of the editor sees and paints on: the *branch's*
segmentation of the image, with the request's changed pixels set to their requested labels
(so the engine never gets the oracle's map, only the user's intent). Scratch edits use the
taxonomy's context labels (background, skin) unless ``--context-labels`` says otherwise.

Metrics, all on one evaluation region per request (the same for every mode): the changed pixels
plus the pixels of the edited parts (involved labels other than background and skin) in either
map, dilated 3 px. Inside it: oracle IoU between requested and obtained maps over the involved
labels, and ``hit``, the share of changed pixels that got the requested label. The boundary
F-score (1 px tolerance) of the edited parts compares the shape the oracle sees with the requested
shape (the ``none`` row is the unedited image's score). Outside the region: PSNR of the mean MSE
over requests (and the median PSNR: an unchanged result has MSE 0, which would dominate a mean of
PSNRs), SSIM (a distance no optimiser sees), the perceptual distance the optimiser itself
minimises, and the oracle mIoU against the original map. Time per edit is the engine call's wall
time; ``unchanged`` is the share of results identical to the original image. Brackets: 95 %
bootstrap intervals, resampling the images (each with all its requests).

The judge is ``--oracle``. A branch trained from the oracle's own maps is judged by the oracle
that taught it; ``--annotator-oracle DIR`` (without ``--branch``) trains the branch here on a
second, independently trained oracle's maps instead, so the judge never labelled its training data.

Run (after the demo model, branch and oracle exist):
    nice -n 10 .venv/bin/python bench/edit_quality.py --branch BRANCH_DIR --encoder ENCODER_DIR
Smoke test with whatever exists: ``--quick`` (few requests and steps; trains a small branch on the
oracle's labels when ``--branch`` is missing; a random oracle when none exists: figures meaningless).
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from editing_engine.checkpoints import LoadedModel, load_generator
from editing_engine.domain import (
    CONTEXT_LABELS,
    LABEL_COLOURS,
    LABEL_INDEX,
    FaceParams,
    render_face,
    render_params,
)
from editing_engine.editing import (
    DEFAULT_EDIT,
    DEFAULT_REFINE,
    RELEASE_RECIPE,
    EditConfig,
    optimize_edit,
    refine_edit,
    render_and_segment,
)
from editing_engine.generator import Generator, seed_to_z, to_uint8_image
from editing_engine.losses import LPIPSVGG, PerceptualDistance
from editing_engine.metrics import boundary_f_score, mean_iou, ssim_map
from editing_engine.oracle import Oracle, OracleConfig, load_oracle, predict
from editing_engine.perceptual_options import add_lpips_arguments, perceptual_from_args
from editing_engine.regions import dilate, edit_region, involved_labels
from editing_engine.segmentation import BranchConfig, SegmentationBranch, load_branch, train_branch
from editing_engine.taxonomy import model_taxonomy
from editing_engine.vectors import apply_vectors

L = LABEL_INDEX
HOST_LABELS = tuple(L[name] for name in CONTEXT_LABELS)
HELD_OUT_SEED_BASE = {"sample": 50_000_000, "embedded": 51_000_000, "ood": 52_000_000}
MODES = ("none", "scratch", "release", "release-pixel", "transfer", "transfer+10", "transfer+30")


# --- programmatic edits of a label map ---------------------------------------------------------


def _group(labels: np.ndarray, names: tuple[str, ...]) -> np.ndarray:
    return np.isin(labels, [L[n] for n in names])


def _grow(mask: np.ndarray, radius: int) -> np.ndarray:
    return dilate(torch.from_numpy(mask), radius).numpy()


def _shrink(mask: np.ndarray, radius: int) -> np.ndarray:
    return ~_grow(~mask, radius)


def _shift(mask: np.ndarray, dy: int, dx: int) -> np.ndarray:
    out = np.zeros_like(mask)
    h, w = mask.shape
    out[max(dy, 0):h + min(dy, 0), max(dx, 0):w + min(dx, 0)] = \
        mask[max(-dy, 0):h + min(-dy, 0), max(-dx, 0):w + min(-dx, 0)]
    return out


def enlarge(names: tuple[str, ...], new: str, radius: int = 1, into: tuple[str, ...] = ("skin",)
            ) -> Callable[[np.ndarray], np.ndarray]:
    """Grow a part group by ``radius`` px into ``into`` pixels, which take label ``new``."""
    def edit(labels: np.ndarray) -> np.ndarray:
        out = labels.copy()
        out[_grow(_group(labels, names), radius) & _group(labels, into)] = L[new]
        return out
    return edit


def shrink(names: tuple[str, ...], radius: int = 1, fill: str = "skin") -> Callable[[np.ndarray], np.ndarray]:
    """Erode a part group by ``radius`` px; the freed pixels take label ``fill``."""
    def edit(labels: np.ndarray) -> np.ndarray:
        group = _group(labels, names)
        out = labels.copy()
        out[group & ~_shrink(group, radius)] = L[fill]
        return out
    return edit


def widen(names: tuple[str, ...], new: str, pixels: int = 2) -> Callable[[np.ndarray], np.ndarray]:
    """Stretch a part group horizontally by ``pixels`` on each side into skin."""
    def edit(labels: np.ndarray) -> np.ndarray:
        group = _group(labels, names)
        grown = group.copy()
        for dx in range(1, pixels + 1):
            grown |= _shift(group, 0, dx) | _shift(group, 0, -dx)
        out = labels.copy()
        out[grown & ~group & (labels == L["skin"])] = L[new]
        return out
    return edit


def move(names: tuple[str, ...], dy: int, fill: str = "skin") -> Callable[[np.ndarray], np.ndarray]:
    """Move a part group vertically by ``dy`` px (onto skin only); vacated pixels take ``fill``."""
    def edit(labels: np.ndarray) -> np.ndarray:
        group = _group(labels, names)
        out = labels.copy()
        out[group] = L[fill]
        for label in np.unique(labels[group]):
            target = _shift(labels == label, dy, 0) & ((out == L[fill]) | group)
            out[target] = label
        return out
    return edit


def longer_hair(pixels: int = 3) -> Callable[[np.ndarray], np.ndarray]:
    """Extend the hair downwards by ``pixels`` into the background."""
    def edit(labels: np.ndarray) -> np.ndarray:
        hair = labels == L["hair"]
        grown = hair.copy()
        for dy in range(1, pixels + 1):
            grown |= _shift(hair, dy, 0)
        out = labels.copy()
        out[grown & (labels == L["background"])] = L["hair"]
        return out
    return edit


def smile(lift: float = 2.0) -> Callable[[np.ndarray], np.ndarray]:
    """Bend the mouth group's corners up by ``lift`` px (quadratic in the distance from its centre)."""
    def edit(labels: np.ndarray) -> np.ndarray:
        group = _group(labels, ("lips", "mouth", "teeth"))
        ys, xs = np.nonzero(group)
        if len(xs) == 0:
            return labels.copy()
        centre, half = (xs.min() + xs.max()) / 2, max((xs.max() - xs.min()) / 2, 1)
        out = labels.copy()
        out[group] = L["skin"]
        # The lift depends on the column only, so no two pixels land on the same place.
        for y, x in zip(ys, xs, strict=True):
            new_y = y - round(lift * ((x - centre) / half) ** 2)
            if 0 <= new_y < labels.shape[0] and out[new_y, x] in (L["skin"], L["lips"], L["mouth"]):
                out[new_y, x] = labels[y, x]
        return out
    return edit


def relabel(source: str, target: str) -> Callable[[np.ndarray], np.ndarray]:
    """Remove a part: every ``source`` pixel becomes ``target``."""
    def edit(labels: np.ndarray) -> np.ndarray:
        out = labels.copy()
        out[labels == L[source]] = L[target]
        return out
    return edit


EDITS: dict[str, tuple[Callable[[np.ndarray], np.ndarray], str]] = {
    "enlarge_eyes": (enlarge(("eyes", "irises", "pupils"), "eyes"), "brush"),
    "shrink_eyes": (shrink(("eyes", "irises", "pupils")), "brush"),
    "enlarge_nose": (enlarge(("nose", "nostrils"), "nose"), "brush"),
    "shrink_nose": (shrink(("nose", "nostrils")), "brush"),
    "enlarge_pupils": (enlarge(("pupils",), "pupils", into=("irises",)), "brush"),
    "widen_mouth": (widen(("lips", "mouth", "teeth"), "lips"), "brush"),
    "longer_hair": (longer_hair(), "brush"),
    "raise_brows": (move(("brows",), -2), "brush"),
    "smile": (smile(), "brush"),
    "remove_nostrils": (relabel("nostrils", "nose"), "fill"),
    "remove_teeth": (relabel("teeth", "mouth"), "fill"),
    "remove_brows": (relabel("brows", "skin"), "fill"),
}
MIN_CHANGED_PIXELS = 3


def smile_by_params(
    params: FaceParams, size: int, style: str, oracle_labels: np.ndarray
) -> np.ndarray | None:
    """The oracle map with the mouth replaced by a re-render of the face with a smiling mouth."""
    if params.mouth_curvature > 0.3:
        return None
    before = render_params(params, size, style).labels
    after = render_params(replace(params, mouth_curvature=1.0), size, style).labels
    mouth = _group(before, ("lips", "mouth", "teeth")) | _group(after, ("lips", "mouth", "teeth"))
    changed = (before != after) & mouth
    out = oracle_labels.copy()
    out[changed] = after[changed]
    return out


# --- images and requests ------------------------------------------------------------------------


@dataclass
class HeldOutImage:
    """A held-out image: its kind, latent, render and oracle map (and parameters when procedural)."""

    kind: str
    index: int
    ws: torch.Tensor
    image: torch.Tensor
    oracle_labels: np.ndarray
    branch_labels: np.ndarray
    params: FaceParams | None = None
    style: str = "in_domain"


@dataclass
class Request:
    """One edit request: the image, the edit kind, requested map, tool, and evaluation region."""

    image: HeldOutImage
    kind: str
    tool: str
    requested: np.ndarray
    changed: np.ndarray
    involved: list[int]
    eval_region: np.ndarray
    shown: np.ndarray
    painted: np.ndarray
    results: dict[str, dict[str, float]] = field(default_factory=dict)
    scratch: tuple[torch.Tensor, torch.Tensor] | None = None
    source: int | None = None


def make_request(image: HeldOutImage, kind: str, requested: np.ndarray, tool: str) -> Request | None:
    """A request when the edit changes enough pixels, with its evaluation region.

    ``shown`` is the branch's map of the image; ``painted`` is it with the changed pixels set
    to their requested labels: the pair the engine is given.
    """
    changed = requested != image.oracle_labels
    if changed.sum() < MIN_CHANGED_PIXELS:
        return None
    original = torch.from_numpy(image.oracle_labels.astype(np.int64))
    edited = torch.from_numpy(requested.astype(np.int64))
    region = edit_region(original, edited, dilation=3, context_labels=HOST_LABELS).numpy()
    painted = image.branch_labels.copy()
    painted[changed] = requested[changed]
    if not (painted != image.branch_labels).any():
        return None
    return Request(image, kind, tool, requested, changed, involved_labels(original, edited), region,
                   image.branch_labels, painted)


def build_requests(images: list[HeldOutImage], per_kind: int, kinds: list[str], size: int) -> list[Request]:
    """Up to ``per_kind`` requests of each edit kind, spread over the images.

    Kind number k scans the images cyclically from image ``k * per_kind``, so the kinds use
    different images (as many distinct images as requests while there are enough) instead of
    all starting at the first one.
    """
    requests: list[Request] = []
    for number, kind in enumerate(kinds):
        count = 0
        start = (number * per_kind) % len(images)
        for image in images[start:] + images[:start]:
            if count >= per_kind:
                break
            if kind == "smile_params":
                if image.params is None:
                    continue
                requested = smile_by_params(image.params, size, image.style, image.oracle_labels)
                request = None if requested is None else make_request(image, kind, requested, "brush")
            else:
                edit, tool = EDITS[kind]
                request = make_request(image, kind, edit(image.oracle_labels), tool)
            if request is not None:
                requests.append(request)
                count += 1
    return requests


def held_out_images(
    model: LoadedModel, oracle: Oracle, branch: SegmentationBranch, encoder_path: Path | None, count: int,
    embed_steps: int, perceptual: PerceptualDistance | None, psi: float,
) -> list[HeldOutImage]:
    """``count`` images: samples, plus embedded in-domain and out-of-domain renders with an encoder.

    Each comes with the oracle's map (ground truth) and the branch's (what the editor shows).
    """
    generator = model.generator
    kinds = ["sample"] if encoder_path is None else ["sample", "embedded", "ood"]
    encoder = None
    if encoder_path is not None:
        from editing_engine.encoder import load_encoder

        encoder = load_encoder(encoder_path, model.config)
    images = []
    for index in range(count):
        kind = kinds[index % len(kinds)]
        seed = HELD_OUT_SEED_BASE[kind] + index
        params, style = None, "in_domain"
        if kind == "sample":
            with torch.no_grad():
                ws = generator.mapping(seed_to_z(seed, model.config.z_dim), truncation_psi=psi)
        else:
            from editing_engine.embedding import embed_image

            style = "in_domain" if kind == "embedded" else "out_of_domain"
            face = render_face(seed, model.config.resolution, style)
            params = face.params
            ws = embed_image(generator, encoder, face.image, steps=embed_steps, perceptual=perceptual).ws
        image, branch_labels = render_and_segment(generator, branch, ws)
        oracle_labels = predict(oracle, image[None])[0]
        images.append(HeldOutImage(kind, index, ws.detach(), image, oracle_labels, branch_labels.numpy(),
                                   params, style))
    return images


# --- measurement ---------------------------------------------------------------------------------


@dataclass
class Context:
    """Everything the modes share."""

    generator: Generator
    branch: SegmentationBranch
    oracle: Oracle
    perceptual: PerceptualDistance | None
    encoder: torch.nn.Module | None
    num_labels: int
    scratch: EditConfig
    release: EditConfig
    release_pixel: EditConfig
    refine: EditConfig


def evaluate(context: Context, request: Request, image: torch.Tensor, seconds: float) -> dict[str, float]:
    """Oracle IoU, hit rate and boundary F inside; MSE/PSNR, SSIM, perceptual and oracle mIoU outside."""
    obtained = predict(context.oracle, image[None])[0]
    inside = request.eval_region
    outside = ~inside
    original = request.image.image
    weight = torch.from_numpy(outside).float()[None, None]
    mse = float(((image.clamp(-1, 1) - original.clamp(-1, 1)).square() * weight).sum()
                / (weight.sum() * 3).clamp(min=1))
    perceptual = math.nan
    if context.perceptual is not None:
        with torch.no_grad():
            perceptual = float(context.perceptual(image[None], original[None], mask=weight).mean())
    ssim = ssim_map(image[None], original[None])[0][torch.from_numpy(outside)]
    edited_parts = [label for label in request.involved if label not in HOST_LABELS]
    return {
        "iou_in": mean_iou(obtained, request.requested, context.num_labels, inside, request.involved),
        "hit": float((obtained[request.changed] == request.requested[request.changed]).mean()),
        "bf_edit": boundary_f_score(obtained, request.requested, edited_parts),
        "mse_out": mse,
        "psnr_out": 10 * math.log10(4.0 / max(mse, 1e-10)),
        "ssim_out": float(ssim.mean()) if ssim.numel() else math.nan,
        "perceptual_out": perceptual,
        "miou_out": mean_iou(obtained, request.image.oracle_labels, context.num_labels, outside),
        "seconds": seconds,
        "unchanged": float(bool(torch.equal(image, original))),
    }


def run_scratch(
    context: Context, request: Request, config: EditConfig
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, list[int], float]:
    """Optimise the painted map from scratch; returns (image, branch map, delta, involved labels, seconds)."""
    painted = request.painted != request.shown
    brush = torch.from_numpy(painted if request.tool == "brush" else np.zeros_like(painted))
    result = optimize_edit(context.generator, context.branch, request.image.ws,
                           torch.from_numpy(request.painted.astype(np.int64)),
                           perceptual=context.perceptual, encoder=context.encoder, config=config,
                           original_labels=torch.from_numpy(request.shown.astype(np.int64)), brush_mask=brush)
    return result.image, result.segmentation, result.delta, result.involved_labels, result.seconds


def run_transfer(context: Context, request: Request, delta: torch.Tensor, labels: list[int],
                 refine_steps: int) -> tuple[torch.Tensor, float]:
    """Apply a vector from another image (scale 1), optionally refined; returns (image, seconds)."""
    start = time.perf_counter()
    ws = request.image.ws
    edited = apply_vectors(ws, [delta], [1.0])
    if refine_steps:
        config = replace(context.refine, steps=refine_steps)
        try:
            edited = refine_edit(context.generator, context.branch, ws, edited, labels,
                                 perceptual=context.perceptual, config=config).ws_result
        except ValueError as error:
            print(f"  refinement skipped ({error})", flush=True)
    with torch.no_grad():
        image = context.generator.synthesis(edited, noise_mode="const")[0]
    return image, time.perf_counter() - start


def measure(context: Context, requests: list[Request], modes: list[str], refine: dict[str, int],
            sources_per_kind: int) -> None:
    """Run every mode on every request, storing the metrics in ``request.results``.

    The first ``sources_per_kind`` requests of a kind are its transfer sources (their scratch
    vectors); every other request of the kind gets the next source in turn (one on another image).
    """
    sources: dict[str, list[tuple[torch.Tensor, list[int], int, int]]] = {}
    turns: dict[str, int] = {}
    transfers = [m for m in modes if m.startswith("transfer")]
    for number, request in enumerate(requests):
        label = f"[{number + 1}/{len(requests)}] {request.kind} on {request.image.kind} {request.image.index}"
        if "none" in modes:
            request.results["none"] = evaluate(context, request, request.image.image, 0.0)
        kind_sources = sources.setdefault(request.kind, [])
        is_source = bool(transfers) and len(kind_sources) < sources_per_kind
        if "scratch" in modes or is_source:
            image, segmentation, delta, involved, seconds = run_scratch(context, request, context.scratch)
            request.results["scratch"] = evaluate(context, request, image, seconds)
            request.scratch = (image, segmentation)
            if is_source:
                kind_sources.append((delta, involved, number, request.image.index))
        for mode, config in (("release", context.release), ("release-pixel", context.release_pixel)):
            if mode in modes:
                image, _, _, _, seconds = run_scratch(context, request, config)
                request.results[mode] = evaluate(context, request, image, seconds)
        others = [s for s in kind_sources if s[3] != request.image.index]
        if transfers and not is_source and others:
            turn = turns.get(request.kind, 0)
            turns[request.kind] = turn + 1
            delta, involved, request.source, _ = others[turn % len(others)]
            for mode in transfers:
                image, seconds = run_transfer(context, request, delta, involved, refine[mode])
                request.results[mode] = evaluate(context, request, image, seconds)
        summary = ", ".join(f"{m} hit {r['hit']:.2f} psnr {r['psnr_out']:.1f}"
                            for m, r in request.results.items())
        print(f"{label}: {summary}", flush=True)


METRICS = ("iou_in", "hit", "bf_edit", "mse_out", "psnr_out", "ssim_out", "perceptual_out", "miou_out",
           "seconds", "unchanged")
CI_METRICS = ("hit", "bf_edit", "psnr_of_mean_mse", "ssim_out", "miou_out")


def aggregate(results: list[dict[str, float]]) -> dict[str, float]:
    """Means of every metric (NaNs ignored), PSNR of the mean outside MSE and the median PSNR."""
    row: dict[str, float] = {}
    for metric in METRICS:
        values = [x[metric] for x in results if not math.isnan(x[metric])]
        row[metric] = float(np.mean(values)) if values else math.nan
    row["psnr_of_mean_mse"] = 10 * math.log10(4.0 / max(row["mse_out"], 1e-10))
    row["psnr_median"] = float(np.median([x["psnr_out"] for x in results]))
    return row


def bootstrap(by_image: dict[int, list[dict[str, float]]], resamples: int, seed: int = 0
              ) -> dict[str, list[float]]:
    """95 % percentile intervals of ``CI_METRICS``, resampling images (each with all its requests)."""
    rng = np.random.default_rng(seed)
    keys = list(by_image)
    draws: dict[str, list[float]] = {metric: [] for metric in CI_METRICS}
    for _ in range(resamples):
        chosen = rng.choice(len(keys), size=len(keys), replace=True)
        row = aggregate([result for index in chosen for result in by_image[keys[index]]])
        for metric in CI_METRICS:
            if not math.isnan(row[metric]):
                draws[metric].append(row[metric])
    return {metric: [float(np.percentile(values, 2.5)), float(np.percentile(values, 97.5))]
            for metric, values in draws.items() if values}


def summarise(requests: list[Request], modes: list[str], resamples: int = 0) -> list[dict[str, Any]]:
    """Per mode: request and image counts, the aggregate metrics and (``resamples`` > 0) bootstrap CIs."""
    rows: list[dict[str, Any]] = []
    for mode in modes:
        by_image: dict[int, list[dict[str, float]]] = {}
        for request in requests:
            if mode in request.results:
                by_image.setdefault(request.image.index, []).append(request.results[mode])
        results = [result for group in by_image.values() for result in group]
        if not results:
            continue
        row: dict[str, Any] = {"mode": mode, "n": len(results), "images": len(by_image), **aggregate(results)}
        if resamples:
            row["ci95"] = bootstrap(by_image, resamples)
        rows.append(row)
    return rows


def print_table(rows: list[dict[str, Any]]) -> None:
    """A markdown table of the summary (95 % bootstrap intervals over images in brackets)."""
    def cell(row: dict[str, Any], metric: str, digits: int) -> str:
        ci = row.get("ci95", {}).get(metric)
        interval = f" [{ci[0]:.{digits}f}, {ci[1]:.{digits}f}]" if ci else ""
        return f"{row[metric]:.{digits}f}{interval}"

    print("| mode | n (images) | hit | boundary F of edited parts | oracle IoU in region | "
          "PSNR out, of mean MSE (median) | SSIM out | perceptual out (optimised) | oracle mIoU out | "
          "s/edit | unchanged |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for row in rows:
        cells = [f"{row['mode']}", f"{row['n']} ({row['images']})", cell(row, "hit", 3),
                 cell(row, "bf_edit", 3),
                 f"{row['iou_in']:.3f}", f"{cell(row, 'psnr_of_mean_mse', 2)} ({row['psnr_median']:.2f})",
                 cell(row, "ssim_out", 4), f"{row['perceptual_out']:.4f}", cell(row, "miou_out", 3),
                 f"{row['seconds']:.2f}", f"{row['unchanged']:.0%}"]
        print("| " + " | ".join(cells) + " |")


# --- setup ---------------------------------------------------------------------------------------


def write_examples(context: Context, requests: list[Request], path: Path, scale: int = 3) -> None:
    """A PNG grid, one row per edit kind (its first request): image, oracle map, requested map,
    scratch result, the oracle's map of the result, the branch's map of the result."""
    palette = np.array(LABEL_COLOURS, dtype=np.uint8)
    rows, kinds = [], set()
    for request in requests:
        if request.scratch is None or request.kind in kinds:
            continue
        kinds.add(request.kind)
        image, segmentation = request.scratch
        obtained = predict(context.oracle, image[None])[0]
        rows.append(np.concatenate([
            to_uint8_image(request.image.image), palette[request.image.oracle_labels],
            palette[request.requested], to_uint8_image(image), palette[obtained],
            palette[segmentation.numpy()],
        ], axis=1))
    grid = np.concatenate(rows, axis=0)
    size = (grid.shape[1] * scale, grid.shape[0] * scale)
    Image.fromarray(grid).resize(size, Image.Resampling.NEAREST).save(path)


def obtain_oracle(path: Path, quick: bool, num_labels: int) -> Oracle:
    """The oracle at ``path``; with ``--quick`` and no oracle, a random one (smoke test only)."""
    if (path / "config.json").exists():
        return load_oracle(path)
    if not quick:
        raise SystemExit(f"no oracle at {path}; train it (partedit-engine train-oracle) or use --quick")
    print(f"WARNING: no oracle at {path}; using a RANDOM oracle: the figures are meaningless", flush=True)
    torch.manual_seed(0)
    return Oracle(OracleConfig(num_labels=num_labels)).eval().requires_grad_(False)


def obtain_branch(path: Path | None, model: LoadedModel, annotator: Oracle, steps: int) -> SegmentationBranch:
    """The branch at ``path``, or one trained here on the annotator oracle's maps of 16 samples."""
    if path is not None:
        return load_branch(path, model.config)
    print(f"no --branch: training one on 16 oracle-labelled samples ({steps} steps)", flush=True)
    annotations = []
    for seed in range(16):
        with torch.no_grad():
            ws = model.generator.mapping(seed_to_z(seed, model.config.z_dim), truncation_psi=0.7)
            labels = predict(annotator, model.generator.synthesis(ws, noise_mode="const"))[0]
        annotations.append((ws, labels))
    config = BranchConfig.for_generator(model.config, num_labels=len(LABEL_INDEX))
    return train_branch(model.generator, config, annotations, steps=steps).requires_grad_(False)


def main() -> None:
    """Build the requests, run the modes, print the summary table (and write JSON with ``--json``)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=Path("models/demo"))
    parser.add_argument("--branch", type=Path)
    parser.add_argument("--oracle", type=Path, default=Path("models/oracle"), help="the judge")
    parser.add_argument("--annotator-oracle", type=Path,
                        help="without --branch: the branch trained here learns this oracle's maps "
                             "(default: the judge's)")
    parser.add_argument("--encoder", type=Path, help="enables embedded in-domain and out-of-domain images")
    add_lpips_arguments(parser)
    parser.add_argument("--images", type=int, default=60, help="held-out images to draw requests from")
    parser.add_argument("--per-kind", type=int, default=5, help="requests per edit kind")
    parser.add_argument("--transfer-sources", type=int, default=2, help="vector sources per edit kind")
    parser.add_argument("--bootstrap", type=int, default=1000, help="bootstrap resamples of the images")
    parser.add_argument("--kinds", default=",".join([*EDITS, "smile_params"]))
    parser.add_argument("--modes", default=",".join(MODES))
    parser.add_argument("--steps", type=int, default=DEFAULT_EDIT.steps, help="scratch optimisation steps")
    parser.add_argument("--lr", type=float, default=DEFAULT_EDIT.learning_rate, help="scratch and refinement")
    parser.add_argument("--release-steps", type=int, default=RELEASE_RECIPE.steps)
    parser.add_argument("--refine", default="10,30", help="refinement steps of transfer+10 and transfer+30")
    parser.add_argument("--context-labels", type=int, nargs="*",
                        help="context labels of the scratch and refinement regions (default: the model "
                             "taxonomy's; the option alone means none, the literal region of the issue)")
    parser.add_argument("--ce-weight", type=float, default=DEFAULT_EDIT.ce_weight)
    parser.add_argument("--perceptual-weight", type=float, default=DEFAULT_EDIT.perceptual_weight)
    parser.add_argument("--mse-weight", type=float, default=DEFAULT_EDIT.mse_weight)
    parser.add_argument("--no-balance", action="store_true", help="plain CE mean over the region")
    parser.add_argument("--embed-steps", type=int, default=100)
    parser.add_argument("--psi", type=float, default=0.7)
    parser.add_argument("--branch-steps", type=int, default=1500, help="when training a branch here")
    parser.add_argument("--threads", type=int, default=0)
    parser.add_argument("--quick", action="store_true", help="smoke test: 2 requests per kind, few steps")
    parser.add_argument("--json", type=Path)
    parser.add_argument("--examples", type=Path, help="write a PNG grid of one scratch edit per kind here")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    refine_steps = [int(s) for s in args.refine.split(",")]
    if args.quick:
        args.images, args.per_kind, args.steps, args.release_steps = 8, 2, 4, 4
        args.embed_steps, args.branch_steps, refine_steps = 5, 60, [2, 4]
    torch.manual_seed(0)
    started = time.perf_counter()
    model = load_generator(args.model)
    oracle = obtain_oracle(args.oracle, args.quick, len(LABEL_INDEX))
    if args.branch is not None and args.annotator_oracle is not None:
        raise SystemExit("--annotator-oracle only applies when the branch is trained here (no --branch)")
    annotator = oracle if args.annotator_oracle is None else load_oracle(args.annotator_oracle)
    branch = obtain_branch(args.branch, model, annotator, args.branch_steps)
    branch_source = (str(args.branch) if args.branch is not None else
                     f"trained here ({args.branch_steps} steps) on the maps of "
                     f"{args.annotator_oracle or args.oracle}")
    perceptual = perceptual_from_args(model, args)
    lpips = isinstance(perceptual, LPIPSVGG) and perceptual.calibrated
    release_perceptual = ("LPIPS-VGG" if lpips else
                          f"{type(perceptual).__name__} substituted for LPIPS (no LPIPS weights given)"
                          if perceptual is not None else "none (no perceptual distance)")
    encoder = None
    if args.encoder is not None:
        from editing_engine.encoder import load_encoder

        encoder = load_encoder(args.encoder, model.config)
    context_labels = tuple(model_taxonomy(args.model, len(LABEL_INDEX)).context
                           if args.context_labels is None else args.context_labels)
    context = Context(
        generator=model.generator, branch=branch, oracle=oracle, perceptual=perceptual, encoder=encoder,
        num_labels=len(LABEL_INDEX),
        scratch=replace(DEFAULT_EDIT, steps=args.steps, learning_rate=args.lr,
                        context_labels=context_labels, perceptual_weight=args.perceptual_weight,
                        mse_weight=args.mse_weight, ce_weight=args.ce_weight,
                        balance_changed=not args.no_balance),
        release=replace(RELEASE_RECIPE, steps=args.release_steps),
        release_pixel=replace(RELEASE_RECIPE, steps=args.release_steps, perceptual_weight=0.0),
        refine=replace(DEFAULT_REFINE, learning_rate=args.lr, context_labels=context_labels,
                       ce_weight=args.ce_weight, balance_changed=not args.no_balance),
    )
    images = held_out_images(model, oracle, branch, args.encoder, args.images, args.embed_steps, perceptual,
                             args.psi)
    kinds = args.kinds.split(",")
    requests = build_requests(images, args.per_kind, kinds, model.config.resolution)
    counts = {kind: sum(r.kind == kind for r in requests) for kind in kinds}
    print(f"{len(requests)} requests from {len(images)} images: {counts}", flush=True)
    modes = args.modes.split(",")
    measure(context, requests, modes, {"transfer": 0, "transfer+10": refine_steps[0],
                                       "transfer+30": refine_steps[1]}, args.transfer_sources)
    rows = summarise(requests, modes, args.bootstrap)
    distinct = len({r.image.index for r in requests})
    sources = {kind: len({r.source for r in requests if r.kind == kind and r.source is not None})
               for kind in kinds}
    load = Path("/proc/loadavg").read_text().split()[0]
    print(f"\n# {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {platform.machine()}, torch {torch.__version__}, "
          f"{torch.get_num_threads()} threads, load {load}; model {args.model} ({model.weights_hash[:12]}), "
          f"perceptual {'none' if perceptual is None else type(perceptual).__name__}, "
          f"context labels {list(context_labels)}, CE weight {args.ce_weight}, "
          f"total {time.perf_counter() - started:.0f} s; {len(requests)} requests on {distinct} distinct "
          f"images; release recipe's perceptual term: {release_perceptual}; judge {args.oracle}, "
          f"branch {branch_source}")
    print_table(rows)
    if args.examples:
        write_examples(context, requests, args.examples)
    if args.json:
        per_kind = {
            kind: summarise([r for r in requests if r.kind == kind], modes) for kind in kinds
        }
        document = {"arguments": {k: str(v) for k, v in vars(args).items()}, "summary": rows,
                    "per_kind": per_kind, "counts": counts, "distinct_images": distinct,
                    "transfer_sources_per_kind": sources, "release_perceptual": release_perceptual,
                    "model_weights_hash": model.weights_hash, "judge": str(args.oracle),
                    "branch": branch_source}
        args.json.write_text(json.dumps(document, indent=2))


if __name__ == "__main__":
    main()
