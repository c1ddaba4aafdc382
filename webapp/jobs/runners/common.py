"""Worker-side helpers shared by the runners: the registered model, its encoder and losses, latent files."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from webapp.assets.models import GeneratorModel, Image
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

    loaded = loaded_model(Path(model.path))
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
    from editing_engine.encoder import load_encoder

    folder = Path(model.path) / ENCODER_FOLDER
    if not folder.is_dir():
        return None
    return load_encoder(folder, expected=loaded.config).to(device_of(loaded))


def perceptual_distance(loaded: LoadedModel) -> PerceptualDistance | None:
    """The model's perceptual distance (its discriminator's features) on its device; None without one."""
    import torch

    from editing_engine.losses import build_perceptual_distance

    distance = build_perceptual_distance(loaded)
    if isinstance(distance, torch.nn.Module):
        distance.to(device_of(loaded))
    return distance


def latent_bytes(ws: torch.Tensor, model_hash: str, source: dict[str, Any]) -> bytes:
    """A W+ latent as the bytes of the engine's latent file format."""
    from editing_engine.vectors import save_latent

    with tempfile.TemporaryDirectory() as folder:
        path = save_latent(Path(folder) / "latent.safetensors", ws.detach().cpu(), model_hash, source)
        return path.read_bytes()


def image_latent(image: Image, loaded: LoadedModel) -> torch.Tensor:
    """An image's stored W+ latent ``[1, num_ws, w_dim]`` on the generator's device."""
    from editing_engine.vectors import load_latent

    if not image.latent:
        raise InvalidInput(f"Image {image.pk} has no latent yet; embed it first.", code="no_latent")
    config = loaded.config
    ws = load_latent(image.latent.path, loaded.weights_hash, (config.num_ws, config.w_dim))
    return ws.to(device_of(loaded))
