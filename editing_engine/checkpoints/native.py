"""The project's own model directory: ``config.json`` and ``weights.safetensors`` (``G_ema.``, ``D.``)."""

from __future__ import annotations

import json
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

from ..generator import Generator, GeneratorConfig
from .base import (
    CONFIG_FILE,
    FORMAT_NAME,
    WEIGHTS_FILE,
    CheckpointError,
    LoadedModel,
    _key_list,
    fill_module,
    hash_state,
)


def save_model(
    directory: str | Path,
    generator: Generator,
    discriminator: torch.nn.Module | None = None,
    discriminator_config: dict[str, object] | None = None,
    metadata: dict[str, object] | None = None,
    discriminator_state: dict[str, torch.Tensor] | None = None,
) -> Path:
    """Write a generator (and optional discriminator module or raw state) in the project's own format."""
    if discriminator is not None and discriminator_state is not None:
        raise ValueError("pass either a discriminator module or a raw discriminator state, not both")
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    tensors = {f"G_ema.{k}": v.detach().cpu().contiguous() for k, v in generator.state_dict().items()}
    if discriminator is not None:
        discriminator_state = discriminator.state_dict()
    if discriminator_state is not None:
        tensors.update({f"D.{k}": v.detach().cpu().contiguous() for k, v in discriminator_state.items()})
    config = {
        "format": FORMAT_NAME,
        "generator": generator.config.to_dict(),
        "discriminator": discriminator_config or {},
        "metadata": metadata or {},
    }
    tmp_weights = directory / (WEIGHTS_FILE + ".tmp")
    save_file(tensors, str(tmp_weights))
    tmp_weights.replace(directory / WEIGHTS_FILE)
    tmp_config = directory / (CONFIG_FILE + ".tmp")
    tmp_config.write_text(json.dumps(config, indent=2, sort_keys=True))
    tmp_config.replace(directory / CONFIG_FILE)
    return directory


def load_native(directory: Path) -> LoadedModel:
    """Load a model directory written by ``save_model``."""
    try:
        config_data = json.loads((directory / CONFIG_FILE).read_text())
    except (OSError, json.JSONDecodeError) as error:
        raise CheckpointError(f"cannot read {directory / CONFIG_FILE}: {error}") from error
    if not isinstance(config_data, dict) or config_data.get("format") != FORMAT_NAME:
        found = config_data.get("format") if isinstance(config_data, dict) else type(config_data).__name__
        raise CheckpointError(
            f"{directory / CONFIG_FILE} has format {found!r}, expected {FORMAT_NAME!r}"
        )
    try:
        config = GeneratorConfig.from_dict(config_data["generator"])
        tensors = load_file(str(directory / WEIGHTS_FILE))
    except Exception as error:  # safetensors raises its own error types for corrupt files
        raise CheckpointError(f"cannot load model from {directory}: {error}") from error
    g_state = {k[len("G_ema."):]: v for k, v in tensors.items() if k.startswith("G_ema.")}
    d_state = {k[len("D."):]: v for k, v in tensors.items() if k.startswith("D.")}
    other = set(tensors) - {f"G_ema.{k}" for k in g_state} - {f"D.{k}" for k in d_state}
    if other:
        raise CheckpointError(f"{directory / WEIGHTS_FILE}: unexpected tensors {_key_list(other)}")
    generator = Generator(config)
    fill_module(generator, g_state, "generator")
    return LoadedModel(
        generator=generator.eval().requires_grad_(False),
        config=config,
        weights_hash=hash_state(g_state),
        discriminator_state=d_state,
        discriminator_config=dict(config_data.get("discriminator") or {}),
        metadata=dict(config_data.get("metadata") or {}),
    )
