"""Worker-side inputs of a registered model's jobs: its cached generator, encoder, losses, latents, masks."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from PIL import Image as PILImage

from webapp.assets.model_store import model_directory
from webapp.assets.models import GeneratorModel, Image
from webapp.assets.storage import local_copy, open_stored
from webapp.errors import InvalidInput

if TYPE_CHECKING:
    import torch

    from editing_engine.checkpoints import LoadedModel
    from editing_engine.encoder import Encoder
    from editing_engine.losses import PerceptualDistance

# An encoder trained for a model lives in this folder of the model directory (save_encoder's layout).
ENCODER_FOLDER = "encoder"


def checked_model(model: GeneratorModel) -> LoadedModel:
    """The worker's cached generator for ``model``; refused if its weights are not the registered ones."""
    from webapp.worker_runtime import loaded_model

    loaded = loaded_model(model_directory(model.path, model.weights_hash))
    if loaded.weights_hash != model.weights_hash:
        raise InvalidInput(
            f"The weights at {model.path} are not the ones registered as model {model.name!r} "
            f"(hash {loaded.weights_hash[:12]} instead of {model.weights_hash[:12]}); "
            "an operator must register the new weights as a new model.",
            code="model_changed",
        )
    return loaded


def device_of(loaded: LoadedModel) -> torch.device:
    """The device the worker keeps ``loaded``'s generator on."""
    return next(loaded.generator.parameters()).device


def model_encoder(model: GeneratorModel, loaded: LoadedModel) -> Encoder | None:
    """The encoder stored with ``model`` (``<model dir>/encoder/``) on the generator's device, or None."""
    from editing_engine.encoder import ENCODER_WEIGHTS_FILE, load_encoder
    from webapp.worker_runtime import cached_part

    folder = model_directory(model.path, model.weights_hash) / ENCODER_FOLDER
    if not folder.is_dir():
        return None
    weights = folder / ENCODER_WEIGHTS_FILE
    # The file's identity is in the key: an encoder replaced on disk is loaded again.
    stamp = weights.stat().st_mtime_ns if weights.exists() else None
    key = ("encoder", str(folder.resolve()), stamp, loaded.weights_hash, str(device_of(loaded)))
    return cached_part(key, lambda: load_encoder(folder, expected=loaded.config).to(device_of(loaded)))


def perceptual_distance(loaded: LoadedModel) -> PerceptualDistance | None:
    """The model's perceptual distance (its discriminator's features) on its device; None without one."""
    import torch

    from editing_engine.losses import build_perceptual_distance

    distance = build_perceptual_distance(loaded)
    if isinstance(distance, torch.nn.Module):
        distance.to(device_of(loaded))
    return distance


def image_latent(image: Image, loaded: LoadedModel) -> torch.Tensor:
    """An image's stored W+ latent ``[1, num_ws, w_dim]`` on the generator's device."""
    from editing_engine.vectors import load_latent

    if not image.latent:
        raise InvalidInput(f"Image {image.pk} has no latent yet; embed it first.", code="no_latent")
    config = loaded.config
    ws = load_latent(local_copy(image.latent.name), loaded.weights_hash, (config.num_ws, config.w_dim))
    return ws.to(device_of(loaded))


def label_map(name: str | None) -> np.ndarray:
    """A stored mask PNG (indexed or greyscale) as its ``[H, W]`` array of label indices."""
    with open_stored(name) as file, PILImage.open(file) as mask:
        if mask.mode not in ("L", "P"):
            raise InvalidInput(f"The stored mask {name} is not a PNG of label indices.", code="invalid_mask")
        return np.asarray(mask, dtype=np.uint8).copy()
