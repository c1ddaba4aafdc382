"""The studio's Dataset and Models pages in real Chromium against the real stack (Redis, a Celery
worker, daphne, production settings): sign in, sample images onto the dataset page, train a branch
on tiny data and watch its progress bar reach the end and its IoU chart appear, activate it; a
viewer sees no edit controls."""

from __future__ import annotations

import io
import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import requests
from PIL import Image
from playwright.sync_api import Browser, BrowserContext, Page

from scripts.studio_fixture import seed_stack

from .conftest import NEEDS_CHROMIUM, Stack, running_stack

pytestmark = [pytest.mark.e2e, NEEDS_CHROMIUM]

R = 16  # the tiny test model's resolution
LABELS = [{"name": "background", "colour": "#000000", "context": True}, {"name": "face", "colour": "#e6b48c"}]
SAMPLES = 6
TRAIN_STEPS = 30


@pytest.fixture(scope="module")
def seeded(
    tmp_path_factory: pytest.TempPathFactory, tiny_model_dir: Path
) -> Iterator[tuple[Stack, dict[str, Any]]]:
    """One stack for the module with the tiny two-label model, seeded with ana (owner) and vic (viewer)."""
    model_dir = tmp_path_factory.mktemp("studio-model") / "model"
    shutil.copytree(tiny_model_dir, model_dir)
    (model_dir / "labels.json").write_text(json.dumps({"labels": LABELS}))
    with running_stack(tmp_path_factory.mktemp("studio-stack"), model_dir) as stack:
        seeded = seed_stack(stack)
        requests.get(f"{stack.url}sign-in/", timeout=120).raise_for_status()  # the first request loads Django
        yield stack, seeded


def sign_in(browser: Browser, stack: Stack, seed: dict[str, Any], user: str) -> tuple[BrowserContext, Page]:
    """A fresh browser context signed in as ``user`` through the sign-in page."""
    context = browser.new_context(viewport={"width": 1280, "height": 860})
    context.set_default_timeout(60_000)  # a loaded CI machine answers slowly
    page = context.new_page()
    page.goto(f"{stack.url}sign-in/")
    page.fill("input[name=username]", user)
    page.fill("input[name=password]", seed["passwords"][user])
    page.click("button[type=submit]")
    page.wait_for_url("**/dataset/")
    return context, page


def api(stack: Stack, seed: dict[str, Any], user: str) -> requests.Session:
    """A token-authenticated API session (as a script would annotate)."""
    session = requests.Session()
    credentials = {"username": user, "password": seed["passwords"][user]}
    answer = session.post(f"{stack.url}api/auth/token/", data=credentials)
    session.headers["Authorization"] = f"Token {answer.json()['token']}"
    return session


def face_mask(offset: int) -> bytes:
    """A label map: background with a square 'face' (label 1), shifted by ``offset``."""
    labels = np.zeros((R, R), np.uint8)
    labels[3 + offset % 4: 12 + offset % 4, 4:12] = 1
    buffer = io.BytesIO()
    Image.fromarray(labels, mode="L").save(buffer, format="PNG")
    return buffer.getvalue()


def test_sign_in_sample_train_and_activate_a_branch(
    browser: Browser, seeded: tuple[Stack, dict[str, Any]]
) -> None:
    stack, seed = seeded
    context, page = sign_in(browser, stack, seed, "ana")
    assert page.get_attribute("body", "data-role") == "owner"
    page.wait_for_selector("#image-grid .empty-state")

    page.click("#open-sample")
    page.fill("#sample-form input[name=count]", str(SAMPLES))
    page.fill("#sample-form input[name=seed]", "7")
    page.click("#sample-form button[type=submit]")
    try:
        page.wait_for_function(f"""() => document.querySelectorAll('.image-card').length === {SAMPLES}
            && !document.querySelector('.thumb-missing')""", timeout=120_000)
    except Exception as error:
        raise AssertionError(f"the samples did not render: {error}\n{stack.report()}") from error
    session = api(stack, seed, "ana")
    images = session.get(f"{stack.url}api/images/", params={"model": seed["model"]}).json()["results"]
    assert sorted(image["seed"] for image in images) == list(range(7, 7 + SAMPLES))
    assert all(image["status"] == "ready" and image["files"]["latent"] for image in images)

    for index, image in enumerate(images[:5]):  # 5 annotations: the default holds out one
        saved = session.post(f"{stack.url}api/images/{image['id']}/annotations/",
                             files={"mask": ("mask.png", face_mask(index), "image/png")})
        assert saved.status_code == 201, saved.text
    page.reload()
    page.wait_for_selector('.image-card[data-annotation="done"]')
    assert page.text_content("#annotated-count") == "5"
    assert page.locator('.image-card[data-annotation="done"]').count() == 5
    page.select_option("#filter-annotation", "none")
    page.wait_for_function("() => document.querySelectorAll('.image-card').length === 1")
    page.select_option("#filter-annotation", "")

    page.click("#open-train")
    assert page.input_value("#train-form input[name=held_out]") == "1"
    page.fill("#train-form input[name=steps]", str(TRAIN_STEPS))
    page.click("#train-form button[type=submit]")
    try:
        page.wait_for_selector(f'#training .job-progress[data-status="succeeded"][data-step="{TRAIN_STEPS}"]'
                               f'[data-total="{TRAIN_STEPS}"]', timeout=180_000)
        page.wait_for_selector("#training .iou-chart")
    except Exception as error:
        raise AssertionError(f"training did not finish: {error}\n{stack.report()}") from error
    assert page.eval_on_selector("#training progress", "bar => bar.value") == 1
    assert "loss" in page.text_content("#training .job-text")
    rows = page.eval_on_selector_all("#training .iou-row", "rows => rows.map(row => row.dataset.label)")
    assert rows == ["background", "face"]

    branch_id = page.get_attribute("#training .training-result", "data-branch-id")
    assert session.get(f"{stack.url}api/branches/{branch_id}/").json()["is_active"] is False
    page.click("#activate-branch")
    page.wait_for_selector("#training .badge.active")
    assert session.get(f"{stack.url}api/branches/{branch_id}/").json()["is_active"] is True

    page.goto(f"{stack.url}models/")
    page.wait_for_selector(".model-card .iou-chart")
    assert page.locator(".model-card .iou-row").count() == 2
    page.goto(f"{stack.url}jobs/")
    page.wait_for_selector('tr[data-status="succeeded"]')
    assert page.locator("tr[data-job-id]").count() == SAMPLES + 1
    context.close()


def test_a_viewer_sees_no_edit_controls(browser: Browser, seeded: tuple[Stack, dict[str, Any]]) -> None:
    stack, seed = seeded
    session = api(stack, seed, "ana")
    render = {"team": seed["team"], "type": "render", "parameters": {"model": seed["model"], "seed": 99}}
    session.post(f"{stack.url}api/jobs/", json=render).raise_for_status()
    context, page = sign_in(browser, stack, seed, "vic")

    assert page.get_attribute("body", "data-can-edit") == "false"
    page.wait_for_selector(".image-card")
    for control in ("#open-sample", "#open-upload", "#open-train", "#sample-dialog", "#upload-dialog"):
        assert page.locator(control).count() == 0, control
    assert page.locator(".image-card .card-actions button").count() == 0
    assert page.locator(".image-card .card-actions a").first.text_content() == "View"
    assert page.locator(".job-cancel").count() == 0

    page.goto(f"{stack.url}models/")
    page.wait_for_selector(".model-card")
    assert page.locator("#open-register, [data-action=edit-taxonomy], #register-dialog").count() == 0
    # The server refuses anyway.
    refused = page.evaluate("""async (body) => (await fetch('/api/jobs/', {method: 'POST', body,
        headers: {'Content-Type': 'application/json',
                  'X-CSRFToken': document.cookie.match(/csrftoken=([^;]+)/)[1]}})).status""",
                            json.dumps(render))
    assert refused == 403
    context.close()
