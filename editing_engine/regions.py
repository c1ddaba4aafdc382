"""Where an edit is allowed to change the image, derived from label maps.

The EditGAN release takes its edit region from the brush footprint only, so a part recoloured
with the bucket fill is never in the region. Here the region follows from the labels alone:
every pixel whose label changed, plus every pixel that carries a label involved in the edit
(a label seen in a changed pixel, in the original or the edited map), in either map, dilated
by a square kernel. It is right however the user painted.

Label maps are integer ``[H, W]`` tensors (or numpy arrays); masks are ``bool`` tensors.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable

import numpy as np
import torch
import torch.nn.functional as F

from editing_engine.errors import EngineError
from editing_engine.shapes import assert_shape

# The release dilates with a 3x3 kernel three times: a 7x7 square, i.e. Chebyshev radius 3.
DEFAULT_DILATION = 3

LabelMap = torch.Tensor | np.ndarray


class RegionError(EngineError):
    """Label maps or masks that cannot define an edit region (bad shape, labels, or no change)."""


def as_label_map(labels: LabelMap, what: str = "label map", num_labels: int | None = None) -> torch.Tensor:
    """Validate an ``[H, W]`` integer label map and return it as an int64 tensor."""
    tensor = torch.as_tensor(labels)
    assert_shape(tensor, ("H", "W"), what, RegionError)
    if tensor.dtype.is_floating_point or tensor.dtype == torch.bool or tensor.is_complex():
        raise RegionError(f"{what} must hold integer labels, got dtype {tensor.dtype}")
    tensor = tensor.to(torch.int64)
    if tensor.numel() and int(tensor.min()) < 0:
        raise RegionError(f"{what} holds negative label {int(tensor.min())}")
    if num_labels is not None and tensor.numel() and int(tensor.max()) >= num_labels:
        raise RegionError(f"{what} holds label {int(tensor.max())}, but the model has {num_labels} labels")
    return tensor


def as_mask(mask: torch.Tensor | np.ndarray, what: str = "mask") -> torch.Tensor:
    """Validate an ``[H, W]`` mask (bool or 0/1 values) and return it as a bool tensor."""
    tensor = torch.as_tensor(mask)
    assert_shape(tensor, ("H", "W"), what, RegionError)
    if tensor.dtype != torch.bool:
        values = torch.unique(tensor)
        if not bool(((values == 0) | (values == 1)).all()):
            raise RegionError(f"{what} must be boolean or 0/1, found values {values[:8].tolist()}")
        tensor = tensor != 0
    return tensor


def dilate(mask: torch.Tensor, radius: int = DEFAULT_DILATION) -> torch.Tensor:
    """Dilate a bool ``[H, W]`` mask with a ``(2*radius+1)``-square kernel (zero padding at the border)."""
    if radius < 0:
        raise RegionError(f"dilation radius must be >= 0, got {radius}")
    if radius == 0:
        return mask.clone()
    grown = F.max_pool2d(mask[None, None].float(), kernel_size=2 * radius + 1, stride=1, padding=radius)
    return grown[0, 0] > 0


def _check_pair(
    original: LabelMap, edited: LabelMap, num_labels: int | None
) -> tuple[torch.Tensor, torch.Tensor]:
    before = as_label_map(original, "original label map", num_labels)
    after = as_label_map(edited, "edited label map", num_labels)
    if before.shape != after.shape:
        raise RegionError(
            f"original and edited label maps differ in shape: {list(before.shape)} vs {list(after.shape)}"
        )
    return before, after


def changed_pixels(original: LabelMap, edited: LabelMap, num_labels: int | None = None) -> torch.Tensor:
    """Bool mask of the pixels whose label differs between the two maps."""
    before, after = _check_pair(original, edited, num_labels)
    return before != after


def involved_labels(original: LabelMap, edited: LabelMap, num_labels: int | None = None) -> list[int]:
    """Sorted labels that occur in a changed pixel, in the original or in the edited map."""
    before, after = _check_pair(original, edited, num_labels)
    changed = before != after
    if not bool(changed.any()):
        raise RegionError("the edited label map is identical to the original: nothing to edit")
    return sorted(set(before[changed].unique().tolist()) | set(after[changed].unique().tolist()))


def painted_labels(original: LabelMap, edited: LabelMap, min_share: float = 0.1) -> list[int]:
    """The labels an edit paints, most pixels first: edited-map labels on ``min_share`` of the changed pixels.

    Unlike ``involved_labels`` this leaves out labels that were only painted over, and stray
    pixels where the map the user started from differs a little from the one compared against.
    """
    before, after = _check_pair(original, edited, None)
    painted = after[before != after].to(torch.int64)
    if painted.numel() == 0:
        raise RegionError("the edited label map is identical to the original: nothing to edit")
    counts = torch.bincount(painted).tolist()
    enough = [label for label, count in enumerate(counts) if count and count >= min_share * painted.numel()]
    return sorted(enough, key=lambda label: (-counts[label], label))


def labels_mask(label_maps: Iterable[torch.Tensor], labels: Collection[int]) -> torch.Tensor:
    """Bool mask of the pixels that carry one of ``labels`` in any of ``label_maps``."""
    maps = list(label_maps)
    wanted = torch.tensor(sorted(labels), dtype=torch.int64)
    mask = torch.zeros(maps[0].shape, dtype=torch.bool)
    for label_map in maps:
        mask |= torch.isin(label_map.cpu(), wanted)
    return mask


def edit_region(
    original_labels: LabelMap,
    edited_labels: LabelMap,
    dilation: int = DEFAULT_DILATION,
    num_labels: int | None = None,
    context_labels: Collection[int] = (),
) -> torch.Tensor:
    """The bool ``[H, W]`` region an edit may change: changed pixels and involved-label pixels, dilated.

    ``context_labels`` (e.g. background) still count where they changed, but their unchanged
    pixels are not added; by default every involved label adds all its pixels in either map.
    """
    before, after = _check_pair(original_labels, edited_labels, num_labels)
    labels = set(involved_labels(before, after)) - set(context_labels)
    region = before != after
    if labels:
        region |= labels_mask([before, after], labels)
    return dilate(region, dilation)


def brush_region(brush_mask: torch.Tensor | np.ndarray, dilation: int = DEFAULT_DILATION) -> torch.Tensor:
    """The release's region: only the brushed pixels, dilated (fill edits are not in it)."""
    return dilate(as_mask(brush_mask, "brush mask"), dilation)


def refinement_region(
    seg_before: LabelMap,
    seg_after: LabelMap,
    labels: Collection[int],
    dilation: int = DEFAULT_DILATION,
    num_labels: int | None = None,
    context_labels: Collection[int] = (),
) -> torch.Tensor:
    """Pixels carrying one of ``labels`` in either segmentation, dilated (the refinement region).

    ``context_labels`` among ``labels`` add only the pixels that changed between the two maps
    from or to one of ``labels``, not all their pixels (as in ``edit_region``).
    """
    if not labels:
        raise RegionError("refinement needs at least one involved label")
    if num_labels is not None and (min(labels) < 0 or max(labels) >= num_labels):
        raise RegionError(f"involved labels {sorted(labels)} are outside 0..{num_labels - 1}")
    before, after = _check_pair(seg_before, seg_after, num_labels)
    parts = set(labels) - set(context_labels)
    region = labels_mask([before, after], parts) if parts else torch.zeros(before.shape, dtype=torch.bool)
    if parts != set(labels):
        region |= (before != after) & labels_mask([before, after], labels)
    return dilate(region, dilation)


def region_statistics(region: torch.Tensor) -> dict[str, object]:
    """Pixel count, fraction of the image and bounding box ``[x0, y0, x1, y1]`` (inclusive) of a mask."""
    mask = as_mask(region, "region")
    pixels = int(mask.sum())
    stats: dict[str, object] = {
        "pixels": pixels,
        "fraction": pixels / max(mask.numel(), 1),
        "height": int(mask.shape[0]),
        "width": int(mask.shape[1]),
        "bbox": None,
    }
    if pixels:
        rows = torch.nonzero(mask.any(dim=1)).flatten()
        cols = torch.nonzero(mask.any(dim=0)).flatten()
        stats["bbox"] = [int(cols[0]), int(rows[0]), int(cols[-1]), int(rows[-1])]
    return stats
