"""COCO annotations of part masks: one uncompressed-RLE annotation per label present in an image."""

from __future__ import annotations

from typing import Any

import numpy as np


def rle_encode(binary: np.ndarray) -> dict[str, Any]:
    """COCO's uncompressed RLE of a binary mask: run lengths in column-major order, starting with zeros."""
    flat = np.asarray(binary, dtype=bool).ravel(order="F")
    changes = np.flatnonzero(flat[1:] != flat[:-1]) + 1
    bounds = np.concatenate([[0], changes, [flat.size]])
    counts = np.diff(bounds).tolist()
    if flat.size and flat[0]:
        counts = [0, *counts]
    return {"size": [int(binary.shape[0]), int(binary.shape[1])], "counts": [int(c) for c in counts]}


def bbox(binary: np.ndarray) -> list[int]:
    """``[x, y, width, height]`` of the mask's pixels."""
    rows, cols = np.flatnonzero(binary.any(axis=1)), np.flatnonzero(binary.any(axis=0))
    return [int(cols[0]), int(rows[0]), int(cols[-1] - cols[0] + 1), int(rows[-1] - rows[0] + 1)]


def categories(
    labels: list[tuple[Any, int, str]], supercategory: dict[Any, str]
) -> tuple[list[dict[str, Any]], dict[tuple[Any, int], int]]:
    """COCO categories for ``(model key, label index, name)`` triples (background, index 0, skipped).

    Returns the categories and a map from (model key, label index) to category id.
    """
    entries: list[dict[str, Any]] = []
    ids: dict[tuple[Any, int], int] = {}
    for model_key, index, name in labels:
        if index == 0:
            continue
        ids[(model_key, index)] = len(entries) + 1
        entries.append({"id": len(entries) + 1, "name": name, "supercategory": supercategory[model_key]})
    return entries, ids


def mask_annotations(
    values: np.ndarray, image_id: int, category_ids: dict[int, int], first_id: int
) -> list[dict[str, Any]]:
    """One COCO annotation (RLE, ``iscrowd`` 1) per non-background label present in ``values``."""
    annotations: list[dict[str, Any]] = []
    for index in np.unique(values):
        if int(index) not in category_ids:
            continue
        binary = values == index
        annotations.append(
            {
                "id": first_id + len(annotations),
                "image_id": image_id,
                "category_id": category_ids[int(index)],
                "segmentation": rle_encode(binary),
                "area": int(binary.sum()),
                "bbox": bbox(binary),
                "iscrowd": 1,
            }
        )
    return annotations
