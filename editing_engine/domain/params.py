"""The parameter vector of a procedural face and its seeded sampler.

Geometry is drawn from one random stream and colours from another, so a seed gives the same
face shape (and therefore the same label map) in every style; only colours and textures
change with ``style``. Distributions over-represent the features edits will move: strong
smiles and frowns, open mouths showing teeth, very large and very small pupils.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np

from editing_engine.errors import EngineError

STYLES = ("in_domain", "out_of_domain")

Colour = tuple[int, int, int]


class UnknownStyleError(EngineError):
    """A rendering style name that the domain does not define."""


def check_style(style: str) -> None:
    """Raise ``UnknownStyleError`` unless ``style`` is one of ``STYLES``."""
    if style not in STYLES:
        raise UnknownStyleError(f"unknown style {style!r}; expected one of {list(STYLES)}")


@dataclass(frozen=True)
class FaceParams:
    """Every number that determines a rendered face (shape in [0, 1]-ish units, colours in RGB)."""

    # Head and body geometry (fractions of the image unless noted).
    head_x: float
    head_y: float
    face_width: float
    face_height: float
    neck_width: float
    ear_size: float
    # Hair: length 0 = short cap, 1 = past the shoulders; fringe = how far it covers the forehead.
    hair_length: float
    hair_volume: float
    fringe: float
    # Eyes: size scales the eye whites; pupil_size is a fraction of the iris radius.
    eye_size: float
    eye_spacing: float
    eye_openness: float
    iris_size: float
    pupil_size: float
    gaze_x: float
    # Brows: height 0 = low (frowning), 1 = raised; tilt > 0 lifts the inner ends.
    brow_height: float
    brow_tilt: float
    brow_thickness: float
    # Nose.
    nose_size: float
    nose_width: float
    # Mouth: curvature -1 = frown, +1 = broad smile; openness 0 = closed, 1 = wide open.
    mouth_width: float
    mouth_curvature: float
    mouth_openness: float
    lip_thickness: float
    # Colours.
    skin_colour: Colour
    hair_colour: Colour
    iris_colour: Colour
    lip_colour: Colour
    clothes_colour: Colour
    background_colour_a: Colour
    background_colour_b: Colour
    # Lighting, background layout and texture.
    light_angle: float
    light_strength: float
    background_angle: float
    background_pattern: int
    texture_strength: float
    texture_seed: int

    def to_dict(self) -> dict[str, object]:
        """Plain-dict form for JSON (colours as lists)."""
        return {f.name: (list(v) if isinstance(v := getattr(self, f.name), tuple) else v)
                for f in fields(self)}

    def shape_vector(self) -> np.ndarray:
        """The continuous shape parameters (no colours, lighting or seeds) as a float vector."""
        return np.array([getattr(self, name) for name in SHAPE_PARAMS], dtype=np.float64)


SHAPE_PARAMS: tuple[str, ...] = (
    "head_x", "head_y", "face_width", "face_height", "neck_width", "ear_size",
    "hair_length", "hair_volume", "fringe",
    "eye_size", "eye_spacing", "eye_openness", "iris_size", "pupil_size", "gaze_x",
    "brow_height", "brow_tilt", "brow_thickness",
    "nose_size", "nose_width",
    "mouth_width", "mouth_curvature", "mouth_openness", "lip_thickness",
)
"""Names of the continuous shape parameters, in ``shape_vector`` order."""

SKIN_TONES: list[Colour] = [
    (255, 224, 196), (241, 194, 160), (224, 172, 128), (198, 134, 90),
    (160, 102, 66), (120, 76, 48), (88, 56, 38), (236, 188, 180),
]
HAIR_TONES: list[Colour] = [
    (20, 16, 14), (60, 40, 26), (110, 70, 40), (170, 120, 60), (230, 200, 130),
    (180, 70, 30), (150, 150, 150), (235, 235, 230), (120, 40, 140), (40, 90, 180),
]
IRIS_TONES: list[Colour] = [
    (70, 120, 200), (60, 150, 90), (110, 70, 40), (60, 40, 25), (120, 130, 140), (170, 120, 40),
]
PAINTERLY_TONES: list[Colour] = [
    (110, 80, 50), (150, 110, 70), (70, 55, 40), (180, 150, 100), (90, 70, 60),
    (130, 60, 40), (60, 70, 50), (200, 170, 120), (40, 35, 30), (160, 130, 90),
]


def _bimodal(rng: np.random.Generator, low: tuple[float, float], high: tuple[float, float],
             p_high: float) -> float:
    """A value uniform in ``high`` with probability ``p_high``, else uniform in ``low``."""
    lo, hi = high if rng.random() < p_high else low
    return float(rng.uniform(lo, hi))


def _jitter(rng: np.random.Generator, colour: Colour, amount: float) -> Colour:
    """``colour`` with each channel moved by up to ``amount`` (clipped to 0..255)."""
    values = np.clip(np.asarray(colour, dtype=np.float64) + rng.uniform(-amount, amount, 3), 0, 255)
    return (int(values[0]), int(values[1]), int(values[2]))


def _random_colour(rng: np.random.Generator, low: int = 0, high: int = 256) -> Colour:
    values = rng.integers(low, high, 3)
    return (int(values[0]), int(values[1]), int(values[2]))


def _sample_geometry(rng: np.random.Generator) -> dict[str, float]:
    """The shape parameters, drawn identically for every style."""
    mouth_curvature = float(rng.choice([-1.0, 1.0]) * rng.uniform(0.5, 1.0)) if rng.random() < 0.6 \
        else float(rng.uniform(-0.5, 0.5))
    return {
        "head_x": float(rng.uniform(-0.05, 0.05)),
        "head_y": float(rng.uniform(-0.04, 0.04)),
        "face_width": float(rng.uniform(0.8, 1.2)),
        "face_height": float(rng.uniform(0.9, 1.1)),
        "neck_width": float(rng.uniform(0.7, 1.2)),
        "ear_size": float(rng.uniform(0.7, 1.3)),
        "hair_length": _bimodal(rng, (0.0, 0.35), (0.5, 1.0), 0.5),
        "hair_volume": float(rng.uniform(0.0, 1.0)),
        "fringe": float(rng.uniform(0.0, 1.0)),
        "eye_size": float(rng.uniform(0.7, 1.35)),
        "eye_spacing": float(rng.uniform(0.85, 1.15)),
        "eye_openness": float(rng.uniform(0.6, 1.0)),
        "iris_size": float(rng.uniform(0.75, 1.0)),
        "pupil_size": _bimodal(rng, (0.2, 0.45), (0.65, 0.95), 0.5),
        "gaze_x": float(rng.uniform(-1.0, 1.0)),
        "brow_height": float(rng.uniform(0.0, 1.0)),
        "brow_tilt": float(rng.uniform(-1.0, 1.0)),
        "brow_thickness": float(rng.uniform(0.6, 1.4)),
        "nose_size": float(rng.uniform(0.7, 1.4)),
        "nose_width": float(rng.uniform(0.8, 1.25)),
        "mouth_width": float(rng.uniform(0.75, 1.3)),
        "mouth_curvature": mouth_curvature,
        "mouth_openness": _bimodal(rng, (0.0, 0.12), (0.35, 1.0), 0.5),
        "lip_thickness": float(rng.uniform(0.6, 1.4)),
        "light_angle": float(rng.uniform(0.0, 2 * np.pi)),
        "light_strength": float(rng.uniform(0.05, 0.35)),
        "background_angle": float(rng.uniform(0.0, 2 * np.pi)),
    }


def _sample_colours(rng: np.random.Generator, style: str) -> dict[str, object]:
    """Colours, background pattern and texture for ``style``."""
    if style == "in_domain":
        hair = HAIR_TONES[int(rng.integers(len(HAIR_TONES)))]
        return {
            "skin_colour": _jitter(rng, SKIN_TONES[int(rng.integers(len(SKIN_TONES)))], 14),
            "hair_colour": _jitter(rng, hair, 20),
            "iris_colour": _jitter(rng, IRIS_TONES[int(rng.integers(len(IRIS_TONES)))], 20),
            "lip_colour": _jitter(rng, (190, 80, 80), 35),
            "clothes_colour": _random_colour(rng, 20, 236),
            "background_colour_a": _random_colour(rng, 40, 256),
            "background_colour_b": _random_colour(rng, 40, 256),
            "background_pattern": int(rng.integers(3)),
            "texture_strength": float(rng.uniform(0.02, 0.10)),
        }
    def tone() -> Colour:
        return _jitter(rng, PAINTERLY_TONES[int(rng.integers(len(PAINTERLY_TONES)))], 25)
    skin = _jitter(rng, (205, 165, 120), 30)
    return {
        "skin_colour": skin,
        "hair_colour": tone(),
        "iris_colour": tone(),
        "lip_colour": _jitter(rng, (160, 80, 60), 25),
        "clothes_colour": tone(),
        "background_colour_a": _jitter(rng, (45, 38, 30), 20),
        "background_colour_b": tone(),
        "background_pattern": 3 + int(rng.integers(2)),
        "texture_strength": float(rng.uniform(0.10, 0.22)),
    }


def sample_params(seed: int, style: str = "in_domain") -> FaceParams:
    """The face parameters for ``seed`` in ``style``; geometry does not depend on ``style``."""
    check_style(style)
    if seed < 0:
        raise ValueError(f"seed must be non-negative, got {seed}")
    geometry = _sample_geometry(np.random.default_rng([seed, 0]))
    colour_rng = np.random.default_rng([seed, 1 + STYLES.index(style)])
    colours = _sample_colours(colour_rng, style)
    texture_seed = int(np.random.default_rng([seed, 9]).integers(2**31))
    return FaceParams(**geometry, **colours, texture_seed=texture_seed)  # type: ignore[arg-type]
