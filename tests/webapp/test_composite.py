"""Export into the full-resolution photo: the exact membrane solver, Poisson blending, the endpoint."""

from __future__ import annotations

import io
from typing import Any

import numpy as np
import pytest
from PIL import Image as PILImage

from tests.webapp.factories import png_bytes
from webapp.editsessions import services
from webapp.editsessions.composite import membrane, poisson_blend
from webapp.teams.models import Role


def border_only(values: np.ndarray) -> np.ndarray:
    """``values`` with the interior zeroed (what the solver may see)."""
    border = values.astype(np.float64).copy()
    border[1:-1, 1:-1] = 0
    return border


def test_the_membrane_reproduces_discrete_harmonic_functions_exactly() -> None:
    rows, columns = np.mgrid[0:11, 0:17]
    for harmonic in (0.5 * columns - 1.5 * rows + 3.0, columns**2 - rows**2 + 0.0, rows * columns + 0.0):
        # Float64 round-off of two FFT-based transforms on values up to ~300: far below 1e-9.
        assert np.abs(membrane(border_only(harmonic)) - harmonic).max() < 1e-9


def test_blending_meets_the_target_on_the_border_and_keeps_the_source_gradients() -> None:
    rng = np.random.default_rng(0)
    target = rng.integers(0, 200, (24, 30, 3)).astype(np.uint8)
    source = target + np.uint8(40)  # a colour shift (no value reaches 255: nothing clips)

    blended = poisson_blend(target, source)

    ring = np.ones((24, 30), bool)
    ring[1:-1, 1:-1] = False
    assert np.array_equal(blended[ring], target[ring])
    # A constant shift has no gradient, so the blend undoes it everywhere (exactly, after rounding).
    assert np.array_equal(blended, target)


@pytest.mark.django_db
def test_the_export_endpoint_blends_the_edit_into_the_original(
    make_user: Any, make_team: Any, make_model: Any, make_image: Any, client_for: Any
) -> None:
    owner, outsider = make_user("owner"), make_user("outsider")
    team = make_team("Lab", {owner: Role.OWNER})
    make_team("Other", {outsider: Role.OWNER})
    image = make_image(make_model(team))  # a 40x30 photo, centred 30x30 crop, 16 px model
    session = services.create_session(owner, image)
    edited = io.BytesIO()
    PILImage.new("RGB", (16, 16), (10, 200, 90)).save(edited, format="PNG")
    edited.seek(0)
    edited.name = "frame.png"

    response = client_for(owner).post(
        f"/api/sessions/{session.pk}/export/", {"edited": edited}, format="multipart"
    )

    result = np.asarray(PILImage.open(io.BytesIO(response.content)))
    original = np.asarray(PILImage.open(io.BytesIO(png_bytes())).convert("RGB"))
    left, top, right, bottom = image.crop_box
    assert response.status_code == 200 and result.shape == original.shape
    outside = np.ones(original.shape[:2], bool)
    outside[top + 1 : bottom - 1, left + 1 : right - 1] = False
    assert np.array_equal(result[outside], original[outside])
    wrong = io.BytesIO(png_bytes((8, 8)))
    wrong.name = "small.png"
    refused = client_for(owner).post(
        f"/api/sessions/{session.pk}/export/", {"edited": wrong}, format="multipart"
    )
    assert refused.status_code == 400 and refused.json()["error"]["code"] == "invalid_edit_size"
    assert client_for(outsider).post(f"/api/sessions/{session.pk}/export/").status_code == 404
