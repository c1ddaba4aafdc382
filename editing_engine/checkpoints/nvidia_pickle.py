"""NVIDIA stylegan2-ada-pytorch / stylegan3 network pickles, read by a restricted unpickler (no code runs)."""

from __future__ import annotations

import hashlib
import io
import pickle
import re
import warnings
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..generator import Generator, GeneratorConfig, lowpass_filter
from .base import (
    FORMAT_NVIDIA,
    W_AVG_SAMPLES,
    CheckpointError,
    LoadedModel,
    _key_list,
)
from .import_plan import (
    _assemble,
    _channel_params,
    _Copy,
    _estimate_w_avg,
    _expect_range,
    _file_sha256,
    _imported,
    _indices,
    _make_config,
    _shape_of,
)


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
