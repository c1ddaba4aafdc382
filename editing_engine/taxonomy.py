"""A model's part-label taxonomy (``labels.json``), parsed and checked without torch.

``model_taxonomy`` falls back to the demo domain's labels (imported only then) for a model
without ``labels.json``.

``labels.json`` beside a model's weights is ``{"labels": [{"name", "colour": "#rrggbb",
"context"?: bool}, ...]}``: label index = position, 0 = background. ``context`` marks a host
label (background, skin) whose unchanged pixels an edit leaves out of its region. The engine's
CLI and the webapp's model registration both read it here, with the same rules.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

from editing_engine.errors import EngineError

LABELS_FILE = "labels.json"
MAX_LABELS = 256
COLOUR = re.compile(r"^#[0-9a-fA-F]{6}$")


class TaxonomyError(EngineError):
    """A taxonomy is malformed: its message names the label and the rule it breaks."""


@dataclass(frozen=True)
class LabelSpec:
    """One label of a taxonomy; its index is its position."""

    name: str
    colour: str
    context: bool = False

    @property
    def rgb(self) -> tuple[int, int, int]:
        """The colour as an (r, g, b) triple."""
        value = int(self.colour[1:], 16)
        return (value >> 16) & 255, (value >> 8) & 255, value & 255


def parse_labels(raw: object) -> list[LabelSpec]:
    """Check a taxonomy's label list: 1 to 256 labels, unique names, ``#rrggbb`` colours, boolean context."""
    if not isinstance(raw, list) or not raw or len(raw) > MAX_LABELS:
        raise TaxonomyError(f"A taxonomy is a list of 1 to {MAX_LABELS} labels.")
    labels = []
    for index, entry in enumerate(raw):
        name = entry.get("name") if isinstance(entry, dict) else None
        colour = entry.get("colour") if isinstance(entry, dict) else None
        if not (isinstance(name, str) and name.strip() and isinstance(colour, str) and COLOUR.match(colour)):
            raise TaxonomyError(f"Label {index} needs a non-empty name and a #rrggbb colour.")
        context = entry.get("context", False) if isinstance(entry, dict) else False
        if not isinstance(context, bool):
            raise TaxonomyError(f"Label {index} has a context flag that is not true or false.")
        labels.append(LabelSpec(name=name.strip(), colour=colour.lower(), context=context))
    if len({label.name for label in labels}) != len(labels):
        raise TaxonomyError("Label names must be unique.")
    return labels


def read_labels_file(model_dir: str | Path) -> list[LabelSpec] | None:
    """The checked taxonomy in ``model_dir/labels.json``; None when the file does not exist."""
    path = Path(model_dir) / LABELS_FILE
    if not path.exists():
        return None
    try:
        raw = json.loads(path.read_text())["labels"]
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise TaxonomyError(f"Cannot read {path}: {error}") from error
    return parse_labels(raw)


@dataclass(frozen=True)
class Taxonomy:
    """A model's labels as the engine uses them: names, RGB colours and the indices of context labels."""

    names: list[str]
    colours: list[tuple[int, int, int]]
    context: tuple[int, ...]


def model_taxonomy(model_dir: str | Path, num_labels: int) -> Taxonomy:
    """The model's labels: its ``labels.json``, else the demo domain's, else greys."""
    labels = read_labels_file(model_dir)
    if labels is not None and len(labels) == num_labels:
        context = tuple(index for index, label in enumerate(labels) if label.context)
        return Taxonomy([label.name for label in labels], [label.rgb for label in labels], context)
    from .domain import CONTEXT_LABELS, LABEL_COLOURS, LABEL_INDEX, LABELS

    if len(LABELS) == num_labels:
        return Taxonomy(list(LABELS), list(LABEL_COLOURS), tuple(LABEL_INDEX[n] for n in CONTEXT_LABELS))
    step = 255 // max(num_labels - 1, 1)
    return Taxonomy([str(i) for i in range(num_labels)], [(i * step,) * 3 for i in range(num_labels)], ())


def label_count(model_dir: str | Path) -> int:
    """The number of labels in the model's ``labels.json``, else in the demo domain."""
    labels = read_labels_file(model_dir)
    if labels is not None:
        return len(labels)
    from .domain import LABELS

    return len(LABELS)
