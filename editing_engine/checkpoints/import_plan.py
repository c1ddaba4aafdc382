"""Renaming a foreign state dict onto this project's parameters: a plan of copies, checked before any copy."""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from ..generator import Generator, GeneratorConfig
from .base import (
    W_AVG_SAMPLES,
    CheckpointError,
    LoadedModel,
    _key_list,
    fill_module,
    hash_state,
)


@dataclass(frozen=True)
class _Copy:
    """One of our tensors taken from one source tensor of a known shape."""

    target: str
    source: str
    source_shape: tuple[int, ...]
    flip: bool = False


def _channel_params(widths: Mapping[int, int], what: str) -> tuple[int, int]:
    """(channel_base, channel_max) with ``min(base // res, max) == widths[res]`` for every resolution."""
    channel_max = max(widths.values())
    low, high = 0, math.inf
    for res, width in widths.items():
        low = max(low, width * res)
        if width < channel_max:
            high = min(high, width * res + res - 1)
    base = int(low)
    if base > high or any(min(base // res, channel_max) != width for res, width in widths.items()):
        raise CheckpointError(
            f"{what}: channel widths per resolution {dict(sorted(widths.items()))} cannot be expressed "
            "as min(channel_base // res, channel_max), which PartEdit's generator requires"
        )
    return base, channel_max


def _make_config(what: str, **values: Any) -> GeneratorConfig:
    """A GeneratorConfig, with invalid values reported as a CheckpointError."""
    try:
        return GeneratorConfig(**values)
    except (TypeError, ValueError) as error:
        raise CheckpointError(f"{what}: unsupported generator configuration: {error}") from error


def _shape_of(state: Mapping[str, torch.Tensor], key: str, ndim: int, what: str) -> tuple[int, ...]:
    """The shape of ``state[key]``, which must exist and have ``ndim`` dimensions."""
    if key not in state:
        raise CheckpointError(f"{what}: missing key {key}")
    shape = tuple(state[key].shape)
    if len(shape) != ndim:
        raise CheckpointError(f"{what}: {key} has shape {list(shape)}, expected {ndim} dimensions")
    return shape


def _indices(state: Iterable[str], pattern: str) -> list[int]:
    """Sorted integers captured by ``pattern`` (one group) over the keys of ``state``."""
    regex = re.compile(pattern)
    return sorted({int(m.group(1)) for key in state if (m := regex.fullmatch(key))})


def _expect_range(found: list[int], start: int, what: str, name: str) -> int:
    """Check ``found`` is ``start, start+1, ...`` without gaps; return its length."""
    if not found or found != list(range(start, start + len(found))):
        raise CheckpointError(f"{what}: {name} indices are {found}, expected {start}, {start + 1}, ...")
    return len(found)


def _assemble(
    generator: Generator,
    source: Mapping[str, torch.Tensor],
    copies: list[_Copy],
    constants: Mapping[str, torch.Tensor],
    optional: Iterable[str],
    what: str,
) -> None:
    """Fill ``generator`` from ``source`` following ``copies``; every source key must be used.

    ``constants`` are source buffers that carry no learned state (resampling filters): they are
    consumed after checking their value. ``optional`` sources may be absent; their targets then
    keep the generator's own values. Our ``resample_filter`` buffers are constants by construction,
    and ``mapping.w_avg`` keeps its zeros unless a copy fills it (callers set or estimate it).
    """
    optional = set(optional)
    needed = {copy.source for copy in copies} | set(constants)
    missing = needed - set(source) - optional
    unexpected = set(source) - needed
    if missing or unexpected:
        raise CheckpointError(
            f"{what}: checkpoint does not match a StyleGAN2 generator of the inferred configuration "
            f"(missing keys: {_key_list(missing)}; unexpected keys: {_key_list(unexpected)})"
        )
    for name, expected in constants.items():
        value = source[name]
        if value.shape != expected.shape or not torch.allclose(value.float(), expected, atol=1e-6):
            raise CheckpointError(
                f"{what}: {name} is not the [1,3,3,1] low-pass filter ({list(value.shape)}); "
                "only that resampling filter is supported"
            )
    own = generator.state_dict()
    state = {name: tensor for name, tensor in own.items()
             if name.endswith("resample_filter") or name == "mapping.w_avg"}
    for copy in copies:
        if copy.source not in source:
            state[copy.target] = own[copy.target]
            continue
        tensor = source[copy.source]
        if tuple(tensor.shape) != copy.source_shape:
            raise CheckpointError(
                f"{what}: shape of {copy.source} is {list(tensor.shape)} in the checkpoint, expected "
                f"{list(copy.source_shape)} (it fills {copy.target})"
            )
        tensor = tensor.detach().reshape(own[copy.target].shape)
        state[copy.target] = tensor.flip([2, 3]) if copy.flip else tensor
    fill_module(generator, state, what)


def _estimate_w_avg(generator: Generator) -> None:
    """Set ``mapping.w_avg`` to the mean of w over ``W_AVG_SAMPLES`` seeded z samples."""
    z = torch.randn(W_AVG_SAMPLES, generator.config.z_dim, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        ws = generator.mapping(z)
        generator.w_avg.copy_(ws[:, 0].mean(dim=0))


def _imported(
    generator: Generator,
    discriminator_state: dict[str, torch.Tensor],
    metadata: dict[str, object],
) -> LoadedModel:
    """Wrap an imported generator the way ``load_native`` wraps a native one."""
    generator = generator.eval().requires_grad_(False)
    return LoadedModel(
        generator=generator,
        config=generator.config,
        weights_hash=hash_state(generator.state_dict()),
        discriminator_state=discriminator_state,
        metadata=metadata,
    )


def _file_sha256(path: Path) -> str:
    """SHA-256 of a file's bytes (provenance of an imported model)."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _tensor_dict(value: object, what: str) -> dict[str, torch.Tensor]:
    """``value`` as a ``{name: tensor}`` dict, or a CheckpointError saying what it is instead."""
    if not isinstance(value, Mapping):
        raise CheckpointError(f"{what} is a {type(value).__name__}, expected a state dict")
    bad = [str(k) for k, v in value.items() if not isinstance(k, str) or not isinstance(v, torch.Tensor)]
    if bad:
        raise CheckpointError(f"{what} holds entries that are not named tensors: {_key_list(bad)}")
    return dict(value)
