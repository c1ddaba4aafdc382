"""Checking and normalizing uploaded photos.

The type is sniffed from the content (Pillow), never from the file name. The pixel count is
checked from the header before any pixel is decoded, so decompression bombs are refused
cheaply. EXIF orientation is applied; the crop box refers to the image as displayed.
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass

from PIL import Image as PILImage
from PIL import ImageOps

from webapp.errors import InvalidInput, PayloadTooLarge

FORMAT_EXTENSIONS = {"PNG": ".png", "JPEG": ".jpg", "WEBP": ".webp"}
MIN_CROP = 16


@dataclass
class DecodedPhoto:
    """An accepted upload: the oriented RGB pixels and what the file was."""

    pixels: PILImage.Image
    format: str

    @property
    def extension(self) -> str:
        """The file extension matching the sniffed format."""
        return FORMAT_EXTENSIONS[self.format]


def decode_photo(data: bytes, max_bytes: int, max_pixels: int) -> DecodedPhoto:
    """Decode an uploaded PNG/JPEG/WebP; 413 over the limits, 400 for anything else that is wrong."""
    if len(data) > max_bytes:
        raise PayloadTooLarge(
            f"The file is {len(data)} bytes; the limit is {max_bytes}.", code="file_too_large"
        )
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", PILImage.DecompressionBombWarning)
            opened = PILImage.open(io.BytesIO(data), formats=list(FORMAT_EXTENSIONS))
            width, height = opened.size
            if width * height > max_pixels:
                raise PayloadTooLarge(
                    f"The image is {width}x{height} pixels; the limit is {max_pixels} pixels.",
                    code="too_many_pixels",
                    details={"width": width, "height": height, "max_pixels": max_pixels},
                )
            opened.load()
    except PayloadTooLarge:
        raise
    except (PILImage.DecompressionBombError, PILImage.DecompressionBombWarning) as error:
        raise PayloadTooLarge(
            f"The image is too large to decode safely: {error}", code="too_many_pixels"
        ) from error
    except (OSError, SyntaxError, ValueError, EOFError) as error:
        raise InvalidInput(
            f"The file is not a readable PNG, JPEG or WebP image ({error}).", code="unreadable_image"
        ) from error
    file_format = opened.format or ""
    oriented = ImageOps.exif_transpose(opened)
    return DecodedPhoto(pixels=_to_rgb(oriented), format=file_format)


def _to_rgb(image: PILImage.Image) -> PILImage.Image:
    """RGB pixels; transparent areas become white."""
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        background = PILImage.new("RGBA", rgba.size, (255, 255, 255, 255))
        return PILImage.alpha_composite(background, rgba).convert("RGB")
    return image.convert("RGB")


def crop_box_for(width: int, height: int, x: int | None, y: int | None, size: int | None) -> list[int]:
    """A validated square crop ``[left, top, right, bottom]``; the centred largest square if none is given."""
    given = [value is not None for value in (x, y, size)]
    if not any(given):
        side = min(width, height)
        left, top = (width - side) // 2, (height - side) // 2
        return [left, top, left + side, top + side]
    if not all(given):
        raise InvalidInput("Give all of crop_x, crop_y and crop_size, or none of them.", code="invalid_crop")
    assert x is not None and y is not None and size is not None
    if size < MIN_CROP or x < 0 or y < 0 or x + size > width or y + size > height:
        raise InvalidInput(
            f"The crop must be a square of at least {MIN_CROP} pixels inside the {width}x{height} image.",
            code="invalid_crop",
            details={"width": width, "height": height, "crop": [x, y, size]},
        )
    return [x, y, x + size, y + size]


def normalize(pixels: PILImage.Image, box: list[int], resolution: int) -> bytes:
    """The crop resized to ``resolution`` square, as PNG bytes."""
    left, top, right, bottom = box
    crop = pixels.crop((left, top, right, bottom))
    crop = crop.resize((resolution, resolution), PILImage.Resampling.LANCZOS)
    return encode_png(crop)


def encode_png(image: PILImage.Image) -> bytes:
    """PNG bytes of a Pillow image."""
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()
