"""Part masks: PNGs of label indices, checked against an image's size and its model's taxonomy."""

from __future__ import annotations

import io

import numpy as np
from PIL import Image as PILImage

from webapp.errors import InvalidInput, PayloadTooLarge


def decode_mask(data: bytes, resolution: int, label_count: int) -> np.ndarray:
    """Decode a mask PNG (mode L or P, values = label indices) into a ``[R, R]`` uint8 array.

    Refused with a 400 that says what is wrong: not a PNG, truncated, a colour image, the wrong
    size, or values that are not label indices of the model's taxonomy.
    """
    # An R x R mask of one byte per pixel compresses to well under 2 R^2 bytes plus headers.
    max_bytes = 2 * resolution * resolution + 64 * 1024
    if len(data) > max_bytes:
        raise PayloadTooLarge(
            f"A {resolution}x{resolution} mask cannot take {len(data)} bytes.", code="mask_too_large"
        )
    try:
        image = PILImage.open(io.BytesIO(data), formats=["PNG"])
        if image.size != (resolution, resolution):
            raise InvalidInput(
                f"The mask is {image.size[0]}x{image.size[1]}; "
                f"this image's masks are {resolution}x{resolution}.",
                code="invalid_mask_size",
                details={"width": image.size[0], "height": image.size[1], "expected": resolution},
            )
        if image.mode not in ("L", "P"):
            raise InvalidInput(
                f"The mask must be a PNG of label indices (mode L or P), not a {image.mode} image.",
                code="invalid_mask_mode",
            )
        image.load()
    except InvalidInput:
        raise
    except PILImage.DecompressionBombError as error:
        raise InvalidInput(
            f"The mask's dimensions are far larger than {resolution}x{resolution}.", code="invalid_mask_size"
        ) from error
    except (OSError, SyntaxError, ValueError, EOFError) as error:
        raise InvalidInput(f"The mask is not a readable PNG ({error}).", code="unreadable_mask") from error
    values = np.asarray(image, dtype=np.uint8)
    unknown = np.unique(values[values >= label_count])
    if unknown.size:
        raise InvalidInput(
            f"The mask holds values that are not label indices (0 to {label_count - 1}): "
            f"{', '.join(str(int(v)) for v in unknown[:10])}.",
            code="unknown_label",
            details={"unknown_values": [int(v) for v in unknown], "label_count": label_count},
        )
    return values


def encode_mask(values: np.ndarray, palette: list[str]) -> bytes:
    """An indexed PNG of ``values`` whose palette shows each label in its display colour."""
    image = PILImage.fromarray(values.astype(np.uint8), mode="L").convert("P")
    flat = [int(colour[i : i + 2], 16) for colour in palette for i in (1, 3, 5)]
    image.putpalette(flat + [0] * (768 - len(flat)))
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", optimize=True)
    return buffer.getvalue()


def label_pixels(values: np.ndarray) -> dict[str, int]:
    """Pixel count per label index present in the mask."""
    counts = np.bincount(values.ravel())
    return {str(index): int(count) for index, count in enumerate(counts) if count}
