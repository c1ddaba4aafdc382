"""Export an edit of an uploaded photo back into the full-resolution original, seamlessly blended.

The edited image (the model's resolution, the square crop of the photo) is resized to the crop
box and blended into the original photo by Poisson blending (as the EditGAN release does with
OpenCV's seamless clone): inside the crop the result keeps the edited image's gradients, and on
the crop's border it meets the original exactly, so colour shifts of the reconstruction fade out
instead of showing an edge. With f = edit + u, u is the harmonic (membrane) interpolation of the
border difference (original - edit), solved exactly with a discrete sine transform (numpy's FFT;
no torch, no scipy), per colour channel.
"""

from __future__ import annotations

import io

import numpy as np
from django.conf import settings
from PIL import Image as PILImage

from webapp.assets import uploads
from webapp.assets.models import Image
from webapp.errors import InvalidInput, PayloadTooLarge

# The largest crop side blended (the transform works on float arrays of about 2 x side² x 16 bytes).
MAX_BLEND_SIDE = 2048


def _dst1(values: np.ndarray, axis: int) -> np.ndarray:
    """The type-I discrete sine transform along ``axis`` (sum of x_n sin(pi k n / (N + 1))), by a real FFT."""
    values = np.moveaxis(values, axis, -1)
    count = values.shape[-1]
    zeros = np.zeros((*values.shape[:-1], 1))
    extended = np.concatenate([zeros, values, zeros, -values[..., ::-1]], axis=-1)
    transformed = -np.fft.rfft(extended, axis=-1).imag[..., 1 : count + 1] / 2
    return np.moveaxis(transformed, -1, axis)


def membrane(border: np.ndarray) -> np.ndarray:
    """The harmonic function on an ``[H, W]`` grid whose outer ring of pixels is ``border``'s.

    Interior pixels solve the 5-point Laplace equation exactly (Dirichlet problem by DST).
    """
    height, width = border.shape
    result = border.astype(np.float64).copy()
    if height < 3 or width < 3:
        return result
    rhs = np.zeros((height - 2, width - 2))
    rhs[0, :] -= border[0, 1:-1]
    rhs[-1, :] -= border[-1, 1:-1]
    rhs[:, 0] -= border[1:-1, 0]
    rhs[:, -1] -= border[1:-1, -1]
    rows = np.arange(1, height - 1)[:, None]
    columns = np.arange(1, width - 1)[None, :]
    eigen = (2 * np.cos(np.pi * rows / (height - 1)) - 2) + (2 * np.cos(np.pi * columns / (width - 1)) - 2)
    spectrum = _dst1(_dst1(rhs, 0), 1) / eigen
    interior = _dst1(_dst1(spectrum, 0), 1) * (2 / (height - 1)) * (2 / (width - 1))
    result[1:-1, 1:-1] = interior
    return result


def poisson_blend(target: np.ndarray, source: np.ndarray) -> np.ndarray:
    """``source`` ``[H, W, 3]`` blended into the same-sized ``target`` so its border equals ``target``'s."""
    source = source.astype(np.float64)
    difference = target.astype(np.float64) - source
    ring = np.zeros(difference.shape[:2], dtype=bool)
    ring[[0, -1], :] = True
    ring[:, [0, -1]] = True
    blended = np.empty_like(source)
    for channel in range(source.shape[2]):
        border = np.where(ring, difference[..., channel], 0.0)
        blended[..., channel] = source[..., channel] + membrane(border)
    return np.clip(np.rint(blended), 0, 255).astype(np.uint8)


def composite_edit(image: Image, edited_png: bytes) -> bytes:
    """The original photo with ``edited_png`` (the crop at model resolution) blended into its crop box."""
    if image.source != Image.Source.UPLOAD or not image.original or not image.crop_box:
        raise InvalidInput("Only uploaded photos have an original to composite into.", code="not_an_upload")
    size = image.model.resolution
    edited = uploads.decode_photo(edited_png, max_bytes=8 * 1024 * 1024, max_pixels=size * size).pixels
    if edited.size != (size, size):
        raise InvalidInput(
            f"The edited image must be {size}x{size} pixels, not {edited.size[0]}x{edited.size[1]}.",
            code="invalid_edit_size",
        )
    left, top, right, bottom = image.crop_box
    if right - left > MAX_BLEND_SIDE:
        raise PayloadTooLarge(
            f"The crop is {right - left} px wide; blending is limited to {MAX_BLEND_SIDE} px.",
            code="crop_too_large",
        )
    with image.original.open("rb") as stored:
        data = stored.read()
    with uploads.decode_slot(settings.PARTEDIT_UPLOAD_DECODES):
        photo = uploads.decode_photo(
            data, settings.PARTEDIT_MAX_UPLOAD_BYTES, settings.PARTEDIT_MAX_UPLOAD_PIXELS
        ).pixels
        crop = np.asarray(photo.crop((left, top, right, bottom)))
        resized = np.asarray(edited.resize((right - left, bottom - top), PILImage.Resampling.LANCZOS))
        photo.paste(PILImage.fromarray(poisson_blend(crop, resized)), (left, top))
        buffer = io.BytesIO()
        photo.save(buffer, format="PNG")
    return buffer.getvalue()
