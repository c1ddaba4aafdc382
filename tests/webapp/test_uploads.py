"""Photo uploads: content sniffing, limits, EXIF orientation, crop, normalization, malformed files."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image as PILImage

from tests.webapp.factories import RESOLUTION, huge_png_header, png_bytes
from webapp.assets.models import Image
from webapp.assets.storage import media_path
from webapp.teams.models import Role

pytestmark = pytest.mark.django_db


@pytest.fixture
def setup(make_user: Any, make_team: Any, make_model: Any, client_for: Any) -> Any:
    """An editor's client and a model of their team."""
    editor = make_user("editor")
    model = make_model(make_team("Lab", {editor: Role.EDITOR}))
    return client_for(editor), model


def upload(client: Any, model: Any, data: bytes, filename: str = "photo.png", **fields: Any) -> Any:
    """POST a photo to the upload endpoint."""
    file = io.BytesIO(data)
    file.name = filename
    return client.post("/api/images/", {"model": model.pk, "file": file, **fields}, format="multipart")


def stored_files(media_root: Path) -> list[Path]:
    """Every file under MEDIA_ROOT."""
    return [path for path in media_root.rglob("*") if path.is_file()] if media_root.exists() else []


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "WEBP"])
def test_upload_keeps_the_original_and_normalizes_a_centred_square(setup: Any, fmt: str) -> None:
    client, model = setup
    data = png_bytes((60, 40), fmt=fmt)

    response = upload(client, model, data, "photo.bin", name="a photo")

    assert response.status_code == 201, response.json()
    image = Image.objects.get(pk=response.json()["id"])
    assert media_path(image.original.name).read_bytes() == data
    assert image.original_format == fmt and (image.original_width, image.original_height) == (60, 40)
    assert image.crop_box == [10, 0, 50, 40]
    normalized = PILImage.open(media_path(image.normalized.name))
    assert (
        normalized.format == "PNG"
        and normalized.size == (RESOLUTION, RESOLUTION)
        and normalized.mode == "RGB"
    )
    assert image.status == "pending" and image.source == "upload" and image.name == "a photo"


def test_crop_box_chooses_the_region(setup: Any) -> None:
    client, model = setup
    photo = np.zeros((40, 60, 3), np.uint8)
    photo[:, 30:] = 255
    buffer = io.BytesIO()
    PILImage.fromarray(photo).save(buffer, format="PNG")

    response = upload(client, model, buffer.getvalue(), crop_x=30, crop_y=5, crop_size=30)

    image = Image.objects.get(pk=response.json()["id"])
    assert image.crop_box == [30, 5, 60, 35]
    assert np.asarray(PILImage.open(media_path(image.normalized.name))).min() == 255


@pytest.mark.parametrize(
    "crop",
    [
        {"crop_x": 0, "crop_y": 0},
        {"crop_x": 50, "crop_y": 0, "crop_size": 20},
        {"crop_x": -1, "crop_y": 0, "crop_size": 20},
        {"crop_x": 0, "crop_y": 0, "crop_size": 8},
    ],
)
def test_invalid_crop_boxes_are_refused(setup: Any, crop: dict[str, int], media_root: Path) -> None:
    client, model = setup

    response = upload(client, model, png_bytes((60, 40)), **crop)

    assert response.status_code == 400 and response.json()["error"]["code"] == "invalid_crop"
    assert stored_files(media_root) == [] and not Image.objects.exists()


def test_exif_orientation_is_applied(setup: Any) -> None:
    client, model = setup
    photo = PILImage.new("RGB", (60, 40), (10, 10, 10))
    exif = PILImage.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise to display
    buffer = io.BytesIO()
    photo.save(buffer, format="JPEG", exif=exif.tobytes())

    response = upload(client, model, buffer.getvalue())

    body = response.json()
    assert (body["original_width"], body["original_height"]) == (40, 60)
    assert body["crop_box"] == [0, 10, 40, 50]


def truncated_png() -> bytes:
    """A PNG cut off in the middle of its pixel data."""
    data = png_bytes((64, 64), (1, 2, 3))
    noisy = PILImage.fromarray(np.random.default_rng(0).integers(0, 255, (64, 64, 3), dtype=np.uint8))
    buffer = io.BytesIO()
    noisy.save(buffer, format="PNG")
    data = buffer.getvalue()
    return data[: len(data) // 2]


@pytest.mark.parametrize(
    ("data", "filename", "status", "code"),
    [
        (truncated_png(), "photo.png", 400, "unreadable_image"),
        (b"GIF89a" + b"\0" * 100, "photo.png", 400, "unreadable_image"),
        (b"#!/bin/sh\necho hi\n", "photo.jpg", 400, "unreadable_image"),
        (b"", "photo.png", 400, "invalid"),
        (huge_png_header(10_000, 10_000), "photo.png", 413, "too_many_pixels"),
        (huge_png_header(100_000, 100_000), "photo.png", 413, "too_many_pixels"),
    ],
    ids=["truncated", "gif-not-allowed", "script-named-jpg", "empty", "bomb-100mp", "bomb-10gp"],
)
def test_malformed_uploads_are_refused_and_nothing_is_stored(
    setup: Any, media_root: Path, data: bytes, filename: str, status: int, code: str
) -> None:
    client, model = setup

    response = upload(client, model, data, filename)

    assert response.status_code == status, response.json()
    assert response.json()["error"]["code"] == code
    assert stored_files(media_root) == [] and not Image.objects.exists()


def test_size_limit(setup: Any, settings: Any) -> None:
    client, model = setup
    settings.PARTEDIT_MAX_UPLOAD_BYTES = 100

    response = upload(client, model, png_bytes((200, 200)))

    assert response.status_code == 413 and response.json()["error"]["code"] == "file_too_large"


def test_pixel_limit_is_a_setting(setup: Any, settings: Any) -> None:
    client, model = setup
    settings.PARTEDIT_MAX_UPLOAD_PIXELS = 60 * 40 - 1

    assert upload(client, model, png_bytes((60, 40))).status_code == 413


def test_a_failed_upload_leaves_earlier_images_intact(setup: Any, media_root: Path) -> None:
    client, model = setup
    first = upload(client, model, png_bytes()).json()
    before = {path: path.read_bytes() for path in stored_files(media_root)}

    upload(client, model, truncated_png())

    assert {path: path.read_bytes() for path in stored_files(media_root)} == before
    assert list(Image.objects.values_list("pk", flat=True)) == [first["id"]]


def test_transparent_pixels_become_white(setup: Any) -> None:
    client, model = setup
    buffer = io.BytesIO()
    PILImage.new("RGBA", (16, 16), (0, 0, 0, 0)).save(buffer, format="PNG")

    image = Image.objects.get(pk=upload(client, model, buffer.getvalue()).json()["id"])

    assert np.asarray(PILImage.open(media_path(image.normalized.name))).min() == 255


def test_concurrent_decodes_are_bounded() -> None:
    import threading
    import time

    from webapp.assets.uploads import decode_slot

    inside, most, lock = [0], [0], threading.Lock()

    def decode() -> None:
        with decode_slot(2):
            with lock:
                inside[0] += 1
                most[0] = max(most[0], inside[0])
            time.sleep(0.05)
            with lock:
                inside[0] -= 1

    threads = [threading.Thread(target=decode) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert most[0] == 2


def test_a_large_jpeg_is_decoded_at_a_reduced_scale_with_the_same_result() -> None:
    from webapp.assets.uploads import normalize_upload

    # Smooth content, so decoding at 1/8 scale and at full scale give nearly the same 16 px crop.
    ramp = np.linspace(0, 255, 1024, dtype=np.float32)
    pixels = np.stack([np.add.outer(ramp, ramp) / 2, np.add.outer(ramp, 255 - ramp) / 2,
                       np.full((1024, 1024), 90.0)], axis=-1).astype(np.uint8)
    buffer = io.BytesIO()
    PILImage.fromarray(pixels).save(buffer, format="JPEG", quality=95)
    data = buffer.getvalue()

    reduced = normalize_upload(data, (100, 200, 512), RESOLUTION, 10**8, 10**8)
    expected = PILImage.fromarray(pixels).crop((100, 200, 612, 712)).resize((RESOLUTION, RESOLUTION),
                                                                             PILImage.Resampling.LANCZOS)

    assert (reduced.width, reduced.height, reduced.box) == (1024, 1024, [100, 200, 612, 712])
    got = np.asarray(PILImage.open(io.BytesIO(reduced.png)), dtype=np.int16)
    # JPEG at quality 95 and DCT-domain scaling each move a smooth ramp by a grey level or two
    # (measured: 2); a wrongly scaled or shifted crop would be off by tens.
    assert np.abs(got - np.asarray(expected, dtype=np.int16)).max() <= 4
