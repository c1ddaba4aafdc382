"""Face geometry: every part as Pillow shapes drawn into colour, coverage and label layers.

Coordinates are fractions of the image side (x right, y down) and are scaled to the
supersampled canvas when drawn. Parts are painted back to front, so the label of a pixel is
the frontmost part covering it.
"""

from __future__ import annotations

import math

import numpy as np
from PIL import Image, ImageDraw

from .labels import LABEL_INDEX
from .params import Colour, FaceParams

Point = tuple[float, float]


class Canvas:
    """Three aligned supersampled layers: foreground colour on black, coverage and part labels."""

    def __init__(self, pixels: int) -> None:
        self.pixels = pixels
        self.rgb = Image.new("RGB", (pixels, pixels))
        self.coverage = Image.new("L", (pixels, pixels))
        self.labels = Image.new("L", (pixels, pixels))
        self._draw = [ImageDraw.Draw(self.rgb), ImageDraw.Draw(self.coverage), ImageDraw.Draw(self.labels)]

    def _scale(self, points: list[Point]) -> list[Point]:
        return [(x * self.pixels, y * self.pixels) for x, y in points]

    def ellipse(self, centre: Point, radii: Point, colour: Colour, label: str) -> None:
        """Fill an axis-aligned ellipse as part ``label``."""
        (cx, cy), (rx, ry) = centre, radii
        box = self._scale([(cx - rx, cy - ry), (cx + rx, cy + ry)])
        fills: list[Colour | int] = [colour, 255, LABEL_INDEX[label]]
        for draw, fill in zip(self._draw, fills, strict=True):
            draw.ellipse(box, fill=fill)

    def polygon(self, points: list[Point], colour: Colour, label: str) -> None:
        """Fill a polygon as part ``label``."""
        scaled = self._scale(points)
        fills: list[Colour | int] = [colour, 255, LABEL_INDEX[label]]
        for draw, fill in zip(self._draw, fills, strict=True):
            draw.polygon(scaled, fill=fill)

    def highlight(self, centre: Point, radius: float, colour: Colour) -> None:
        """Paint a colour-only spot (e.g. a catchlight) that changes no label."""
        cx, cy = centre
        self._draw[0].ellipse(self._scale([(cx - radius, cy - radius), (cx + radius, cy + radius)]),
                              fill=colour)


def shade(colour: Colour, factor: float) -> Colour:
    """``colour`` scaled by ``factor`` (clipped to 0..255)."""
    return (min(255, int(colour[0] * factor)), min(255, int(colour[1] * factor)),
            min(255, int(colour[2] * factor)))


def _ellipse_arc(centre: Point, radii: Point, start: float, stop: float, count: int) -> list[Point]:
    angles = np.linspace(start, stop, count)
    return [(centre[0] + radii[0] * math.cos(a), centre[1] + radii[1] * math.sin(a)) for a in angles]


def _draw_body(canvas: Canvas, p: FaceParams, head: Point, face: Point) -> None:
    (cx, cy), (fw, fh) = head, face
    shoulders_top = cy + fh + 0.07
    canvas.ellipse((cx, shoulders_top + 0.3), (0.44, 0.3), p.clothes_colour, "clothes")
    hair_bottom = cy + fh * (0.2 + 1.9 * p.hair_length)
    hair_half_width = fw * (1.12 + 0.3 * p.hair_volume)
    hair_top = cy - fh * (1.08 + 0.22 * p.hair_volume)
    canvas.ellipse((cx, (hair_top + cy + 0.4 * fh) / 2), (hair_half_width, (cy + 0.4 * fh - hair_top) / 2),
                   p.hair_colour, "hair")
    if hair_bottom > cy + 0.3 * fh:
        flare = 0.04 * p.hair_volume
        left, right = cx - hair_half_width, cx + hair_half_width
        canvas.polygon([(left, cy), (right, cy), (right + flare, hair_bottom), (left - flare, hair_bottom)],
                       p.hair_colour, "hair")
    neck_half = 0.075 * p.neck_width
    neck_colour = shade(p.skin_colour, 0.82)
    canvas.polygon([(cx - neck_half, cy + 0.4 * fh), (cx + neck_half, cy + 0.4 * fh),
                    (cx + neck_half, shoulders_top + 0.06), (cx - neck_half, shoulders_top + 0.06)],
                   neck_colour, "neck")
    canvas.ellipse((cx, shoulders_top + 0.05), (neck_half * 1.15, 0.035), neck_colour, "neck")
    ear_radii = (0.04 * p.ear_size, 0.065 * p.ear_size)
    for side in (-1, 1):
        canvas.ellipse((cx + side * fw * 0.97, cy + 0.01), ear_radii, shade(p.skin_colour, 0.93), "ears")
    canvas.ellipse((cx, cy), (fw, fh), p.skin_colour, "skin")


def _draw_eyes_and_brows(canvas: Canvas, p: FaceParams, head: Point, face: Point) -> None:
    (cx, cy), (fw, _) = head, face
    eye_y = cy - 0.02
    eye_half_width = 0.07 * p.eye_size
    eye_half_height = eye_half_width * 0.75 * p.eye_openness
    iris_radius = min(eye_half_height, 0.62 * eye_half_width) * 0.97 * p.iris_size
    pupil_radius = iris_radius * p.pupil_size
    brow_gap = eye_half_height + 0.018 + 0.045 * p.brow_height
    brow_half_thickness = 0.011 * p.brow_thickness
    for side in (-1, 1):
        ex = cx + side * fw * 0.42 * p.eye_spacing
        canvas.ellipse((ex, eye_y), (eye_half_width, eye_half_height), (246, 244, 240), "eyes")
        iris_x = ex + p.gaze_x * (eye_half_width - iris_radius) * 0.6
        canvas.ellipse((iris_x, eye_y), (iris_radius, iris_radius), p.iris_colour, "irises")
        canvas.ellipse((iris_x, eye_y), (pupil_radius, pupil_radius), (12, 10, 10), "pupils")
        canvas.highlight((iris_x - 0.35 * iris_radius, eye_y - 0.35 * iris_radius), 0.22 * iris_radius,
                         (255, 255, 255))
        inner_lift = 0.018 * p.brow_tilt
        ts = np.linspace(-1.0, 1.0, 9)
        centre_line = [(ex - side * t * eye_half_width * 1.25,
                        eye_y - brow_gap - 0.012 * (1 - t * t) - inner_lift * (t + 1) / 2) for t in ts]
        top = [(x, y - brow_half_thickness) for x, y in centre_line]
        bottom = [(x, y + brow_half_thickness * 0.8) for x, y in reversed(centre_line)]
        canvas.polygon(top + bottom, shade(p.hair_colour, 0.8), "brows")


def _draw_nose(canvas: Canvas, p: FaceParams, head: Point, face: Point) -> None:
    (cx, cy), (_, fh) = head, face
    size = 0.055 * p.nose_size
    half_width = size * 0.62 * p.nose_width
    nose_y = cy + fh * 0.24
    nose_colour = shade(p.skin_colour, 0.86)
    canvas.polygon([(cx - size * 0.18, nose_y - size * 1.5), (cx + size * 0.18, nose_y - size * 1.5),
                    (cx + half_width, nose_y + size * 0.2), (cx - half_width, nose_y + size * 0.2)],
                   nose_colour, "nose")
    canvas.ellipse((cx, nose_y + size * 0.2), (half_width * 1.05, size * 0.42), nose_colour, "nose")
    for side in (-1, 1):
        canvas.ellipse((cx + side * half_width * 0.5, nose_y + size * 0.32), (size * 0.24, size * 0.15),
                       shade(p.skin_colour, 0.35), "nostrils")


def _draw_mouth(canvas: Canvas, p: FaceParams, head: Point, face: Point) -> None:
    (cx, cy), (fw, fh) = head, face
    mouth_y = cy + fh * 0.6
    half_width = fw * 0.42 * p.mouth_width
    bend = 0.04 * p.mouth_curvature
    opening = 0.085 * p.mouth_openness
    lip = 0.014 * p.lip_thickness
    ts = np.linspace(-1.0, 1.0, 17)
    xs = cx + ts * half_width
    middle = mouth_y - bend * ts * ts + bend * 0.5
    bulge = 1 - ts * ts
    inner_top = middle - 0.3 * opening * bulge
    inner_bottom = middle + 0.7 * opening * bulge
    taper = 0.25 + 0.75 * bulge
    outer_top = inner_top - lip * taper
    outer_bottom = inner_bottom + 1.2 * lip * taper

    def outline(upper: np.ndarray, lower: np.ndarray, keep: slice = slice(None)) -> list[Point]:
        top = list(zip(xs[keep].tolist(), upper[keep].tolist(), strict=True))
        bottom = list(zip(xs[keep].tolist(), lower[keep].tolist(), strict=True))
        return top + bottom[::-1]

    canvas.polygon(outline(outer_top, outer_bottom), p.lip_colour, "lips")
    if p.mouth_openness <= 0.0:
        return
    canvas.polygon(outline(inner_top, inner_bottom), (70, 18, 28), "mouth")
    if p.mouth_openness > 0.25:
        teeth = slice(2, -2)
        gap = inner_bottom - inner_top
        canvas.polygon(outline(inner_top, inner_top + 0.42 * gap, teeth), (242, 238, 226), "teeth")
        if p.mouth_openness > 0.6:
            canvas.polygon(outline(inner_bottom - 0.18 * gap, inner_bottom, teeth), (230, 226, 214), "teeth")


def _draw_fringe(canvas: Canvas, p: FaceParams, head: Point, face: Point) -> None:
    (cx, cy), (fw, fh) = head, face
    depth = 0.12 + 0.22 * p.fringe
    sin_alpha = 1 - depth
    alpha = math.asin(sin_alpha)
    radii = (fw * 1.05, fh * 1.05)
    arc = _ellipse_arc((cx, cy), radii, math.pi + alpha, 2 * math.pi - alpha, 15)
    left, right = arc[0][0], arc[-1][0]
    base = cy - radii[1] * sin_alpha
    xs = np.linspace(right, left, 9)
    scallop = [(float(x), base + 0.012 * ((i % 2) * 2 - 1) + 0.05 * (p.fringe - 0.5) * (x - cx) / fw)
               for i, x in enumerate(xs)]
    canvas.polygon(arc + scallop[1:-1], p.hair_colour, "hair")


def draw_face(canvas: Canvas, p: FaceParams) -> tuple[Point, Point]:
    """Paint every part of ``p`` onto ``canvas``; returns the head centre and face radii."""
    head = (0.5 + p.head_x, 0.45 + p.head_y)
    face = (0.2 * p.face_width, 0.26 * p.face_height)
    _draw_body(canvas, p, head, face)
    _draw_nose(canvas, p, head, face)
    _draw_mouth(canvas, p, head, face)
    _draw_eyes_and_brows(canvas, p, head, face)
    _draw_fringe(canvas, p, head, face)
    return head, face
