"""Worker-side helpers shared by the runners: loading a registered model and checking it is that model."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from webapp.assets.models import GeneratorModel
from webapp.errors import InvalidInput

if TYPE_CHECKING:
    from editing_engine.checkpoints import LoadedModel


def checked_model(model: GeneratorModel) -> LoadedModel:
    """The worker's cached generator for ``model``; refused if its weights are not the registered ones."""
    from webapp.worker_runtime import loaded_model

    loaded = loaded_model(Path(model.path))
    if loaded.weights_hash != model.weights_hash:
        raise InvalidInput(
            f"The weights at {model.path} are not the ones registered as model {model.name!r} "
            f"(hash {loaded.weights_hash[:12]} instead of {model.weights_hash[:12]}); "
            "an operator must register the new weights as a new model.",
            code="model_changed",
        )
    return loaded
