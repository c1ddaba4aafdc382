"""Screenshots of the annotation page: editing, the 409 conflict view and the shortcut overlay.

``.venv/bin/python -m scripts.annotate_screenshots [--out docs/screenshots]`` renders a demo-model
face and its part map from the shipped branch (``partedit-engine segment``), starts Redis and
daphne on a throw-away database, seeds it (scripts/annotation_fixture.py) with that face
annotated as version 1, and drives the page in headless Chromium: a brush stroke and a polygon
in progress, a stale save from a second user, the help overlay. Needs /usr/bin/chromium.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from playwright.sync_api import Browser, Page, sync_playwright

from scripts.annotation_fixture import seed_stack
from scripts.local_stack import REPO_ROOT, running_stack

CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run"]
VIEWPORT = {"width": 1440, "height": 900}
SEED = 7


def face(folder: Path) -> tuple[Path, Path]:
    """A demo-model sample and its part map from the shipped branch."""
    photo, parts = folder / "face.png", folder / "parts.png"
    engine = Path(sys.executable).parent / "partedit-engine"
    subprocess.run([str(engine), "segment", "--model", str(REPO_ROOT / "models" / "demo"),
                    "--seed", str(SEED), "--psi", "0.7", "-o", str(parts), "--image-output", str(photo)],
                   check=True, env={**os.environ, "PARTEDIT_TORCH_THREADS": "1", "OMP_NUM_THREADS": "1"})
    return photo, parts


def signed_in(browser: Browser, url: str, user: str, password: str) -> Page:
    """A page of a new context signed in as ``user``."""
    context = browser.new_context(viewport=VIEWPORT)
    # Only the explicit saves below make versions (no autosave racing them).
    context.add_init_script("localStorage.setItem('partedit.annotate.autosaveMs', '600000')")
    page = context.new_page()
    page.goto(f"{url}sign-in/")
    page.fill("input[name=username]", user)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")
    page.wait_for_url(lambda address: "sign-in" not in address)
    return page


def at(page: Page, x: float, y: float, resolution: int) -> tuple[float, float]:
    """Page coordinates of mask point (x, y)."""
    box = page.locator("#layer").bounding_box()
    assert box is not None
    return box["x"] + x * box["width"] / resolution, box["y"] + y * box["height"] / resolution


def open_image(page: Page, url: str, image: int) -> None:
    """Open the annotation page and wait for it."""
    page.goto(f"{url}images/{image}/annotate/")
    page.wait_for_selector("body[data-ready=true]", timeout=60_000)
    page.focus("#stage")


def tour(url: str, seeded: dict, out: Path) -> None:
    """Take the three screenshots."""
    resolution, image = seeded["resolution"], seeded["images"][0]
    passwords = {name: user["password"] for name, user in seeded["users"].items()}
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        alice = signed_in(browser, url, "alice", passwords["alice"])
        bob = signed_in(browser, url, "bob", passwords["bob"])
        open_image(alice, url, image)
        open_image(bob, url, image)

        # Alice: a hair stroke (label 5) over the background above the head, then a clothes
        # polygon in progress.
        alice.keyboard.press("5")
        alice.fill("#size-number", "3")
        alice.dispatch_event("#size-number", "change")
        alice.focus("#stage")
        alice.mouse.move(*at(alice, 21, 9, resolution))
        alice.mouse.down()
        alice.mouse.move(*at(alice, 31, 4, resolution), steps=8)
        alice.mouse.move(*at(alice, 41, 9, resolution), steps=8)
        alice.mouse.up()
        alice.keyboard.press("Control+s")
        alice.wait_for_selector('#save-state[data-state=saved][data-version="2"]', timeout=30_000)
        alice.keyboard.press("Shift+BracketRight")
        alice.keyboard.press("3")
        alice.keyboard.press("p")
        for x, y in [(22, 54), (31, 51), (40, 54), (44, 62)]:
            alice.mouse.click(*at(alice, x, y, resolution))
        alice.mouse.move(*at(alice, 20, 62, resolution))
        alice.wait_for_timeout(300)
        alice.screenshot(path=str(out / "annotate.png"))
        print(f"wrote {out / 'annotate.png'}")

        # Bob edited version 1 meanwhile: his save is stale and opens the conflict view.
        bob.keyboard.press("4")
        bob.fill("#size-number", "4")
        bob.dispatch_event("#size-number", "change")
        bob.focus("#stage")
        bob.mouse.move(*at(bob, 12, 30, resolution))
        bob.mouse.down()
        bob.mouse.move(*at(bob, 12, 40, resolution), steps=8)
        bob.mouse.up()
        bob.keyboard.press("Control+s")
        bob.wait_for_selector("#conflict-dialog[open]", timeout=30_000)
        bob.check("#merge-rows input[data-label='5'][value=theirs]")
        bob.wait_for_timeout(300)
        bob.screenshot(path=str(out / "annotate-conflict.png"))
        print(f"wrote {out / 'annotate-conflict.png'}")

        alice.keyboard.press("Escape")
        alice.keyboard.press("?")
        alice.wait_for_selector("#help-dialog[open]")
        alice.wait_for_timeout(300)
        alice.screenshot(path=str(out / "annotate-help.png"))
        print(f"wrote {out / 'annotate-help.png'}")
        browser.close()


def main() -> None:
    """Render the face, start and seed the stack, take the screenshots."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=REPO_ROOT / "docs" / "screenshots")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="partedit-annotate-shots-") as tmp:
        folder = Path(tmp)
        photo, parts = face(folder)
        with running_stack(folder, REPO_ROOT / "models" / "demo", worker=False) as stack:
            seeded = seed_stack(stack, "--photo", str(photo), "--mask", str(parts))
            tour(stack.url, seeded, args.out)


if __name__ == "__main__":
    main()
