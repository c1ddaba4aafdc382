"""The annotation page in real Chromium against the real stack (Redis + daphne, production
settings): every tool changes the label array as expected, checked through the API (the saved
PNG decoded and compared pixel for pixel); undo/redo; reload; the 409 path with two browsers;
offline drawing saved on reconnect; a viewer's read-only page."""

from __future__ import annotations

import io
import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image
from playwright.sync_api import Browser, BrowserContext, Page

from scripts.annotation_fixture import seed_stack

from .conftest import NEEDS_CHROMIUM, Stack, running_stack

pytestmark = [pytest.mark.e2e, NEEDS_CHROMIUM]

R = 16  # the tiny test model's resolution
LABELS = [("background", "#000000"), ("skin", "#e6b48c"), ("hair", "#78461e"), ("eyes", "#28aae6"),
          ("mouth", "#e6283c")]


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory,
           tiny_model_dir: Path) -> Iterator[tuple[Stack, dict[str, Any]]]:
    """One stack for the module (no worker: annotation needs none), seeded with users and 4 images."""
    model_dir = tmp_path_factory.mktemp("annotate-model") / "model"
    shutil.copytree(tiny_model_dir, model_dir)
    (model_dir / "labels.json").write_text(json.dumps(
        {"labels": [{"name": name, "colour": colour} for name, colour in LABELS]}))
    with running_stack(tmp_path_factory.mktemp("annotate-stack"), model_dir, worker=False) as stack:
        yield stack, seed_stack(stack, "--images", "4")


def sign_in(browser: Browser, stack: Stack, seed: dict[str, Any], user: str,
            autosave_ms: int = 600_000) -> tuple[BrowserContext, Page]:
    """A fresh browser context signed in as ``user`` through the sign-in page; its pages autosave
    after ``autosave_ms`` (default: long, so that explicit saves make the only versions)."""
    context = browser.new_context(viewport={"width": 1280, "height": 860})
    context.add_init_script(f"localStorage.setItem('partedit.annotate.autosaveMs', '{autosave_ms}')")
    page = context.new_page()
    page.goto(f"{stack.url}sign-in/")
    page.fill("input[name=username]", user)
    page.fill("input[name=password]", seed["users"][user]["password"])
    page.click("button[type=submit]")
    page.wait_for_url(lambda url: "sign-in" not in url)
    return context, page


def open_image(page: Page, stack: Stack, image: int) -> None:
    """Open the annotation page of ``image`` and wait until it is ready."""
    page.goto(f"{stack.url}images/{image}/annotate/")
    page.wait_for_selector("body[data-ready=true]", timeout=90_000)


def screen(page: Page, x: float, y: float) -> tuple[float, float]:
    """Page coordinates of mask point (x, y)."""
    box = page.locator("#layer").bounding_box()
    assert box is not None
    return box["x"] + x * box["width"] / R, box["y"] + y * box["height"] / R


def drag(page: Page, points: list[tuple[float, float]], button: str = "left") -> None:
    """Press at the first mask point, move through the others, release."""
    page.mouse.move(*screen(page, *points[0]))
    page.mouse.down(button=button)
    for point in points[1:]:
        page.mouse.move(*screen(page, *point), steps=4)
    page.mouse.up(button=button)


def click(page: Page, x: float, y: float) -> None:
    """Click at mask point (x, y)."""
    page.mouse.click(*screen(page, x, y))


def set_size(page: Page, size: int) -> None:
    """Type a brush size into the size field."""
    page.fill("#size-number", str(size))
    page.dispatch_event("#size-number", "change")


def save(page: Page, version: int) -> None:
    """Ctrl+S, then wait until the page says version ``version`` is saved."""
    page.focus("#stage")
    page.keyboard.press("Control+s")
    page.wait_for_selector(f'#save-state[data-state=saved][data-version="{version}"]', timeout=15_000)


def stored(page: Page, image: int) -> np.ndarray:
    """The image's current annotation through the API, decoded to its label array."""
    response = page.request.get(page.url.split("/images/")[0] + f"/api/images/{image}/annotation.png")
    assert response.ok, response.status
    return np.asarray(Image.open(io.BytesIO(response.body())))


def versions(page: Page, image: int) -> list[dict[str, Any]]:
    """The image's versions, newest first."""
    response = page.request.get(page.url.split("/images/")[0] + f"/api/images/{image}/annotations/")
    return response.json()["results"]


def test_every_tool_undo_redo_save_and_reload(browser: Browser, seeded: tuple[Stack, dict[str, Any]]) -> None:
    stack, seed = seeded
    image = seed["images"][0]
    context, page = sign_in(browser, stack, seed, "alice")
    try:
        open_image(page, stack, image)
        expected = np.zeros((R, R), np.uint8)
        page.focus("#stage")

        # Brush, 1 px, label 2 (key "2"): a horizontal stroke along row 2.
        page.keyboard.press("b")
        page.keyboard.press("2")
        set_size(page, 1)
        drag(page, [(1.5, 2.5), (6.5, 2.5)])
        expected[2, 1:7] = 2
        save(page, 1)
        np.testing.assert_array_equal(stored(page, image), expected)

        # Brush 3 px, label 1: a vertical stroke; a 3 px brush covers the 3x3 block around each pixel.
        page.keyboard.press("1")
        set_size(page, 3)
        drag(page, [(12.5, 8.5), (12.5, 12.5)])
        expected[7:14, 11:14] = 1
        # Eraser, 1 px, over part of the first stroke.
        page.keyboard.press("e")
        set_size(page, 1)
        drag(page, [(3.5, 2.5), (4.5, 2.5)])
        expected[2, 3:5] = 0
        save(page, 2)
        np.testing.assert_array_equal(stored(page, image), expected)

        # Flood fill with label 3 inside the 3 px stroke's neighbourhood: the background region.
        page.keyboard.press("3")
        page.keyboard.press("g")
        click(page, 0.5, 15.5)
        expected[expected == 0] = 3  # all background is one 4-connected region here
        save(page, 3)
        np.testing.assert_array_equal(stored(page, image), expected)

        # Polygon with label 4: four clicks on pixel corners, closed by clicking the first vertex.
        page.keyboard.press("4")
        page.keyboard.press("p")
        for x, y in [(2, 5), (8, 5), (8, 10), (2, 10), (2, 5)]:
            click(page, x, y)
        expected[5:10, 2:8] = 4
        save(page, 4)
        np.testing.assert_array_equal(stored(page, image), expected)

        # Right-drag erases for one gesture with the polygon tool still chosen.
        set_size(page, 1)
        before_erase = expected.copy()
        drag(page, [(2.5, 7.5), (7.5, 7.5)], button="right")
        expected[7, 2:8] = 0
        assert page.locator(".tool[data-tool=polygon]").get_attribute("aria-pressed") == "true"
        save(page, 5)
        np.testing.assert_array_equal(stored(page, image), expected)

        # Undo (Ctrl+Z) brings the erased row back; redo (Ctrl+Shift+Z) erases it again; undo again.
        page.keyboard.press("Control+z")
        save(page, 6)
        np.testing.assert_array_equal(stored(page, image), before_erase)
        page.keyboard.press("Control+Shift+z")
        save(page, 7)
        np.testing.assert_array_equal(stored(page, image), expected)
        page.keyboard.press("Control+z")
        page.keyboard.press("Control+z")  # and the polygon
        expected = before_erase.copy()
        expected[5:10, 2:8] = 3
        save(page, 8)
        np.testing.assert_array_equal(stored(page, image), expected)
        assert [v["number"] for v in versions(page, image)] == list(range(8, 0, -1))
        assert all(v["done"] for v in versions(page, image)), "Ctrl+S saves finished versions"

        # Reload: the page loads v8; one more pixel on top proves it holds the identical array.
        page.reload()
        page.wait_for_selector("body[data-ready=true]")
        assert page.locator("#version-badge").inner_text().lower().startswith("editing v8")
        assert page.locator("#size-number").input_value() == "1", "tool settings persist"
        page.focus("#stage")
        page.keyboard.press("b")
        page.keyboard.press("2")
        click(page, 15.5, 0.5)
        expected[0, 15] = 2
        save(page, 9)
        np.testing.assert_array_equal(stored(page, image), expected)
        assert versions(page, image)[0]["parent_number"] == 8
    finally:
        context.close()


def test_stale_save_opens_the_conflict_view_and_merges_by_label(
        browser: Browser, seeded: tuple[Stack, dict[str, Any]]) -> None:
    stack, seed = seeded
    image = seed["images"][1]
    alice_context, alice = sign_in(browser, stack, seed, "alice")
    bob_context, bob = sign_in(browser, stack, seed, "bob")
    try:
        open_image(alice, stack, image)
        open_image(bob, stack, image)
        for page, label, row in ((alice, "2", 3), (bob, "4", 9)):
            page.focus("#stage")
            page.keyboard.press(label)
            set_size(page, 1)
            drag(page, [(1.5, row + 0.5), (10.5, row + 0.5)])
        save(alice, 1)
        theirs = np.zeros((R, R), np.uint8)
        theirs[3, 1:11] = 2

        bob.focus("#stage")
        bob.keyboard.press("Control+s")
        bob.wait_for_selector("#conflict-dialog[open]", timeout=15_000)
        assert bob.locator("#save-state").get_attribute("data-state") == "conflict"
        rows = bob.locator("#merge-rows tr")
        assert rows.count() == 3  # background, hair (theirs only), mouth (mine only)
        # Their hair wins, my mouth stays: save the merge on top of their version.
        bob.check("#merge-rows input[data-label='2'][value=theirs]")
        bob.click("#merge-labels")
        bob.wait_for_selector('#save-state[data-state=saved][data-version="2"]', timeout=15_000)
        merged = theirs.copy()
        merged[9, 1:11] = 4
        np.testing.assert_array_equal(stored(bob, image), merged)
        newest = versions(bob, image)[0]
        assert (newest["number"], newest["parent_number"], newest["author"]) == (2, 1, "bob")
    finally:
        alice_context.close()
        bob_context.close()


def test_offline_drawing_is_kept_and_saved_on_reconnect(
        browser: Browser, seeded: tuple[Stack, dict[str, Any]]) -> None:
    stack, seed = seeded
    image = seed["images"][2]
    context, page = sign_in(browser, stack, seed, "alice", autosave_ms=1000)
    try:
        open_image(page, stack, image)
        context.set_offline(True)
        page.focus("#stage")
        page.keyboard.press("1")
        set_size(page, 2)
        drag(page, [(4, 4), (4, 12)])
        page.wait_for_selector("#save-state[data-state=offline]", timeout=15_000)
        draft = page.evaluate(f"localStorage.getItem('partedit.annotate.draft.{image}')")
        assert draft and json.loads(draft)["width"] == R
        context.set_offline(False)
        page.wait_for_selector('#save-state[data-state=saved][data-version="1"]', timeout=20_000)
        expected = np.zeros((R, R), np.uint8)
        expected[3:13, 3:5] = 1  # a 2 px brush from corner (4, 4) to (4, 12): columns 3-4, rows 3-12
        np.testing.assert_array_equal(stored(page, image), expected)
        assert versions(page, image)[0]["done"] is False, "an autosave is a draft"
        assert page.evaluate(f"localStorage.getItem('partedit.annotate.draft.{image}')") is None
    finally:
        context.close()


def test_a_viewer_gets_a_read_only_page(browser: Browser, seeded: tuple[Stack, dict[str, Any]]) -> None:
    stack, seed = seeded
    image = seed["images"][3]
    context, page = sign_in(browser, stack, seed, "vic")
    try:
        open_image(page, stack, image)
        assert page.locator("#tools").count() == 0
        assert page.locator("#save-button").count() == 0
        assert page.locator("#save-state").inner_text() == "Read-only"
        drag(page, [(2.5, 2.5), (12.5, 12.5)])
        page.keyboard.press("Control+s")
        page.wait_for_timeout(500)
        assert versions(page, image) == []
    finally:
        context.close()
