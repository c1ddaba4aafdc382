"""Procedural part-labelled face domain: seeded parameters, anti-aliased RGB, exact label maps."""

from .labels import CONTEXT_LABELS, LABEL_COLOURS, LABEL_INDEX, LABELS
from .params import SHAPE_PARAMS, STYLES, FaceParams, UnknownStyleError, sample_params
from .render import RenderedFace, render_face, render_params

__all__ = [
    "CONTEXT_LABELS",
    "LABELS",
    "LABEL_COLOURS",
    "LABEL_INDEX",
    "SHAPE_PARAMS",
    "STYLES",
    "FaceParams",
    "RenderedFace",
    "UnknownStyleError",
    "render_face",
    "render_params",
    "sample_params",
]
