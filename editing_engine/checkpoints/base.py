"""What every checkpoint module shares: the error type, the loaded model, weights hashing and format names."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

import torch

from editing_engine import formats
from editing_engine.errors import EngineError

from ..generator import Generator, GeneratorConfig

CONFIG_FILE = formats.GENERATOR_CONFIG_FILE
WEIGHTS_FILE = formats.GENERATOR_WEIGHTS_FILE
FORMAT_NAME = formats.GENERATOR_FORMAT

FORMAT_NATIVE = "partedit"
FORMAT_ROSINALITY = "rosinality-stylegan2-pytorch"
FORMAT_NVIDIA = "nvidia-network-pickle"

W_AVG_SAMPLES = 4096
"""How many seeded z samples estimate ``mapping.w_avg`` when a checkpoint does not store it."""

ROSINALITY_MAPPING_LR = 0.01
"""rosinality's ``lr_mlp`` default; it is not stored in its checkpoints (only the scaled weights are)."""

_ZIP_MAGIC = b"PK\x03\x04"
_LEGACY_TORCH_MAGIC = b"\x80\x02\x8a\x0a\x6c\xfc\x9c\x46\xf9\x20\x6a\xa8\x50\x19"
_ROSINALITY_TRAINING_ENTRIES = {"g", "g_optim", "d_optim", "args", "ada_aug_p"}


class CheckpointError(EngineError):
    """A model file is missing, malformed, unsafe, or does not match the network it should fill."""


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
    return formats.weights_hash({name: tensor.detach().cpu().numpy() for name, tensor in state.items()})


def _key_list(keys: Iterable[str], limit: int = 8) -> str:
    """``[a, b, ...]`` with at most ``limit`` names shown and the count of the rest."""
    names = sorted(keys)
    shown = ", ".join(names[:limit])
    rest = f", ... {len(names) - limit} more" if len(names) > limit else ""
    return f"[{shown}{rest}]"


def fill_module(module: torch.nn.Module, state: dict[str, torch.Tensor], what: str) -> None:
    """Copy ``state`` into ``module``; every key must exist on both sides with equal shapes."""
    own = module.state_dict()
    missing = set(own) - set(state)
    extra = set(state) - set(own)
    if missing or extra:
        raise CheckpointError(
            f"{what}: checkpoint does not match the network "
            f"(missing keys: {_key_list(missing)}; unexpected keys: {_key_list(extra)})"
        )
    for name, tensor in state.items():
        if tuple(tensor.shape) != tuple(own[name].shape):
            raise CheckpointError(
                f"{what}: shape of {name} is {list(tensor.shape)} in the checkpoint, "
                f"network expects {list(own[name].shape)}"
            )
    module.load_state_dict({name: tensor.to(own[name].dtype) for name, tensor in state.items()})
