"""Part labels of the procedural face domain and their display palette."""

from __future__ import annotations

LABELS: list[str] = [
    "background",
    "skin",
    "neck",
    "clothes",
    "ears",
    "hair",
    "brows",
    "eyes",
    "irises",
    "pupils",
    "nose",
    "nostrils",
    "lips",
    "mouth",
    "teeth",
]
"""Ordered part labels; the index is the value stored in label maps (0 = background).

``eyes`` are the eye whites, ``mouth`` the dark inside of an open mouth.
"""

LABEL_COLOURS: list[tuple[int, int, int]] = [
    (0, 0, 0),
    (230, 180, 140),
    (180, 120, 90),
    (60, 90, 200),
    (240, 120, 60),
    (120, 70, 30),
    (40, 200, 40),
    (250, 250, 250),
    (40, 170, 230),
    (200, 0, 200),
    (250, 220, 0),
    (130, 0, 0),
    (230, 40, 60),
    (90, 20, 60),
    (0, 240, 200),
]
"""Display colour of each label, same order as ``LABELS``."""

LABEL_INDEX: dict[str, int] = {name: index for index, name in enumerate(LABELS)}
"""Label name -> index into ``LABELS``."""

CONTEXT_LABELS: tuple[str, ...] = ("background", "skin")
"""Host labels: an edit's region takes their changed pixels only, not all of them."""
