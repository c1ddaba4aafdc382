"""Evaluation metrics: part IoU on label maps, and FID / KID on feature vectors.

IoU helpers take integer label maps of any matching shape (one image ``HxW`` or a stack
``NxHxW``; numpy arrays or torch tensors). A stack is scored by pooling its pixels, so
the IoU of a label is its total intersection over its total union across the stack. A
label absent from both prediction and target (inside the region, when one is given) has
no IoU: it is NaN in per-label results and left out of means.

FID and KID are computed on whatever feature vectors they are given (rows = samples); the
project feeds them the oracle's encoder features (``oracle.oracle_features``), so the
figures are comparable with each other but not with Inception-based FID/KID in papers.
"""

from __future__ import annotations

import numpy as np
import torch

from editing_engine.errors import EngineError

from .oracle import Oracle, images_to_input

ArrayLike = np.ndarray | torch.Tensor


class MetricError(EngineError):
    """Inputs to a metric have the wrong shape, type or size."""


def as_numpy(values: ArrayLike) -> np.ndarray:
    """A numpy view of an array or (detached, CPU) tensor."""
    if isinstance(values, torch.Tensor):
        return values.detach().cpu().numpy()
    return np.asarray(values)


def intersections_unions(
    pred: ArrayLike, target: ArrayLike, num_labels: int, region: ArrayLike | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Per-label pixel counts of intersection and union (two int64 arrays of ``num_labels``)."""
    pred_np, target_np = as_numpy(pred), as_numpy(target)
    if pred_np.shape != target_np.shape:
        raise MetricError(f"prediction shape {pred_np.shape} differs from target shape {target_np.shape}")
    if pred_np.dtype.kind not in "iu" or target_np.dtype.kind not in "iu":
        raise MetricError(f"label maps must be integer arrays, got {pred_np.dtype} and {target_np.dtype}")
    pred_flat = pred_np.reshape(-1).astype(np.int64)
    target_flat = target_np.reshape(-1).astype(np.int64)
    if region is not None:
        region_np = np.broadcast_to(as_numpy(region), pred_np.shape).reshape(-1)
        if region_np.dtype != np.bool_:
            raise MetricError(f"region must be a boolean mask, got {region_np.dtype}")
        pred_flat, target_flat = pred_flat[region_np], target_flat[region_np]
    for name, flat in (("prediction", pred_flat), ("target", target_flat)):
        if flat.size and (flat.min() < 0 or flat.max() >= num_labels):
            raise MetricError(f"{name} holds labels outside [0, {num_labels})")
    pred_count = np.bincount(pred_flat, minlength=num_labels)
    target_count = np.bincount(target_flat, minlength=num_labels)
    intersection = np.bincount(target_flat[pred_flat == target_flat], minlength=num_labels)
    return intersection, pred_count + target_count - intersection


def per_label_iou(
    pred: ArrayLike, target: ArrayLike, num_labels: int, region: ArrayLike | None = None
) -> np.ndarray:
    """IoU of each label (float64 array of ``num_labels``; NaN where absent from both)."""
    intersection, union = intersections_unions(pred, target, num_labels, region)
    iou = np.full(num_labels, np.nan)
    present = union > 0
    iou[present] = intersection[present] / union[present]
    return iou


def mean_iou(
    pred: ArrayLike,
    target: ArrayLike,
    num_labels: int,
    region: ArrayLike | None = None,
    labels: list[int] | None = None,
) -> float:
    """Mean IoU over the labels present in prediction or target (optionally only ``labels``).

    NaN when no label counted is present at all.
    """
    iou = per_label_iou(pred, target, num_labels, region)
    if labels is not None:
        iou = iou[labels]
    if np.all(np.isnan(iou)):
        return float("nan")
    return float(np.nanmean(iou))


def label_boundary(mask: np.ndarray) -> np.ndarray:
    """Pixels of a bool ``[H, W]`` mask with a 4-neighbour outside it (the image border counts as outside)."""
    padded = np.pad(mask, 1, constant_values=False)
    interior = padded[:-2, 1:-1] & padded[2:, 1:-1] & padded[1:-1, :-2] & padded[1:-1, 2:]
    return mask & ~interior


def _near(boundary: np.ndarray, tolerance: int) -> np.ndarray:
    """Pixels within ``tolerance`` px (chessboard distance) of a boundary pixel."""
    padded = np.pad(boundary, tolerance, constant_values=False)
    height, width = boundary.shape
    near = np.zeros_like(boundary)
    for dy in range(2 * tolerance + 1):
        for dx in range(2 * tolerance + 1):
            near |= padded[dy : dy + height, dx : dx + width]
    return near


def boundary_f_score(pred: ArrayLike, target: ArrayLike, labels: list[int], tolerance: int = 1) -> float:
    """Mean over ``labels`` of the boundary F-score (Csurka et al.) of ``pred`` against ``target``.

    Per label: precision = share of the predicted boundary within ``tolerance`` px of the target's,
    recall = the converse, F = their harmonic mean (0 when one side has no boundary). Labels
    absent from both maps are left out; NaN when all are.
    """
    pred_np, target_np = as_numpy(pred), as_numpy(target)
    if pred_np.shape != target_np.shape or pred_np.ndim != 2:
        raise MetricError(
            f"boundary F-score needs two equal [H, W] maps, got {pred_np.shape} and {target_np.shape}"
        )
    scores = []
    for label in labels:
        predicted, wanted = label_boundary(pred_np == label), label_boundary(target_np == label)
        if not predicted.any() and not wanted.any():
            continue
        if not predicted.any() or not wanted.any():
            scores.append(0.0)
            continue
        precision = float((predicted & _near(wanted, tolerance)).sum() / predicted.sum())
        recall = float((wanted & _near(predicted, tolerance)).sum() / wanted.sum())
        scores.append(0.0 if precision + recall == 0 else 2 * precision * recall / (precision + recall))
    return float(np.mean(scores)) if scores else float("nan")


def ssim_map(a: torch.Tensor, b: torch.Tensor, window: int = 7) -> torch.Tensor:
    """Per-pixel SSIM ``[B, H, W]`` (channel mean) of images ``[B, 3, H, W]`` in [-1, 1], on the [0, 1] scale.

    Local statistics over a ``window`` x ``window`` box (edges use the pixels inside the image);
    the usual constants ``(0.01)^2`` and ``(0.03)^2`` for a dynamic range of 1.
    """
    if a.shape != b.shape or a.ndim != 4:
        raise MetricError(f"SSIM needs two equal [B, C, H, W] batches, got {list(a.shape)}, {list(b.shape)}")
    x, y = (a.double().clamp(-1, 1) + 1) / 2, (b.double().clamp(-1, 1) + 1) / 2

    def local(t: torch.Tensor) -> torch.Tensor:
        return torch.nn.functional.avg_pool2d(
            t, window, stride=1, padding=window // 2, count_include_pad=False
        )

    mean_x, mean_y = local(x), local(y)
    var_x = local(x * x) - mean_x**2
    var_y = local(y * y) - mean_y**2
    cov = local(x * y) - mean_x * mean_y
    c1, c2 = 0.01**2, 0.03**2
    numerator = (2 * mean_x * mean_y + c1) * (2 * cov + c2)
    value = numerator / ((mean_x**2 + mean_y**2 + c1) * (var_x + var_y + c2))
    return value.mean(dim=1).float()


def _feature_matrix(features: ArrayLike, what: str) -> np.ndarray:
    matrix = as_numpy(features).astype(np.float64)
    if matrix.ndim != 2:
        raise MetricError(f"{what} must be a 2-D [samples, dims] array, got shape {matrix.shape}")
    if matrix.shape[0] < 2:
        raise MetricError(f"{what} needs at least 2 samples, got {matrix.shape[0]}")
    return matrix


def _sqrtm_psd(matrix: np.ndarray) -> np.ndarray:
    """Square root of a symmetric positive semi-definite matrix (negative eigenvalues clipped)."""
    values, vectors = np.linalg.eigh((matrix + matrix.T) / 2)
    return (vectors * np.sqrt(np.clip(values, 0.0, None))) @ vectors.T


def frechet_distance(feats_a: ArrayLike, feats_b: ArrayLike) -> float:
    """Fréchet distance between Gaussians fitted to two feature sets (the FID formula).

    ``|mu_a - mu_b|^2 + tr(S_a + S_b - 2 (S_a^1/2 S_b S_a^1/2)^1/2)``, computed with symmetric
    eigendecompositions so it stays real and non-negative.
    """
    a, b = _feature_matrix(feats_a, "feats_a"), _feature_matrix(feats_b, "feats_b")
    if a.shape[1] != b.shape[1]:
        raise MetricError(f"feature dimensions differ: {a.shape[1]} and {b.shape[1]}")
    mean_term = float(np.sum((a.mean(0) - b.mean(0)) ** 2))
    cov_a, cov_b = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    root_a = _sqrtm_psd(cov_a)
    cross = np.linalg.eigvalsh(root_a @ cov_b @ root_a)
    trace_term = float(np.trace(cov_a) + np.trace(cov_b) - 2.0 * np.sum(np.sqrt(np.clip(cross, 0.0, None))))
    return max(mean_term + trace_term, 0.0)


def kernel_inception_distance(
    feats_a: ArrayLike,
    feats_b: ArrayLike,
    num_subsets: int = 100,
    max_subset_size: int = 1000,
    seed: int = 0,
) -> tuple[float, float]:
    """KID: unbiased MMD^2 with the cubic polynomial kernel, averaged over random subsets.

    Returns (mean, standard deviation over subsets). Follows the estimator of
    stylegan2-ada-pytorch's ``metrics/kernel_inception_distance.py``:
    ``k(x, y) = (x.y / d + 1)^3``, subsets of ``min(n_a, n_b, max_subset_size)`` rows.
    """
    a, b = _feature_matrix(feats_a, "feats_a"), _feature_matrix(feats_b, "feats_b")
    if a.shape[1] != b.shape[1]:
        raise MetricError(f"feature dimensions differ: {a.shape[1]} and {b.shape[1]}")
    if num_subsets < 1:
        raise MetricError(f"num_subsets must be >= 1, got {num_subsets}")
    dims = a.shape[1]
    m = min(a.shape[0], b.shape[0], max_subset_size)
    rng = np.random.default_rng(seed)
    estimates = np.empty(num_subsets)
    for index in range(num_subsets):
        x = a[rng.choice(a.shape[0], m, replace=False)]
        y = b[rng.choice(b.shape[0], m, replace=False)]
        k_xx = (x @ x.T / dims + 1) ** 3
        k_yy = (y @ y.T / dims + 1) ** 3
        k_xy = (x @ y.T / dims + 1) ** 3
        within = (k_xx.sum() - np.trace(k_xx) + k_yy.sum() - np.trace(k_yy)) / (m * (m - 1))
        estimates[index] = within - 2.0 * k_xy.mean()
    return float(estimates.mean()), float(estimates.std())


@torch.no_grad()
def oracle_features(oracle: Oracle, images: np.ndarray | torch.Tensor, batch_size: int = 64) -> np.ndarray:
    """The oracle's pooled encoder features (float64 ``[N, feature_dim]``) of a set of images.

    ``images`` as ``oracle.images_to_input`` takes them: uint8 ``[N, H, W, 3]`` or a float
    tensor ``[N, 3, H, W]`` in [-1, 1]. Every encoder stage is global-average-pooled, so the
    vector holds the bottleneck and every skip level (``Oracle.pooled_features``).
    """
    x = images_to_input(images)
    oracle.check_input(x)
    device = next(oracle.parameters()).device
    was_training = oracle.training
    oracle.eval()
    chunks = [oracle.pooled_features(chunk.to(device)).double().cpu() for chunk in x.split(batch_size)]
    oracle.train(was_training)
    return torch.cat(chunks).numpy()
