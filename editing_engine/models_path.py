"""Where the bundled demo model lives, overridable with PARTEDIT_MODEL_PATH."""

from __future__ import annotations

import os
from pathlib import Path

BUNDLED_MODEL_DIR = Path(__file__).resolve().parent.parent / "models" / "demo"


def default_model_path() -> Path:
    """The model directory to load when none is given: $PARTEDIT_MODEL_PATH or the bundled one."""
    return Path(os.environ.get("PARTEDIT_MODEL_PATH") or BUNDLED_MODEL_DIR)
