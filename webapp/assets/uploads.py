"""Checking and normalizing uploaded photos.

The type is sniffed from the content (Pillow), never from the file name. The pixel count is
checked from the header before any pixel is decoded, so decompression bombs are refused
cheaply. EXIF orientation is applied; the crop box refers to the image as displayed.

Normalising an upload (``normalize_upload``) bounds its memory: a JPEG is decoded at the smallest
DCT scale (1/2, 1/4, 1/8) that still leaves the crop at least the model's resolution, the crop
is cut before any colour conversion, and no full-size copy is made that is not needed. Web
processes also run at most ``PARTEDIT_UPLOAD_DECODES`` normalisations at once (``decode_slot``).
"""

from __future__ import annotations

import contextlib
import io
import math
import threading
import warnings
from collections.abc import Iterator
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


@dataclass
class NormalizedUpload:
    """An accepted upload, normalised: what the file was, its displayed size, the crop and the PNG."""

    format: str
    width: int
    height: int
    box: list[int]
    png: bytes

    @property
    def extension(self) -> str:
        """The file extension matching the sniffed format."""
        return FORMAT_EXTENSIONS[self.format]


# EXIF orientations that swap width and height (rotations by 90 degrees, transpositions).
SWAPPING_ORIENTATIONS = {5, 6, 7, 8}
_decode_slots: threading.BoundedSemaphore | None = None
_decode_slots_size = 0
_slots_lock = threading.Lock()


@contextlib.contextmanager
def decode_slot(limit: int) -> Iterator[None]:
    """Hold one of ``limit`` process-wide slots for a full-size decode (waits while all are taken)."""
    global _decode_slots, _decode_slots_size
    with _slots_lock:
        if _decode_slots is None or _decode_slots_size != limit:
            _decode_slots, _decode_slots_size = threading.BoundedSemaphore(max(1, limit)), limit
        slots = _decode_slots
    with slots:
        yield


@contextlib.contextmanager
def _reading_errors() -> Iterator[None]:
    """Turn Pillow's errors into 413 (decompression bombs) and 400 (anything unreadable)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", PILImage.DecompressionBombWarning)
            yield
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


def _open_checked(data: bytes, max_bytes: int, max_pixels: int) -> PILImage.Image:
    """Open (header only) an upload; 413 when the file or its pixel count is over the limits."""
    if len(data) > max_bytes:
        raise PayloadTooLarge(
            f"The file is {len(data)} bytes; the limit is {max_bytes}.", code="file_too_large"
        )
    opened = PILImage.open(io.BytesIO(data), formats=list(FORMAT_EXTENSIONS))
    width, height = opened.size
    if width * height > max_pixels:
        raise PayloadTooLarge(
            f"The image is {width}x{height} pixels; the limit is {max_pixels} pixels.",
            code="too_many_pixels",
            details={"width": width, "height": height, "max_pixels": max_pixels},
        )
    return opened


def decode_photo(data: bytes, max_bytes: int, max_pixels: int) -> DecodedPhoto:
    """Decode an uploaded PNG/JPEG/WebP; 413 over the limits, 400 for anything else that is wrong."""
    with _reading_errors():
        opened = _open_checked(data, max_bytes, max_pixels)
        opened.load()
    file_format = opened.format or ""
    oriented = ImageOps.exif_transpose(opened)
    return DecodedPhoto(pixels=_to_rgb(oriented), format=file_format)


def normalize_upload(
    data: bytes,
    crop: tuple[int | None, int | None, int | None],
    resolution: int,
    max_bytes: int,
    max_pixels: int,
) -> NormalizedUpload:
    """Check an upload, choose its crop and normalise it to ``resolution`` square with bounded memory."""
    with _reading_errors():
        opened = _open_checked(data, max_bytes, max_pixels)
        file_format = opened.format or ""
        stored_width, stored_height = opened.size
        swapped = opened.getexif().get(0x0112) in SWAPPING_ORIENTATIONS
        width, height = (stored_height, stored_width) if swapped else (stored_width, stored_height)
        box = crop_box_for(width, height, *crop)
        side = box[2] - box[0]
        if file_format == "JPEG" and side > 2 * resolution:
            # The decoder keeps at least this size, so the crop stays >= resolution pixels.
            scale = resolution / side
            opened.draft("RGB", (math.ceil(stored_width * scale), math.ceil(stored_height * scale)))
        opened.load()
    ImageOps.exif_transpose(opened, in_place=True)  # no full-size copy when nothing is to be turned
    reduced_width, reduced_height = opened.size
    scaled = (round(box[0] * reduced_width / width), round(box[1] * reduced_height / height),
              round(box[2] * reduced_width / width), round(box[3] * reduced_height / height))
    cut = opened if scaled == (0, 0, reduced_width, reduced_height) else opened.crop(scaled)
    del opened
    # reducing_gap: a cheap box reduction to a few times the target first, then Lanczos.
    square = _to_rgb(cut).resize((resolution, resolution), PILImage.Resampling.LANCZOS, reducing_gap=3.0)
    return NormalizedUpload(format=file_format, width=width, height=height, box=box, png=encode_png(square))


def _to_rgb(image: PILImage.Image) -> PILImage.Image:
    """RGB pixels; transparent areas become white."""
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        background = PILImage.new("RGBA", rgba.size, (255, 255, 255, 255))
        return PILImage.alpha_composite(background, rgba).convert("RGB")
    return image if image.mode == "RGB" else image.convert("RGB")


def crop_box_for(width: int, height: int, x: int | None, y: int | None, size: int | None) -> list[int]:
    """A validated square crop ``[left, top, right, bottom]``; the centred largest square if none is given."""
    given = [value is not None for value in (x, y, size)]
    if not any(given):
        side = min(width, height)
        if side < MIN_CROP:
            raise InvalidInput(
                f"The image is {width}x{height}; a photo needs at least {MIN_CROP} pixels on each side.",
                code="image_too_small",
                details={"width": width, "height": height, "minimum": MIN_CROP},
            )
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


def encode_png(image: PILImage.Image) -> bytes:
    """PNG bytes of a Pillow image."""
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()
