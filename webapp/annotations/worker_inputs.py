"""Worker-side input of the branch-using jobs: a registered segmentation branch as the engine's, cached."""

from __future__ import annotations

from typing import TYPE_CHECKING

from webapp.annotations.models import SegmentationBranch
from webapp.assets.storage import local_copy
from webapp.assets.worker_inputs import device_of

if TYPE_CHECKING:
    from editing_engine.checkpoints import LoadedModel
    from editing_engine.segmentation import SegmentationBranch as EngineBranch


def registered_branch(branch: SegmentationBranch, loaded: LoadedModel) -> EngineBranch:
    """The engine branch of a registered branch record, checked against the generator, on its device."""
    from editing_engine.segmentation import branch_from_config
    from webapp.worker_runtime import cached_part

    def load() -> EngineBranch:
        engine_branch = branch_from_config(
            branch.config, local_copy(branch.weights.name), loaded.config, f"segmentation branch {branch.pk}"
        )
        return engine_branch.to(device_of(loaded))

    # A branch record's weights never change (a new training is a new record).
    key = ("branch", branch.pk, branch.weights.name, loaded.weights_hash, str(device_of(loaded)))
    return cached_part(key, load)
