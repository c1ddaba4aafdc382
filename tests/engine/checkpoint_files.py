"""Builders of foreign checkpoint files for the tests: rosinality state dicts and .pt files, bad pickles."""

from __future__ import annotations

import math
import pickle
import struct
from pathlib import Path

import torch


def blur_kernel() -> torch.Tensor:
    """[1,3,3,1] outer product, normalized (rosinality make_kernel / NVIDIA setup_filter)."""
    taps = torch.tensor([1.0, 3.0, 3.0, 1.0])
    kernel = taps[:, None] * taps[None, :]
    return kernel / kernel.sum()


WIDTHS = {4: 32, 8: 32, 16: 16, 32: 8}  # min(256 // res, 32)


def rosinality_g_ema(resolution: int, style_dim: int = 24, n_mlp: int = 3, seed: int = 0) -> dict:
    """A random g_ema state dict with rosinality's key names, nesting and storage shapes."""
    gen = torch.Generator().manual_seed(seed)

    def rand(*shape: int, scale: float = 1.0, offset: float = 0.0) -> torch.Tensor:
        return torch.randn(shape, generator=gen) * scale + offset

    state: dict[str, torch.Tensor] = {}
    for index in range(1, n_mlp + 1):
        state[f"style.{index}.weight"] = rand(style_dim, style_dim, scale=100.0)  # randn / lr_mul
        state[f"style.{index}.bias"] = rand(style_dim, scale=5.0)
    state["input.input"] = rand(1, WIDTHS[4], 4, 4)

    def styled(prefix: str, cin: int, cout: int, up: bool) -> None:
        state[f"{prefix}.conv.weight"] = rand(1, cout, cin, 3, 3)
        if up:
            state[f"{prefix}.conv.blur.kernel"] = blur_kernel() * 4
        state[f"{prefix}.conv.modulation.weight"] = rand(cin, style_dim)
        state[f"{prefix}.conv.modulation.bias"] = rand(cin, scale=0.2, offset=1.0)
        state[f"{prefix}.noise.weight"] = rand(1, scale=0.3)
        state[f"{prefix}.activate.bias"] = rand(cout, scale=0.2)

    def to_rgb(prefix: str, cin: int, up: bool) -> None:
        state[f"{prefix}.bias"] = rand(1, 3, 1, 1, scale=0.2)
        if up:
            state[f"{prefix}.upsample.kernel"] = blur_kernel() * 4
        state[f"{prefix}.conv.weight"] = rand(1, 3, cin, 1, 1)
        state[f"{prefix}.conv.modulation.weight"] = rand(cin, style_dim)
        state[f"{prefix}.conv.modulation.bias"] = rand(cin, scale=0.2, offset=1.0)

    styled("conv1", WIDTHS[4], WIDTHS[4], up=False)
    to_rgb("to_rgb1", WIDTHS[4], up=False)
    log_size = int(math.log2(resolution))
    for block, level in enumerate(range(3, log_size + 1)):
        cin, cout = WIDTHS[2 ** (level - 1)], WIDTHS[2**level]
        styled(f"convs.{2 * block}", cin, cout, up=True)
        styled(f"convs.{2 * block + 1}", cout, cout, up=False)
        to_rgb(f"to_rgbs.{block}", cout, up=True)
    for layer in range((log_size - 2) * 2 + 1):
        size = 2 ** ((layer + 5) // 2)
        state[f"noises.noise_{layer}"] = rand(1, 1, size, size)
    return state


def save_rosinality(path: Path, g_ema: dict, **extra: object) -> Path:
    torch.save({"g_ema": g_ema, **extra}, path)
    return path


def call_global(module_name: str, name: str, argument: str) -> bytes:
    """A protocol-2 pickle that calls ``module_name.name(argument)`` when loaded by a plain unpickler."""
    encoded = argument.encode()
    return (b"\x80\x02" + pickle.GLOBAL + f"{module_name}\n{name}\n".encode() + pickle.MARK
            + pickle.BINUNICODE + struct.pack("<I", len(encoded)) + encoded + pickle.TUPLE + pickle.REDUCE)
