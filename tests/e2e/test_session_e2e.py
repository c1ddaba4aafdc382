"""The edit studio in real Chromium against the real stack (Redis, a Celery worker, daphne,
production settings) with the demo model, its shipped branch and starter library: two browser
contexts in one session. One adds a library vector and moves its strength, the other sees the
new scale and a new frame; one repaints the mask and optimises it, both see the job's progress
and the resulting vector; a reload reconnects to the full state; the viewer has no edit controls."""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from playwright.sync_api import Browser, BrowserContext, Page, expect

from scripts.studio_fixture import seed_stack

from .conftest import NEEDS_CHROMIUM, Stack, running_stack

pytestmark = [pytest.mark.e2e, NEEDS_CHROMIUM]

ROOT = Path(__file__).resolve().parents[2]
DEMO_MODEL = ROOT / "models" / "demo"
JOB_TIMEOUT_MS = 240_000


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Stack, dict[str, Any]]]:
    """A stack on the demo model, ana (owner) and vic (viewer), and a session on a rendered sample."""
    with running_stack(tmp_path_factory.mktemp("session-stack"), DEMO_MODEL) as stack:
        seeded = seed_stack(stack)
        client = api(stack, seeded, "ana")
        job = client.post(
            f"{stack.url}api/jobs/",
            json={
                "team": seeded["team"],
                "type": "render",
                "parameters": {"model": seeded["model"], "seed": 41, "psi": 0.7},
            },
        ).json()
        image = job["parameters"]["image"]
        deadline = time.monotonic() + 120
        while client.get(f"{stack.url}api/images/{image}/").json()["status"] != "ready":
            assert time.monotonic() < deadline, stack.report()
            time.sleep(0.5)
        session = client.post(f"{stack.url}api/sessions/", json={"image": image, "title": "Together"}).json()
        yield stack, {**seeded, "session": session["id"], "client": client}


def api(stack: Stack, seed: dict[str, Any], user: str) -> requests.Session:
    """A token-authenticated API session."""
    session = requests.Session()
    answer = session.post(
        f"{stack.url}api/auth/token/", data={"username": user, "password": seed["passwords"][user]}
    )
    session.headers["Authorization"] = f"Token {answer.json()['token']}"
    return session


def open_session(
    browser: Browser, stack: Stack, seed: dict[str, Any], user: str
) -> tuple[BrowserContext, Page]:
    """A fresh browser context signed in as ``user``, on the session page with a first frame shown."""
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    context.set_default_timeout(90_000)  # CI machines are shared; every wait below is event-driven
    page = context.new_page()
    console: list[str] = []
    page.on("console", lambda message: console.append(f"{message.type}: {message.text}"))
    page.on("pageerror", lambda error: console.append(f"page error: {error}"))
    page.goto(f"{stack.url}sign-in/")
    page.fill("input[name=username]", user)
    page.fill("input[name=password]", seed["passwords"][user])
    page.click("button[type=submit]")
    page.wait_for_url("**/dataset/")
    page.goto(f"{stack.url}sessions/{seed['session']}/")
    try:
        page.wait_for_selector("#after-image[data-revision]", state="attached", timeout=60_000)
    except Exception as error:
        raise AssertionError(f"no frame arrived\nbrowser console: {console}\n{stack.report()}") from error
    return context, page


def wait_until(condition: Callable[[], bool], seconds: float, what: str) -> None:
    """Poll ``condition`` (the page's CSP forbids evaluating strings, so no wait_for_function)."""
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.2)


def shown_revision(page: Page) -> int:
    """The revision of the frame the page shows."""
    return int(page.get_attribute("#after-image", "data-revision") or -1)


def test_two_people_edit_one_image_live(browser: Browser, seeded: tuple[Stack, dict[str, Any]]) -> None:
    stack, seed = seeded
    _, editor = open_session(browser, stack, seed, "ana")
    _, watcher = open_session(browser, stack, seed, "vic")
    expect(watcher.locator("#add-vector")).to_have_count(0)
    expect(editor.locator("#participants")).to_contain_text("vic")

    # A library vector, then its strength: the watcher sees the new scale and a newer frame.
    editor.select_option("#vector-choice", label="Smile")
    editor.click("#add-vector button[type=submit]")
    expect(watcher.locator(".stack-row")).to_have_count(1, timeout=20_000)
    before = shown_revision(watcher)
    scale = editor.locator(".stack-row .scale-input")
    scale.fill("1.75")
    scale.dispatch_event("change")
    expect(watcher.locator(".stack-row .scale-input")).to_have_value("1.75", timeout=20_000)
    wait_until(lambda: shown_revision(watcher) > before, 60, "the watcher's frame after the scale change")

    # Repaint the parts and optimise: both see the job's progress and the vector it makes.
    editor.click("#segment")
    expect(editor.locator("#mask-state")).to_have_text(re.compile(r"^of revision \d+"), timeout=60_000)
    editor.select_option("#paint-label", label="mouth")
    box = editor.locator("#mask-stage").bounding_box()
    assert box is not None
    editor.mouse.move(box["x"] + box["width"] * 0.42, box["y"] + box["height"] * 0.70)
    editor.mouse.down()
    editor.mouse.move(box["x"] + box["width"] * 0.58, box["y"] + box["height"] * 0.70, steps=8)
    editor.mouse.up()
    editor.click("#add-mask-edit")
    expect(watcher.locator(".stack-row[data-kind=mask_edit]")).to_have_count(1, timeout=20_000)
    editor.click(".stack-row[data-kind=mask_edit] button.primary")
    for page in (editor, watcher):
        expect(page.locator(".job-progress")).to_have_count(1, timeout=30_000)
    for page in (editor, watcher):
        expect(page.locator(".job-progress")).to_have_attribute(
            "data-status", "succeeded", timeout=JOB_TIMEOUT_MS
        )
        expect(page.locator(".stack-row[data-kind=mask_edit]")).to_contain_text("→", timeout=30_000)
    vectors = seed["client"].get(f"{stack.url}api/vectors/", params={"team": seed["team"]}).json()["results"]
    assert any(vector["source_session"] == seed["session"] for vector in vectors)

    # A reload reconnects: the full state and a frame of the current revision come back.
    revision = int(editor.inner_text("#revision").split()[-1])
    editor.reload()
    editor.wait_for_selector("#after-image[data-revision]", timeout=60_000)
    expect(editor.locator(".stack-row")).to_have_count(2)
    assert shown_revision(editor) >= revision - 1 and editor.inner_text("#revision") == f"rev {revision}"
