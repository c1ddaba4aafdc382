"""End to end: real Redis, Celery worker and daphne processes, driven through headless Chromium."""

from __future__ import annotations

import base64
import io
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from playwright.sync_api import Page, sync_playwright

from .conftest import CHROMIUM, CHROMIUM_ARGS, NEEDS_CHROMIUM, Stack, running_stack

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
# Reads the displayed frame's bytes back out of the page (its src is a blob: URL).
READ_FRAME_JS = """async () => {
  const bytes = new Uint8Array(await (await fetch(document.getElementById('frame').src)).arrayBuffer());
  let binary = '';
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return btoa(binary);
}"""

pytestmark = [pytest.mark.e2e, NEEDS_CHROMIUM]


def read_frame(page: Page) -> bytes:
    """The PNG bytes of the frame the page shows."""
    return base64.b64decode(page.evaluate(READ_FRAME_JS))


@pytest.fixture
def labelled_stack(tmp_path: Path, labelled_model_dir: Path) -> Iterator[Stack]:
    """The process stack on a model with a taxonomy, so that a new team gets it registered (previews
    need a member of a team holding the server's model)."""
    (tmp_path / "stack").mkdir()
    with running_stack(tmp_path / "stack", labelled_model_dir) as running:
        yield running


def signed_in_sample_page(page: Page, stack: Stack) -> None:
    """Create a user and their team in the stack's database, sign in, open the Sample page."""
    stack.manage("migrate", "--no-input")
    # Previews need a member of a team holding the server's model: a new team registers it.
    stack.manage("shell", "-c", "from django.contrib.auth import get_user_model; "
                 "from webapp.annotations.bundled import register_server_model; "
                 "from webapp.teams.services import create_team; "
                 "user = get_user_model().objects.create_user('sampler', password='sampler-pass'); "
                 "register_server_model(create_team(user, 'Samples'))")
    page.goto(f"{stack.url}sign-in/?next=/sample/")
    page.fill("input[name=username]", "sampler")
    page.fill("input[name=password]", "sampler-pass")
    page.click("button[type=submit]")
    page.wait_for_url("**/sample/")


def test_slider_move_renders_a_new_frame(labelled_stack: Stack) -> None:
    stack = labelled_stack
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page()
            binary_frames: list[bytes] = []
            page.on("websocket", lambda socket: socket.on(
                "framereceived", lambda payload: binary_frames.append(payload) if isinstance(payload, bytes)
                else None))
            signed_in_sample_page(page, stack)
            try:
                page.wait_for_selector('#frame[data-frame-count="1"]', timeout=90_000)
            except Exception as error:
                raise AssertionError(f"no first frame: {error}\n{stack.report()}") from error
            first = read_frame(page)

            slider = page.locator("#psi")
            box = slider.bounding_box()
            assert box is not None
            middle_y = box["y"] + box["height"] / 2
            page.mouse.move(box["x"] + box["width"] * 0.75, middle_y)
            page.mouse.down()
            page.mouse.move(box["x"] + box["width"] - 2, middle_y, steps=12)
            page.mouse.up()
            final_psi = f"{float(slider.input_value()):.2f}"
            assert final_psi != "0.70"
            page.wait_for_selector(f'#frame[data-psi="{final_psi}"]', timeout=60_000)
            second = read_frame(page)
            frame_count = int(page.get_attribute("#frame", "data-frame-count") or 0)
        finally:
            browser.close()

    assert first.startswith(PNG_SIGNATURE) and second.startswith(PNG_SIGNATURE)
    first_pixels = np.asarray(Image.open(io.BytesIO(first)).convert("RGB"), dtype=np.int16)
    second_pixels = np.asarray(Image.open(io.BytesIO(second)).convert("RGB"), dtype=np.int16)
    assert first_pixels.shape == second_pixels.shape == (16, 16, 3)
    assert np.abs(first_pixels - second_pixels).max() > 0
    # Frames arrive as binary WebSocket messages, one per frame shown, never base64 text.
    assert frame_count >= 2
    assert len(binary_frames) == frame_count
    assert all(frame.startswith(PNG_SIGNATURE) for frame in binary_frames)
    assert all(process.alive() for process in stack.processes), stack.report()
