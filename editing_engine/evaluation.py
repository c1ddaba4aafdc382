"""Evaluation against the procedural domain: oracle training data, oracle accuracy, generator quality.

Seed ranges are fixed and disjoint so that no figure is measured on images a model was trained
on: GAN training draws seeds below 10,000,000 (= ``ORACLE_TRAIN_SEED_BASE``), the
oracle trains on seeds from ``ORACLE_TRAIN_SEED_BASE``, its accuracy is measured on seeds from
``ORACLE_TEST_SEED_BASE``, and the quality figure compares generated images with renders from
``REFERENCE_SEED_BASE`` (and, for the render-vs-render floor, ``FLOOR_SEED_BASE``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np
import torch

from .domain import STYLES, render_face
from .generator import Generator, seed_to_z
from .metrics import frechet_distance, intersections_unions, kernel_inception_distance, oracle_features
from .oracle import BatchSource, Oracle, label_names, predict

ORACLE_TRAIN_SEED_BASE = 10_000_000
ORACLE_TEST_SEED_BASE = 20_000_000
REFERENCE_SEED_BASE = 30_000_000
FLOOR_SEED_BASE = 40_000_000


def render_set(seeds: Sequence[int], style: str, size: int = 64) -> tuple[np.ndarray, np.ndarray]:
    """Renders of ``seeds`` in one style: images ``[N, size, size, 3]`` uint8, labels ``[N, size, size]``."""
    faces = [render_face(int(seed), size=size, style=style) for seed in seeds]
    return np.stack([face.image for face in faces]), np.stack([face.labels for face in faces])


def procedural_batches(
    batch_size: int,
    size: int = 64,
    out_of_domain_fraction: float = 0.3,
    seed_base: int = ORACLE_TRAIN_SEED_BASE,
) -> BatchSource:
    """Oracle training batches rendered on the fly: step ``s`` renders fresh seeds ``seed_base + s*B ...``.

    Each image's style is drawn (deterministically per step) so that about
    ``out_of_domain_fraction`` of them are out-of-domain.
    """
    if not 0.0 <= out_of_domain_fraction <= 1.0:
        raise ValueError(f"out_of_domain_fraction must be in [0, 1], got {out_of_domain_fraction}")

    def batch(step: int) -> tuple[np.ndarray, np.ndarray]:
        first = seed_base + step * batch_size
        out_of_domain = np.random.default_rng(first).random(batch_size) < out_of_domain_fraction
        faces = [render_face(first + i, size=size, style=STYLES[int(ood)])
                 for i, ood in enumerate(out_of_domain)]
        return np.stack([face.image for face in faces]), np.stack([face.labels for face in faces])

    return batch


@dataclass
class OracleAccuracy:
    """Per-label IoU (pooled over all test images) of the oracle on held-out renders of one style."""

    style: str
    count: int
    seed_base: int
    per_label_iou: dict[str, float]
    mean_iou: float

    def to_dict(self) -> dict[str, object]:
        """Plain-dict form for JSON."""
        return asdict(self)


def evaluate_oracle(
    oracle: Oracle, style: str, count: int = 500, size: int = 64, seed_base: int = ORACLE_TEST_SEED_BASE,
    chunk: int = 100,
) -> OracleAccuracy:
    """The oracle's per-label IoU and mIoU on ``count`` held-out renders of ``style``."""
    num_labels = oracle.config.num_labels
    intersection = np.zeros(num_labels, dtype=np.int64)
    union = np.zeros(num_labels, dtype=np.int64)
    for start in range(0, count, chunk):
        seeds = range(seed_base + start, seed_base + min(start + chunk, count))
        images, labels = render_set(seeds, style, size)
        inter, uni = intersections_unions(predict(oracle, images), labels, num_labels)
        intersection += inter
        union += uni
    present = union > 0
    names = label_names(oracle)
    per_label = {names[i]: float(intersection[i] / union[i]) for i in range(num_labels) if present[i]}
    return OracleAccuracy(style=style, count=count, seed_base=seed_base, per_label_iou=per_label,
                          mean_iou=float(np.mean(list(per_label.values()))))


def format_accuracy_table(accuracies: Sequence[OracleAccuracy]) -> str:
    """A plain-text table: one row per label, one IoU column per evaluated style, mIoU last."""
    names = list(dict.fromkeys(name for acc in accuracies for name in acc.per_label_iou))
    header = f"{'label':<12}" + "".join(f"{acc.style:>15}" for acc in accuracies)
    rows = [header]
    for name in names:
        cells = "".join(f"{acc.per_label_iou.get(name, float('nan')):>15.4f}" for acc in accuracies)
        rows.append(f"{name:<12}{cells}")
    rows.append(f"{'mIoU':<12}" + "".join(f"{acc.mean_iou:>15.4f}" for acc in accuracies))
    return "\n".join(rows)


@torch.no_grad()
def generate_images(
    generator: Generator, seeds: Sequence[int], truncation_psi: float = 1.0, batch_size: int = 32
) -> np.ndarray:
    """Generated images ``[N, R, R, 3]`` uint8 for ``seeds`` (``seed_to_z``, constant noise)."""
    device = next(generator.parameters()).device
    chunks = []
    for start in range(0, len(seeds), batch_size):
        z = torch.stack([seed_to_z(int(seed), generator.config.z_dim)[0]
                         for seed in seeds[start:start + batch_size]]).to(device)
        img = generator.synthesis(generator.mapping(z, truncation_psi=truncation_psi), noise_mode="const")
        pixels = (img.float().clamp(-1, 1) + 1) * 127.5  # as generator.to_uint8_image, batched
        chunks.append(pixels.round().to(torch.uint8).permute(0, 2, 3, 1).cpu())
    return torch.cat(chunks).numpy()


@dataclass
class QualityFigures:
    """FID and KID (mean, std over subsets) between two image sets, on oracle encoder features."""

    fid: float
    kid: float
    kid_std: float
    count_a: int
    count_b: int

    def to_dict(self) -> dict[str, object]:
        """Plain-dict form for JSON."""
        return asdict(self)


def feature_distances(feats_a: np.ndarray, feats_b: np.ndarray, kid_subsets: int = 100) -> QualityFigures:
    """FID and KID between two oracle feature sets."""
    kid, kid_std = kernel_inception_distance(feats_a, feats_b, num_subsets=kid_subsets)
    return QualityFigures(fid=frechet_distance(feats_a, feats_b), kid=kid, kid_std=kid_std,
                          count_a=len(feats_a), count_b=len(feats_b))


def reference_features(oracle: Oracle, count: int, size: int, seed_base: int, style: str = "in_domain",
                       chunk: int = 250) -> np.ndarray:
    """Oracle features of ``count`` renders from ``seed_base`` (rendered in chunks to bound memory)."""
    parts = []
    for start in range(0, count, chunk):
        images, _ = render_set(range(seed_base + start, seed_base + min(start + chunk, count)), style, size)
        parts.append(oracle_features(oracle, images))
    return np.concatenate(parts)


@dataclass
class GeneratorQuality:
    """Generated-vs-render figures, with the render-vs-render floor when it was measured."""

    count: int
    truncation_psi: float
    resolution: int
    feature_dim: int
    generated: QualityFigures
    floor: QualityFigures | None

    def to_dict(self) -> dict[str, object]:
        """Plain-dict form for JSON (with the reference set's style and seeds)."""
        data = asdict(self)
        data["reference"] = {"style": "in_domain", "seed_base": REFERENCE_SEED_BASE,
                             "floor_seed_base": FLOOR_SEED_BASE, "generated_seeds": f"0..{self.count - 1}"}
        return data


def evaluate_generator(
    generator: Generator,
    oracle: Oracle,
    count: int = 2000,
    truncation_psi: float = 1.0,
    with_floor: bool = True,
) -> GeneratorQuality:
    """Generated-vs-render FID/KID on oracle features, plus the render-vs-render floor.

    Generated images use seeds ``0 .. count-1``; the reference is ``count`` in-domain renders
    from ``REFERENCE_SEED_BASE`` at the generator's resolution; the floor compares that
    reference with another ``count`` renders from ``FLOOR_SEED_BASE``.
    """
    size = generator.config.resolution
    reference = reference_features(oracle, count, size, REFERENCE_SEED_BASE)
    generated = np.concatenate([
        oracle_features(oracle, generate_images(generator, range(start, min(start + 250, count)),
                                                truncation_psi))
        for start in range(0, count, 250)
    ])
    floor = None
    if with_floor:
        floor = feature_distances(reference_features(oracle, count, size, FLOOR_SEED_BASE), reference)
    return GeneratorQuality(count=count, truncation_psi=truncation_psi, resolution=size,
                            feature_dim=oracle.config.feature_dim,
                            generated=feature_distances(generated, reference), floor=floor)
