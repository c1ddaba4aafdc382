"""Model files in and out: the project's own format, and safe import of public StyleGAN2 checkpoints.

The engine saves one format only: a directory holding ``config.json`` (the generator config plus
metadata) and ``weights.safetensors`` (tensors prefixed ``G_ema.`` and, optionally, ``D.`` for the
discriminator). ``load_generator`` is the single entry point every caller (CLI, Celery worker,
tests) uses to get a generator from disk; it detects the format and also reads

- rosinality stylegan2-pytorch ``.pt`` files (``g_ema``, optional ``d`` and ``latent_avg``), through
  ``torch.load(weights_only=True)``;
- NVIDIA stylegan2-ada-pytorch / stylegan3 network pickles (``G_ema``, ``D``, ...), through a
  restricted unpickler that rebuilds tensors, plain containers and ``torch_utils.persistence``
  records and refuses every other global, so no code from the file is imported or run.

Imported weights are renamed onto this project's parameter names, every source tensor must be
consumed and every shape must match. docs/checkpoints.md holds the key tables and what is exact.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import math
import pickle
import re
import warnings
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors.torch import load_file, save_file

from editing_engine import formats
from editing_engine.errors import EngineError

from .generator import Generator, GeneratorConfig, lowpass_filter

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


# ---------------------------------------------------------------------------------------------
# The project's own format.


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


# ---------------------------------------------------------------------------------------------
# Renaming a foreign state dict onto ours: a plan of copies, checked before anything is copied.


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


# ---------------------------------------------------------------------------------------------
# rosinality stylegan2-pytorch.


def _rosinality_config(g: Mapping[str, torch.Tensor], what: str) -> GeneratorConfig:
    """Infer our GeneratorConfig from the shapes of a rosinality ``g_ema`` state dict."""
    layers = _expect_range(_indices(g, r"style\.(\d+)\.weight"), 1, what, "mapping layer style.{i}")
    w_dim, z_dim = _shape_of(g, "style.1.weight", 2, what)
    rgb_indices = _indices(g, r"to_rgbs\.(\d+)\.conv\.weight")
    upsampling_blocks = _expect_range(rgb_indices, 0, what, "to_rgbs.{i}") if rgb_indices else 0
    resolution = 2 ** (upsampling_blocks + 2)
    widths = {4: _shape_of(g, "conv1.conv.weight", 5, what)[1]}
    for block in range(upsampling_blocks):
        widths[2 ** (block + 3)] = _shape_of(g, f"convs.{2 * block + 1}.conv.weight", 5, what)[1]
    channel_base, channel_max = _channel_params(widths, what)
    return _make_config(
        what, resolution=resolution, z_dim=z_dim, w_dim=w_dim, mapping_layers=layers,
        mapping_lr_multiplier=ROSINALITY_MAPPING_LR, channel_base=channel_base, channel_max=channel_max,
        img_channels=_shape_of(g, "to_rgb1.conv.weight", 5, what)[1],
    )


def _rosinality_plan(generator: Generator) -> tuple[list[_Copy], dict[str, torch.Tensor]]:
    """The copies from rosinality names to ours, and the rosinality blur buffers to consume."""
    own = {name: tuple(tensor.shape) for name, tensor in generator.state_dict().items()}
    copies: list[_Copy] = []
    constants: dict[str, torch.Tensor] = {}
    upsample_kernel = lowpass_filter() * 4

    def add(target: str, source: str, source_shape: tuple[int, ...] | None = None,
            flip: bool = False) -> None:
        copies.append(_Copy(target, source, source_shape or own[target], flip))

    for index in range(generator.config.mapping_layers):
        add(f"mapping.fc{index}.weight", f"style.{index + 1}.weight")
        add(f"mapping.fc{index}.bias", f"style.{index + 1}.bias")

    def styled_conv(target: str, source: str, noise_index: int, up: bool) -> None:
        add(f"{target}.affine.weight", f"{source}.conv.modulation.weight")
        add(f"{target}.affine.bias", f"{source}.conv.modulation.bias")
        add(f"{target}.weight", f"{source}.conv.weight", (1, *own[f"{target}.weight"]), flip=up)
        add(f"{target}.bias", f"{source}.activate.bias")
        add(f"{target}.noise_strength", f"{source}.noise.weight", (1,))
        add(f"{target}.noise_const", f"noises.noise_{noise_index}", (1, 1, *own[f"{target}.noise_const"]))
        if up:
            constants[f"{source}.conv.blur.kernel"] = upsample_kernel

    def to_rgb(target: str, source: str, up: bool) -> None:
        add(f"{target}.affine.weight", f"{source}.conv.modulation.weight")
        add(f"{target}.affine.bias", f"{source}.conv.modulation.bias")
        add(f"{target}.weight", f"{source}.conv.weight", (1, *own[f"{target}.weight"]))
        add(f"{target}.bias", f"{source}.bias", (1, own[f"{target}.bias"][0], 1, 1))
        if up:
            constants[f"{source}.upsample.kernel"] = upsample_kernel

    add("synthesis.b4.const", "input.input", (1, *own["synthesis.b4.const"]))
    styled_conv("synthesis.b4.conv1", "conv1", 0, up=False)
    to_rgb("synthesis.b4.torgb", "to_rgb1", up=False)
    for block, res in enumerate(generator.config.block_resolutions[1:]):
        styled_conv(f"synthesis.b{res}.conv0", f"convs.{2 * block}", 2 * block + 1, up=True)
        styled_conv(f"synthesis.b{res}.conv1", f"convs.{2 * block + 1}", 2 * block + 2, up=False)
        to_rgb(f"synthesis.b{res}.torgb", f"to_rgbs.{block}", up=True)
    return copies, constants


def _torch_load_weights_only(path: Path) -> object:
    """``torch.load(weights_only=True)``, also admitting the argparse Namespace training runs store."""
    try:
        with torch.serialization.safe_globals([argparse.Namespace]):
            return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as error:
        found = re.search(r"GLOBAL ([\w.]+)", str(error))
        lines = [line for line in str(error).splitlines() if line.strip()]
        detail = f"it references {found.group(1)}" if found else lines[min(1, len(lines) - 1)]
        raise CheckpointError(f"{path}: refused by torch's weights-only loader: {detail}") from error
    except Exception as error:  # torch raises RuntimeError, EOFError, ... for damaged archives
        raise CheckpointError(f"{path}: cannot read torch checkpoint: {error}") from error


def load_rosinality(path: Path) -> LoadedModel:
    """Import a rosinality stylegan2-pytorch ``.pt`` file (``g_ema``, optional ``d`` and ``latent_avg``)."""
    data = _torch_load_weights_only(path)
    if not isinstance(data, dict) or "g_ema" not in data:
        keys = sorted(map(str, data)) if isinstance(data, dict) else type(data).__name__
        raise CheckpointError(
            f"{path}: not a rosinality stylegan2-pytorch checkpoint (no 'g_ema'; found {keys})"
        )
    what = f"{path} (rosinality g_ema)"
    g_ema = _tensor_dict(data["g_ema"], what)
    generator = Generator(_rosinality_config(g_ema, what))
    copies, constants = _rosinality_plan(generator)
    _assemble(generator, g_ema, copies, constants, (), what)
    metadata: dict[str, object] = {"source_format": FORMAT_ROSINALITY, "source_file": path.name,
                                   "source_sha256": _file_sha256(path)}
    latent_avg = data.get("latent_avg")
    if latent_avg is None:
        _estimate_w_avg(generator)
        metadata["w_avg_source"] = f"estimated from {W_AVG_SAMPLES} seeded z samples (no latent_avg)"
    else:
        if not isinstance(latent_avg, torch.Tensor):
            raise CheckpointError(f"{path}: latent_avg is a {type(latent_avg).__name__}, not a tensor")
        if latent_avg.numel() != generator.config.w_dim:
            raise CheckpointError(
                f"{path}: latent_avg has shape {list(latent_avg.shape)}, expected [{generator.config.w_dim}]"
            )
        generator.w_avg.copy_(latent_avg.detach().reshape(-1).float())
        metadata["w_avg_source"] = "latent_avg"
    discriminator_state: dict[str, torch.Tensor] = {}
    if data.get("d") is not None:
        discriminator_state = _tensor_dict(data["d"], f"{path} (rosinality d)")
        metadata["discriminator_layout"] = (
            "rosinality stylegan2-pytorch Discriminator state dict, names as in its model.py "
            "(convs.{i}, final_conv, final_linear); not loadable into PartEdit's discriminator"
        )
    known = {"g_ema", "latent_avg", "d"}
    metadata["ignored_entries"] = sorted(str(key) for key in data if key not in known)
    return _imported(generator, discriminator_state, metadata)


# ---------------------------------------------------------------------------------------------
# NVIDIA network pickles, read by a restricted unpickler.


@dataclass
class PersistentRecord:
    """What ``torch_utils.persistence`` pickled for one network object: its class name and ``__dict__``.

    The embedded module source is never executed; only its SHA-256 is kept for provenance.
    """

    class_name: str
    state: dict[str, object]
    module_src_sha256: str

    def __setstate__(self, state: object) -> None:
        """Refuse BUILD on a record: persistence records carry their state in ``meta``."""
        raise CheckpointError("malformed network pickle: BUILD applied to a persistence record")


class _EasyDictData(dict[str, object]):
    """Stand-in for ``dnnlib.util.EasyDict``: a plain dict, without attribute access."""


def _persistent_record(meta: object) -> PersistentRecord:
    """Replacement for ``torch_utils.persistence._reconstruct_persistent_obj``: keep data, run nothing."""
    if not isinstance(meta, dict) or meta.get("type") != "class":
        raise CheckpointError("malformed torch_utils.persistence record (expected a meta dict, type 'class')")
    class_name, state, source = meta.get("class_name"), meta.get("state"), meta.get("module_src")
    if not isinstance(class_name, str) or not isinstance(state, dict) or not isinstance(source, str):
        raise CheckpointError("malformed torch_utils.persistence record (class_name, state or module_src)")
    return PersistentRecord(class_name, dict(state), hashlib.sha256(source.encode()).hexdigest())


def _load_storage(data: object) -> torch.Tensor:
    """Replacement for ``torch.storage._load_from_bytes``: decode with torch's weights-only loader.

    Returns the storage as a flat tensor, which ``_rebuild_tensor`` views with bounds checks.
    """
    if not isinstance(data, bytes):
        raise CheckpointError("malformed network pickle: storage payload is not bytes")
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="TypedStorage is deprecated")
        storage = torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
        if not isinstance(storage, torch.storage.TypedStorage):
            raise CheckpointError(f"malformed network pickle: storage payload is a {type(storage).__name__}")
        return torch.empty(0, dtype=storage.dtype).set_(storage.untyped())


def _rebuild_tensor(
    storage: object, offset: object, size: object, stride: object, *_: object
) -> torch.Tensor:
    """Replacement for ``torch._utils._rebuild_tensor_v2``: a view of a loaded storage, without hooks."""
    if not isinstance(storage, torch.Tensor) or storage.ndim != 1 or not isinstance(offset, int) \
            or not isinstance(size, tuple) or not isinstance(stride, tuple):
        raise CheckpointError("malformed network pickle: bad tensor record")
    return storage.as_strided(size, stride, offset)


def _rebuild_parameter(data: object, *_: object) -> torch.Tensor:
    """Replacement for ``torch._utils._rebuild_parameter``: the parameter's data as a plain tensor."""
    if not isinstance(data, torch.Tensor):
        raise CheckpointError("malformed network pickle: parameter without tensor data")
    return data


def _numpy_scalar(dtype: object, data: object = None) -> object:
    """Replacement for numpy's ``multiarray.scalar`` limited to plain (non-object) dtypes."""
    if not isinstance(dtype, np.dtype) or dtype.hasobject or not isinstance(data, bytes):
        raise CheckpointError("malformed network pickle: unsupported numpy scalar")
    return np.frombuffer(data, dtype=dtype, count=1)[0]


def _numpy_reconstruct(subtype: object, shape: object, typecode: object) -> np.ndarray:
    """Replacement for numpy's ``multiarray._reconstruct`` limited to plain ndarrays."""
    if subtype is not np.ndarray or not isinstance(shape, tuple) or not isinstance(typecode, bytes | str) \
            or not all(isinstance(n, int) for n in shape):
        raise CheckpointError("malformed network pickle: unsupported numpy array record")
    code = typecode.decode("ascii") if isinstance(typecode, bytes) else typecode
    return np.ndarray(shape, dtype=np.dtype(code))


def _numpy_dtype(spec: object, align: object = False, copy: object = False) -> np.dtype:
    """``numpy.dtype`` for a string type code only."""
    if not isinstance(spec, str):
        raise CheckpointError("malformed network pickle: unsupported numpy dtype")
    return np.dtype(spec, align=bool(align), copy=bool(copy))


def _latin1_bytes(text: object, encoding: object = "latin1") -> bytes:
    """Replacement for ``_codecs.encode``, which protocol-2 pickles use to carry bytes, latin-1 only."""
    if not isinstance(text, str) or encoding not in ("latin1", "latin-1"):
        raise CheckpointError("malformed network pickle: unsupported _codecs.encode call")
    return text.encode("latin1")


_NUMPY_CORE = ("numpy.core.multiarray", "numpy._core.multiarray")

ALLOWED_GLOBALS: dict[tuple[str, str], object] = {
    ("torch_utils.persistence", "_reconstruct_persistent_obj"): _persistent_record,
    ("dnnlib.util", "EasyDict"): _EasyDictData,
    ("dnnlib", "EasyDict"): _EasyDictData,
    ("torch._utils", "_rebuild_tensor_v2"): _rebuild_tensor,
    ("torch._utils", "_rebuild_tensor"): _rebuild_tensor,
    ("torch._utils", "_rebuild_parameter"): _rebuild_parameter,
    ("torch._utils", "_rebuild_parameter_with_state"): _rebuild_parameter,
    ("torch.storage", "_load_from_bytes"): _load_storage,
    ("_codecs", "encode"): _latin1_bytes,
    ("collections", "OrderedDict"): OrderedDict,
    ("builtins", "set"): set,
    ("builtins", "frozenset"): frozenset,
    ("builtins", "dict"): dict,
    ("builtins", "list"): list,
    ("builtins", "tuple"): tuple,
    ("numpy", "dtype"): _numpy_dtype,
    ("numpy", "ndarray"): np.ndarray,
    **{(module, "scalar"): _numpy_scalar for module in _NUMPY_CORE},
    **{(module, "_reconstruct"): _numpy_reconstruct for module in _NUMPY_CORE},
}
"""Every global a network pickle may name, mapped to the safe object that stands in for it."""


class RestrictedUnpickler(pickle.Unpickler):
    """Unpickler that resolves only ``ALLOWED_GLOBALS`` and refuses everything else by name."""

    def find_class(self, module: str, name: str) -> Any:
        """Return the safe stand-in for ``module.name`` or raise CheckpointError naming it."""
        module = {"__builtin__": "builtins"}.get(module, module)  # protocol-2 streams from Python 2
        try:
            return ALLOWED_GLOBALS[(module, name)]
        except KeyError:
            tensorflow = module.startswith("dnnlib.tflib")
            hint = " (TensorFlow StyleGAN pickles are not supported)" if tensorflow else ""
            raise CheckpointError(
                f"refusing to load {module}.{name}: network pickles may only contain tensors, plain "
                f"containers and torch_utils.persistence records{hint}"
            ) from None

    def persistent_load(self, pid: object) -> Any:
        """Refuse persistent ids (network pickles do not use them)."""
        raise CheckpointError("refusing persistent id in a network pickle")


def read_network_pickle(path: Path) -> object:
    """Unpickle ``path`` with ``RestrictedUnpickler``; errors become CheckpointError."""
    try:
        with path.open("rb") as handle:
            return RestrictedUnpickler(handle).load()
    except CheckpointError as error:
        raise CheckpointError(f"{path}: {error}") from None
    except Exception as error:  # a hostile or damaged stream can raise nearly any error type
        raise CheckpointError(f"{path}: cannot unpickle network pickle: {error!r}") from error


def record_state_dict(record: PersistentRecord, what: str, prefix: str = "") -> dict[str, torch.Tensor]:
    """The ``state_dict`` of a persistence record tree: parameters and persistent buffers, dotted names."""
    state = record.state
    skipped = state.get("_non_persistent_buffers_set") or set()
    tensors: dict[str, torch.Tensor] = {}
    for group in ("_parameters", "_buffers"):
        entries = state.get(group) or {}
        if not isinstance(entries, dict):
            raise CheckpointError(f"{what}: {prefix}{group} of {record.class_name} is not a dict")
        for name, value in entries.items():
            if value is None or (group == "_buffers" and isinstance(skipped, set) and name in skipped):
                continue
            if not isinstance(value, torch.Tensor):
                raise CheckpointError(f"{what}: {prefix}{name} is a {type(value).__name__}, not a tensor")
            tensors[f"{prefix}{name}"] = value
    for name, child in _children(record, what).items():
        tensors.update(record_state_dict(child, what, f"{prefix}{name}."))
    return tensors


def _children(record: PersistentRecord, what: str) -> dict[str, PersistentRecord]:
    """The sub-networks of a record (``_modules``), each itself a persistence record."""
    modules = record.state.get("_modules") or {}
    if not isinstance(modules, dict):
        raise CheckpointError(f"{what}: _modules of {record.class_name} is not a dict")
    children = {}
    for name, child in modules.items():
        if child is None:
            continue
        if not isinstance(child, PersistentRecord):
            raise CheckpointError(
                f"{what}: sub-network {name} of {record.class_name} is not a persistence record"
            )
        children[str(name)] = child
    return children


def _attribute(record: PersistentRecord, name: str, default: object = None) -> object:
    """A plain attribute the network object stored in its ``__dict__``."""
    return record.state.get(name, default)


def _check_stylegan2_synthesis(synthesis: PersistentRecord, what: str) -> dict[str, PersistentRecord]:
    """Refuse StyleGAN3 and non-'skip' StyleGAN2 synthesis networks with a clear message."""
    blocks = _children(synthesis, what)
    classes = {child.class_name for child in blocks.values()}
    if "SynthesisInput" in classes or "input" in blocks or not all(re.fullmatch(r"b\d+", n) for n in blocks):
        raise CheckpointError(
            f"{what}: G_ema.synthesis is not a StyleGAN2 synthesis network (sub-networks "
            f"{_key_list(blocks)}, classes {_key_list(classes)}); StyleGAN3 (alias-free, SynthesisInput + "
            "L{i}_{size}_{channels} layers) is an unsupported architecture: its mapping network would be "
            "compatible but its synthesis network is not"
        )
    for name, block in blocks.items():
        architecture = _attribute(block, "architecture", "skip")
        if architecture != "skip":
            raise CheckpointError(
                f"{what}: synthesis block {name} uses architecture {architecture!r}; only 'skip' (the "
                "StyleGAN2 default for generators) is supported"
            )
        for layer_name, layer in _children(block, what).items():
            activation = _attribute(layer, "activation", "lrelu")
            if layer.class_name == "SynthesisLayer" and activation != "lrelu":
                raise CheckpointError(f"{what}: {name}.{layer_name} uses activation {activation!r}")
            if layer.class_name == "SynthesisLayer" and _attribute(layer, "use_noise", True) is not True:
                raise CheckpointError(f"{what}: {name}.{layer_name} has no noise input (use_noise=False)")
    return blocks


def _number(value: object, what: str, name: str) -> float:
    """A float from a pickled Python or numpy number."""
    if isinstance(value, bool) or not isinstance(value, int | float | np.number):
        raise CheckpointError(f"{what}: {name} is {value!r}, expected a number")
    return float(value)


def _nvidia_config(g_ema: PersistentRecord, state: Mapping[str, torch.Tensor], what: str) -> GeneratorConfig:
    """Infer our GeneratorConfig from an NVIDIA G_ema record (attributes cross-checked with shapes)."""
    children = _children(g_ema, what)
    if g_ema.class_name != "Generator" or "mapping" not in children or "synthesis" not in children:
        raise CheckpointError(
            f"{what}: G_ema is a {g_ema.class_name} with sub-networks {_key_list(children)}, "
            "expected a Generator with mapping and synthesis"
        )
    c_dim = _attribute(g_ema, "c_dim", 0)
    if c_dim or "mapping.embed.weight" in state:
        raise CheckpointError(f"{what}: conditional generators (c_dim={c_dim}) are not supported")
    blocks = _check_stylegan2_synthesis(children["synthesis"], what)
    mapping = children["mapping"]
    layers = _expect_range(_indices(state, r"mapping\.fc(\d+)\.weight"), 0, what, "mapping.fc{i}")
    w_dim, z_dim = _shape_of(state, "mapping.fc0.weight", 2, what)
    fc0 = _children(mapping, what)["fc0"]
    lr_multiplier = _number(_attribute(fc0, "lr_multiplier", _attribute(fc0, "bias_gain")), what,
                            "mapping.fc0 lr_multiplier")
    w_avg_beta = _attribute(mapping, "w_avg_beta", 0.995)
    resolutions = sorted(int(name[1:]) for name in blocks)
    widths = {res: _shape_of(state, f"synthesis.b{res}.conv1.weight", 4, what)[0] for res in resolutions}
    channel_base, channel_max = _channel_params(widths, what)
    config = _make_config(
        what, resolution=resolutions[-1], z_dim=z_dim, w_dim=w_dim, mapping_layers=layers,
        mapping_lr_multiplier=lr_multiplier, channel_base=channel_base, channel_max=channel_max,
        img_channels=_shape_of(state, f"synthesis.b{resolutions[-1]}.torgb.weight", 4, what)[0],
        w_avg_beta=0.995 if w_avg_beta is None else _number(w_avg_beta, what, "w_avg_beta"),
    )
    if resolutions != config.block_resolutions:
        raise CheckpointError(f"{what}: synthesis blocks {resolutions}, expected {config.block_resolutions}")
    inferred = {"z_dim": z_dim, "w_dim": w_dim, "img_resolution": config.resolution,
                "img_channels": config.img_channels}
    mismatched = {name: (_attribute(g_ema, name), value) for name, value in inferred.items()
                  if _attribute(g_ema, name) not in (None, value)}
    if mismatched:
        raise CheckpointError(
            f"{what}: G_ema attributes disagree with tensor shapes (declared, found): {mismatched}"
        )
    return config


def _nvidia_plan(generator: Generator) -> tuple[list[_Copy], dict[str, torch.Tensor]]:
    """Copies from NVIDIA names (ours by design) and NVIDIA's resampling filter buffers to consume."""
    own = generator.state_dict()
    copies = [
        _Copy(name, name, tuple(tensor.shape), flip=name.endswith(".conv0.weight"))
        for name, tensor in own.items() if not name.endswith("resample_filter")
    ]
    constants = {}
    for res in generator.config.block_resolutions:
        constants[f"synthesis.b{res}.resample_filter"] = lowpass_filter()
        for layer in ("conv1",) if res == 4 else ("conv0", "conv1"):
            constants[f"synthesis.b{res}.{layer}.resample_filter"] = lowpass_filter()
    return copies, constants


def _plain_json(value: object) -> object:
    """``value`` with only JSON types kept (strings, numbers, booleans, None, lists, dicts)."""
    if isinstance(value, dict):
        return {str(k): _plain_json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain_json(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return repr(value)


def load_network_pickle(path: Path) -> LoadedModel:
    """Import an NVIDIA stylegan2-ada-pytorch network pickle (``G_ema``, optional ``D``), running no code."""
    data = read_network_pickle(path)
    if not isinstance(data, dict) or "G_ema" not in data:
        keys = sorted(map(str, data)) if isinstance(data, dict) else type(data).__name__
        raise CheckpointError(f"{path}: not an NVIDIA network pickle (no 'G_ema'; found {keys})")
    what = f"{path} (G_ema)"
    g_ema = data["G_ema"]
    if not isinstance(g_ema, PersistentRecord):
        raise CheckpointError(f"{what}: G_ema is a {type(g_ema).__name__}, not a persistence record")
    state = record_state_dict(g_ema, what)
    generator = Generator(_nvidia_config(g_ema, state, what))
    copies, constants = _nvidia_plan(generator)
    _assemble(generator, state, copies, constants, ("mapping.w_avg",), what)
    metadata: dict[str, object] = {"source_format": FORMAT_NVIDIA, "source_file": path.name,
                                   "source_sha256": _file_sha256(path)}
    if "mapping.w_avg" in state:
        metadata["w_avg_source"] = "mapping.w_avg"
    else:
        _estimate_w_avg(generator)
        metadata["w_avg_source"] = f"estimated from {W_AVG_SAMPLES} seeded z samples (no mapping.w_avg)"
    blocks = _children(_children(g_ema, what)["synthesis"], what).values()
    clamps = {_attribute(block, "conv_clamp") for block in blocks}
    metadata["source_conv_clamp"] = _plain_json(sorted(clamps, key=repr))
    if isinstance(data.get("training_set_kwargs"), dict):
        metadata["source_training_set_kwargs"] = _plain_json(data["training_set_kwargs"])
    discriminator_state: dict[str, torch.Tensor] = {}
    if isinstance(data.get("D"), PersistentRecord):
        discriminator_state = record_state_dict(data["D"], f"{path} (D)")
        metadata["discriminator_layout"] = (
            "NVIDIA stylegan2-ada-pytorch Discriminator state dict (b{res}.fromrgb/conv0/conv1/skip, "
            "b4.conv/fc/out, resample_filter buffers); equalized-lr weights stored unscaled"
        )
    elif data.get("D") is not None:
        raise CheckpointError(f"{path}: D is a {type(data['D']).__name__}, not a persistence record")
    metadata["ignored_entries"] = sorted(str(key) for key in data if key not in {"G_ema", "D"})
    return _imported(generator, discriminator_state, metadata)


# ---------------------------------------------------------------------------------------------
# The single entry point.


def detect_format(path: str | Path) -> str:
    """Which checkpoint format ``path`` holds (``FORMAT_*``), from its layout and first bytes."""
    path = Path(path)
    if path.is_dir():
        if not (path / CONFIG_FILE).exists():
            raise CheckpointError(f"{path} is a directory without {CONFIG_FILE}: not a PartEdit model")
        return FORMAT_NATIVE
    if not path.exists():
        raise CheckpointError(f"no checkpoint at {path}")
    if path.name in (CONFIG_FILE, WEIGHTS_FILE):
        raise CheckpointError(f"{path}: a PartEdit model is a directory; pass {path.parent} instead")
    with path.open("rb") as handle:
        head = handle.read(len(_LEGACY_TORCH_MAGIC))
    if head.startswith(_ZIP_MAGIC) or head.startswith(_LEGACY_TORCH_MAGIC):
        return FORMAT_ROSINALITY
    if len(head) >= 2 and head[0] == 0x80 and 2 <= head[1] <= 5:
        return FORMAT_NVIDIA
    raise CheckpointError(
        f"unrecognised checkpoint format: {path} (first bytes {head[:8]!r}); expected a PartEdit model "
        "directory, a rosinality stylegan2-pytorch .pt file or an NVIDIA stylegan2-ada network pickle"
    )


_LOADERS: dict[str, Callable[[Path], LoadedModel]] = {
    FORMAT_NATIVE: load_native,
    FORMAT_ROSINALITY: load_rosinality,
    FORMAT_NVIDIA: load_network_pickle,
}


def load_generator(path: str | Path) -> LoadedModel:
    """Load a generator from ``path``, detecting the checkpoint format."""
    path = Path(path)
    return _LOADERS[detect_format(path)](path)


def import_checkpoint(source: str | Path, destination: str | Path, overwrite: bool = False) -> LoadedModel:
    """Convert any checkpoint ``load_generator`` reads into a PartEdit model directory (verified reload)."""
    destination = Path(destination)
    if destination.exists() and not destination.is_dir():
        raise CheckpointError(f"{destination} exists and is not a directory")
    if destination.is_dir() and any(destination.iterdir()) and not overwrite:
        raise CheckpointError(f"{destination} is not empty; pass overwrite=True (--overwrite) to replace it")
    model = load_generator(source)
    metadata = {**model.metadata, "imported_from_format": detect_format(source)}
    save_model(destination, model.generator, discriminator_config=model.discriminator_config or None,
               metadata=metadata, discriminator_state=model.discriminator_state or None)
    saved = load_native(destination)
    if saved.weights_hash != model.weights_hash:
        raise CheckpointError(f"{destination}: weights changed while saving (hash mismatch)")
    return saved
