"""Model files in and out.

The engine saves one format only: a directory holding ``config.json`` (the generator
config plus metadata) and ``weights.safetensors`` (tensors prefixed ``G_ema.`` and,
optionally, ``D.`` for the discriminator). ``load_generator`` is the single entry point
every caller (CLI, Celery worker, tests) uses to get a generator from disk.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

from .generator import Generator, GeneratorConfig

CONFIG_FILE = "config.json"
WEIGHTS_FILE = "weights.safetensors"
FORMAT_NAME = "partedit-generator/v1"


class CheckpointError(ValueError):
    """A model file is missing, malformed, or does not match the network it should fill."""


@dataclass
class LoadedModel:
    """A generator loaded from disk, with its optional discriminator state and metadata."""

    generator: Generator
    config: GeneratorConfig
    weights_hash: str
    discriminator_state: dict[str, torch.Tensor] = field(default_factory=dict)
    discriminator_config: dict[str, object] = field(default_factory=dict)
    metadata: dict[str, object] = field(default_factory=dict)


def hash_state(state: dict[str, torch.Tensor]) -> str:
    """A stable SHA-256 of a state dict's names, shapes and values (identifies a model)."""
    digest = hashlib.sha256()
    for name in sorted(state):
        tensor = state[name].detach().cpu().contiguous()
        digest.update(name.encode())
        digest.update(str(tuple(tensor.shape)).encode())
        digest.update(tensor.numpy().tobytes())
    return digest.hexdigest()


def fill_module(module: torch.nn.Module, state: dict[str, torch.Tensor], what: str) -> None:
    """Copy ``state`` into ``module``; every key must exist on both sides with equal shapes."""
    own = module.state_dict()
    missing = sorted(set(own) - set(state))
    extra = sorted(set(state) - set(own))
    if missing or extra:
        raise CheckpointError(
            f"{what}: checkpoint does not match the network "
            f"(missing keys: {missing[:8]}{'...' if len(missing) > 8 else ''}; "
            f"unexpected keys: {extra[:8]}{'...' if len(extra) > 8 else ''})"
        )
    for name, tensor in state.items():
        if tuple(tensor.shape) != tuple(own[name].shape):
            raise CheckpointError(
                f"{what}: shape of {name} is {list(tensor.shape)} in the checkpoint, "
                f"network expects {list(own[name].shape)}"
            )
    module.load_state_dict({name: tensor.to(own[name].dtype) for name, tensor in state.items()})


def save_model(
    directory: str | Path,
    generator: Generator,
    discriminator: torch.nn.Module | None = None,
    discriminator_config: dict[str, object] | None = None,
    metadata: dict[str, object] | None = None,
) -> Path:
    """Write a generator (and optional discriminator) in the project's own format."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    tensors = {f"G_ema.{k}": v.detach().cpu().contiguous() for k, v in generator.state_dict().items()}
    if discriminator is not None:
        tensors.update({f"D.{k}": v.detach().cpu().contiguous()
                        for k, v in discriminator.state_dict().items()})
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
    if config_data.get("format") != FORMAT_NAME:
        raise CheckpointError(
            f"{directory / CONFIG_FILE} has format {config_data.get('format')!r}, "
            f"expected {FORMAT_NAME!r}"
        )
    try:
        config = GeneratorConfig.from_dict(config_data["generator"])
        tensors = load_file(str(directory / WEIGHTS_FILE))
    except (KeyError, ValueError, TypeError, OSError) as error:
        raise CheckpointError(f"cannot load model from {directory}: {error}") from error
    g_state = {k[len("G_ema."):]: v for k, v in tensors.items() if k.startswith("G_ema.")}
    d_state = {k[len("D."):]: v for k, v in tensors.items() if k.startswith("D.")}
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


def load_generator(path: str | Path) -> LoadedModel:
    """Load a generator from ``path``, detecting the checkpoint format."""
    path = Path(path)
    if path.is_dir():
        return load_native(path)
    if not path.exists():
        raise CheckpointError(f"no checkpoint at {path}")
    raise CheckpointError(f"unrecognised checkpoint format: {path}")
