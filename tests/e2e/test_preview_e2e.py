"""End to end: real Redis, Celery worker and daphne processes, driven through headless Chromium."""

from __future__ import annotations

import base64
import io
import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from playwright.sync_api import Page, sync_playwright

from scripts.local_stack import (
    StackProcess,
    free_port,
    start_daphne,
    start_redis,
    start_worker,
    stop,
    wait_for_port,
)

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
# Reads the displayed frame's bytes back out of the page (its src is a blob: URL).
READ_FRAME_JS = """async () => {
  const bytes = new Uint8Array(await (await fetch(document.getElementById('frame').src)).arrayBuffer());
  let binary = '';
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return btoa(binary);
}"""

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium at /usr/bin/chromium "
                       "(`apt-get install chromium`; .ci/run installs it)"),
]


class Stack:
    """The running processes of the test, and their log files for failure messages."""

    def __init__(self, url: str, processes: list[StackProcess], logs: dict[str, Path]) -> None:
        self.url = url
        self.processes = processes
        self.logs = logs

    def report(self) -> str:
        """The tail of every process log, for assertion messages."""
        return "\n".join(f"--- {name} ---\n{path.read_text(errors='replace')[-3000:]}"
                         for name, path in self.logs.items())


@pytest.fixture
def stack(tmp_path: Path, tiny_model_dir: Path) -> Iterator[Stack]:
    """Redis (REDIS_URL's, or one started here), one Celery worker and daphne, as production runs them."""
    processes: list[StackProcess] = []
    logs = {name: tmp_path / f"{name}.log" for name in ("redis", "worker", "daphne")}
    try:
        redis_url = os.environ.get("REDIS_URL", "")
        if not redis_url:
            redis_port = free_port()
            with logs["redis"].open("wb") as log:
                processes.append(start_redis(redis_port, log))
            wait_for_port(redis_port, processes[-1], timeout=20)
            redis_url = f"redis://127.0.0.1:{redis_port}/0"
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "webapp.settings",
            "DEBUG": "0",
            "SECRET_KEY": "e2e-test-secret",
            "REDIS_URL": redis_url,
            "DATABASE_URL": f"sqlite:///{tmp_path / 'e2e.sqlite3'}",
            "PARTEDIT_MODEL_PATH": str(tiny_model_dir),
            "PARTEDIT_DEVICE": "cpu",
        }
        with logs["worker"].open("wb") as log:
            processes.append(start_worker(env, log))
        port = free_port()
        with logs["daphne"].open("wb") as log:
            processes.append(start_daphne(port, env, log))
        wait_for_port(port, processes[-1])
        yield Stack(f"http://127.0.0.1:{port}/", processes, logs)
    finally:
        stop(processes)


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
