"""End to end: real Redis, Celery worker and daphne processes, driven through headless Chromium."""

from __future__ import annotations

import base64
import io

import numpy as np
import pytest
from PIL import Image
from playwright.sync_api import Page, sync_playwright

from .conftest import CHROMIUM, CHROMIUM_ARGS, NEEDS_CHROMIUM, Stack

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


def test_slider_move_renders_a_new_frame(stack: Stack) -> None:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page()
            binary_frames: list[bytes] = []
            page.on("websocket", lambda socket: socket.on(
                "framereceived", lambda payload: binary_frames.append(payload) if isinstance(payload, bytes)
                else None))
            page.goto(stack.url)
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
