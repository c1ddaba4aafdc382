"""Render a procedural face: anti-aliased RGB plus an exact part-label map.

Shapes are drawn at ``SUPERSAMPLE`` times the output size. The RGB image is the box-filtered
supersampled drawing composited over a background, then lit and textured. The label map is
exact and sampled at pixel centres: each output pixel takes the label of the supersampled
pixel at offset (2, 2) inside its 4x4 cell, i.e. the frontmost part covering the centre.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from PIL import Image

from .params import FaceParams, check_style, sample_params
from .shapes import Canvas, draw_face

SUPERSAMPLE = 4
MIN_SIZE = 16

PATTERN_LINEAR, PATTERN_RADIAL, PATTERN_BLOBS, PATTERN_PAINTERLY, PATTERN_SKETCH = range(5)


@dataclass
class RenderedFace:
    """One rendered face: ``image`` HxWx3 uint8, ``labels`` HxW uint8 indices into ``LABELS``."""

    image: np.ndarray
    labels: np.ndarray
    params: FaceParams


def _smooth_noise(rng: np.random.Generator, size: int, cells: int) -> np.ndarray:
    """Zero-mean noise in about [-1, 1] with ``cells`` features across the image (bilinear)."""
    coarse = Image.fromarray(rng.uniform(-1, 1, (cells, cells)).astype(np.float32), mode="F")
    return np.asarray(coarse.resize((size, size), Image.Resampling.BICUBIC), dtype=np.float32)


def _grid(size: int) -> tuple[np.ndarray, np.ndarray]:
    coords = (np.arange(size, dtype=np.float32) + 0.5) / size
    return coords[None, :].repeat(size, 0), coords[:, None].repeat(size, 1)


def _background(p: FaceParams, size: int, rng: np.random.Generator) -> np.ndarray:
    """The HxWx3 float background for the face's pattern."""
    xs, ys = _grid(size)
    a = np.asarray(p.background_colour_a, dtype=np.float32)
    b = np.asarray(p.background_colour_b, dtype=np.float32)
    if p.background_pattern == PATTERN_RADIAL:
        t = np.clip(np.hypot(xs - 0.5, ys - 0.4) / 0.75, 0, 1)
    else:
        along = (xs - 0.5) * math.cos(p.background_angle) + (ys - 0.5) * math.sin(p.background_angle)
        t = np.clip(0.5 + along, 0, 1)
    if p.background_pattern in (PATTERN_BLOBS, PATTERN_PAINTERLY):
        t = np.clip(t + 0.45 * _smooth_noise(rng, size, 5), 0, 1)
    background = a + (b - a) * t[..., None]
    if p.background_pattern == PATTERN_PAINTERLY:
        vignette = 1 - 0.55 * np.clip(np.hypot(xs - 0.5, ys - 0.45) / 0.7, 0, 1) ** 2
        background = background * vignette[..., None]
    if p.background_pattern == PATTERN_SKETCH:
        background = np.broadcast_to(np.asarray([236, 229, 212], dtype=np.float32), (size, size, 3))
    return np.asarray(background, dtype=np.float32)


def _lighting(p: FaceParams, size: int, head: tuple[float, float], face: tuple[float, float]) -> np.ndarray:
    """Multiplicative HxW light: a directional ramp plus darkening towards the head's rim."""
    xs, ys = _grid(size)
    dx, dy = (xs - head[0]) / face[0], (ys - head[1]) / face[1]
    ramp = (dx * math.cos(p.light_angle) + dy * math.sin(p.light_angle)) * 0.5
    rim = np.clip(dx * dx + dy * dy, 0, 4)
    return np.asarray(1 + p.light_strength * ramp - 0.06 * rim, dtype=np.float32)


def _texture(p: FaceParams, size: int, rng: np.random.Generator) -> np.ndarray:
    """Multiplicative HxW texture: soft blotches and grain, or brush strokes when painterly."""
    if p.background_pattern == PATTERN_PAINTERLY:
        strokes = rng.uniform(-1, 1, (size, max(size // 6, 2))).astype(np.float32)
        along = np.asarray(Image.fromarray(strokes, mode="F").resize((size, size), Image.Resampling.BILINEAR))
        grain = 0.5 * along + 0.5 * _smooth_noise(rng, size, 6)
    else:
        grain = 0.6 * _smooth_noise(rng, size, 8) + 0.4 * rng.uniform(-1, 1, (size, size))
    return np.asarray(1 + p.texture_strength * grain, dtype=np.float32)


def _ink_edges(labels: np.ndarray) -> np.ndarray:
    """1.0 where a pixel's label differs from its right or lower neighbour, else 0.0."""
    edges = np.zeros(labels.shape, dtype=np.float32)
    edges[:, :-1] += labels[:, :-1] != labels[:, 1:]
    edges[:-1, :] += labels[:-1, :] != labels[1:, :]
    return np.clip(edges, 0, 1)


def _stylise_out_of_domain(p: FaceParams, image: np.ndarray, labels: np.ndarray,
                           rng: np.random.Generator) -> np.ndarray:
    """Varnish-toned oil painting, or graphite sketch on paper."""
    if p.background_pattern == PATTERN_SKETCH:
        grey = image @ np.asarray([0.3, 0.59, 0.11], dtype=np.float32)
        paper = np.asarray([236, 229, 212], dtype=np.float32)
        size = labels.shape[0]
        xs, ys = _grid(size)
        hatching = (np.sin((xs + ys) * size * 1.6) > 0.2).astype(np.float32)
        darkness = np.clip(1 - grey / 255.0, 0, 1)
        tone = 1 - 0.55 * darkness - 0.3 * darkness * hatching - 0.6 * _ink_edges(labels)
        grain = 1 + 0.05 * rng.uniform(-1, 1, tone.shape)
        return np.asarray(paper * (tone * grain)[..., None], dtype=np.float32)
    varnish = np.asarray([1.0, 0.9, 0.7], dtype=np.float32)
    levels = 12.0
    posterised = np.round(image / 255.0 * levels) / levels * 255.0
    return np.asarray((0.6 * image + 0.4 * posterised) * varnish, dtype=np.float32)


def render_params(params: FaceParams, size: int = 64, style: str = "in_domain") -> RenderedFace:
    """Render ``params`` (e.g. an edited copy of ``sample_params(seed)``) at ``size`` x ``size``."""
    check_style(style)
    if size < MIN_SIZE:
        raise ValueError(f"size must be at least {MIN_SIZE}, got {size}")
    canvas = Canvas(size * SUPERSAMPLE)
    head, face = draw_face(canvas, params)
    rng = np.random.default_rng(params.texture_seed)
    foreground = np.asarray(canvas.rgb.reduce(SUPERSAMPLE), dtype=np.float32)
    coverage = np.asarray(canvas.coverage.reduce(SUPERSAMPLE), dtype=np.float32)[..., None] / 255.0
    offset = SUPERSAMPLE // 2
    labels = np.ascontiguousarray(np.asarray(canvas.labels)[offset::SUPERSAMPLE, offset::SUPERSAMPLE])
    light = (_lighting(params, size, head, face) * _texture(params, size, rng))[..., None]
    background = _background(params, size, rng) * _texture(params, size, rng)[..., None]
    image = foreground * light + (1 - coverage) * background
    if style == "out_of_domain":
        image = _stylise_out_of_domain(params, image, labels, rng)
    pixels = np.clip(np.round(image), 0, 255).astype(np.uint8)
    return RenderedFace(image=pixels, labels=labels, params=params)


def render_face(seed: int, size: int = 64, style: str = "in_domain") -> RenderedFace:
    """Render the face for ``seed``: the same seed gives the same geometry and labels in every style."""
    return render_params(sample_params(seed, style), size, style)
