"""Resumable training state on disk: ``state.safetensors`` (tensors) + ``state.json`` (everything else).

The tensors hold G, G_ema, D, both Adam optimisers' moments and the torch RNG state; the JSON
holds the configs, counters and the numpy RNG state. Both files are written to temporary names
and renamed into place; the step is recorded in both, and a mismatch is refused on load.
No pickles are written or read.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from safetensors import safe_open
from safetensors.torch import save_file

from ..checkpoints import CheckpointError, fill_module

STATE_TENSORS = "state.safetensors"
STATE_JSON = "state.json"
STATE_FORMAT = "partedit-training-state/v1"


@dataclass
class TrainingState:
    """Everything a run needs to continue exactly where it stopped."""

    modules: dict[str, torch.nn.Module]
    optimizers: dict[str, torch.optim.Optimizer]
    step: int
    images_seen: int
    wall_time: float
    numpy_rng_state: dict[str, Any]
    info: dict[str, Any]


def _optimizer_tensors(name: str, optimizer: torch.optim.Optimizer) -> dict[str, torch.Tensor]:
    tensors: dict[str, torch.Tensor] = {}
    for index, state in optimizer.state_dict()["state"].items():
        for key, value in state.items():
            tensors[f"{name}.{index}.{key}"] = torch.as_tensor(value).detach().cpu().contiguous()
    return tensors


def _restore_optimizer(name: str, optimizer: torch.optim.Optimizer, tensors: dict[str, torch.Tensor]) -> None:
    prefix = f"{name}."
    state: dict[int, dict[str, torch.Tensor]] = {}
    for key, value in tensors.items():
        if key.startswith(prefix):
            index, field = key[len(prefix):].split(".", 1)
            state.setdefault(int(index), {})[field] = value
    current = optimizer.state_dict()
    if state and set(state) != {i for group in current["param_groups"] for i in group["params"]}:
        raise CheckpointError(f"{name}: optimiser state does not match the network's parameters")
    optimizer.load_state_dict({"state": state, "param_groups": current["param_groups"]})


def save_state(directory: Path, state: TrainingState) -> None:
    """Atomically write ``state`` into ``directory`` (tensors first, then the JSON)."""
    directory.mkdir(parents=True, exist_ok=True)
    tensors: dict[str, torch.Tensor] = {}
    for name, module in state.modules.items():
        tensors.update({f"{name}.{k}": v.detach().cpu().contiguous() for k, v in module.state_dict().items()})
    for name, optimizer in state.optimizers.items():
        tensors.update(_optimizer_tensors(name, optimizer))
    tensors["rng.torch"] = torch.get_rng_state()
    if torch.cuda.is_available():
        tensors["rng.cuda"] = torch.cuda.get_rng_state()
    tmp_tensors = directory / (STATE_TENSORS + ".tmp")
    save_file(tensors, str(tmp_tensors), metadata={"format": STATE_FORMAT, "step": str(state.step)})
    tmp_tensors.replace(directory / STATE_TENSORS)
    document = {
        "format": STATE_FORMAT,
        "step": state.step,
        "images_seen": state.images_seen,
        "wall_time": state.wall_time,
        "numpy_rng": state.numpy_rng_state,
        **state.info,
    }
    tmp_json = directory / (STATE_JSON + ".tmp")
    tmp_json.write_text(json.dumps(document, indent=2, sort_keys=True))
    tmp_json.replace(directory / STATE_JSON)


def read_state_info(directory: Path) -> dict[str, Any] | None:
    """The JSON half of a saved state, or ``None`` when ``directory`` holds no state."""
    path = directory / STATE_JSON
    if not path.exists():
        return None
    try:
        info: dict[str, Any] = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as error:
        raise CheckpointError(f"cannot read training state {path}: {error}") from error
    if info.get("format") != STATE_FORMAT:
        raise CheckpointError(f"{path} has format {info.get('format')!r}, expected {STATE_FORMAT!r}")
    return info


def load_state_into(directory: Path, modules: dict[str, torch.nn.Module],
                    optimizers: dict[str, torch.optim.Optimizer]) -> dict[str, Any]:
    """Fill ``modules`` and ``optimizers`` from ``directory``, restore torch RNG; returns the JSON info."""
    info = read_state_info(directory)
    if info is None:
        raise CheckpointError(f"no training state in {directory}")
    path = directory / STATE_TENSORS
    try:
        with safe_open(str(path), framework="pt") as handle:
            step = (handle.metadata() or {}).get("step")
            tensors = {key: handle.get_tensor(key) for key in handle.keys()}  # noqa: SIM118
    except (OSError, ValueError) as error:
        raise CheckpointError(f"cannot read training state {path}: {error}") from error
    if step != str(info["step"]):
        raise CheckpointError(
            f"{path} is from step {step} but {directory / STATE_JSON} from step {info['step']}: "
            "the snapshot was interrupted while being written"
        )
    for name, module in modules.items():
        prefix = f"{name}."
        fill_module(module, {k[len(prefix):]: v for k, v in tensors.items() if k.startswith(prefix)}, name)
    for name, optimizer in optimizers.items():
        _restore_optimizer(name, optimizer, tensors)
    torch.set_rng_state(tensors["rng.torch"])
    if "rng.cuda" in tensors and torch.cuda.is_available():
        torch.cuda.set_rng_state(tensors["rng.cuda"])
    return info
