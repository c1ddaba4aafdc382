"""Predict on the annotation page, end to end: the demo model's shipped branch segments a sample on
the real Celery worker; the page puts its labels into the mask as one undo step and shades
the disagreement; saving stores exactly the job's labels (checked through the API)."""

from __future__ import annotations

import base64
import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image
from playwright.sync_api import Browser

from scripts.annotation_fixture import seed_stack
from scripts.local_stack import REPO_ROOT

from .conftest import NEEDS_CHROMIUM, Stack, running_stack
from .test_annotate_e2e import open_image, save, sign_in, stored

pytestmark = [pytest.mark.e2e, NEEDS_CHROMIUM]


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Stack, dict[str, Any]]]:
    """The demo model with its shipped (active) branch, a worker, and one rendered sample."""
    with running_stack(tmp_path_factory.mktemp("predict-stack"), REPO_ROOT / "models" / "demo") as stack:
        yield stack, seed_stack(stack, "--images", "0", "--samples", "1")


def test_predict_fills_the_mask_with_the_branch_labels(browser: Browser, seeded: tuple[Stack, dict[str, Any]],
                                                      tmp_path: Path) -> None:
    stack, seed = seeded
    image = seed["samples"][0]
    context, page = sign_in(browser, stack, seed, "alice")
    try:
        open_image(page, stack, image)
        assert page.locator("#predict-button").is_enabled()
        page.click("#predict-button")
        try:
            page.wait_for_selector("#uncertainty-toggle:not([hidden])", timeout=180_000)
        except Exception as error:
            raise AssertionError(f"no prediction: {error}\n{stack.report()}") from error
        assert page.locator("#uncertainty").is_visible()
        save(page, 1)
        jobs = page.request.get(f"{stack.url}api/jobs/", params={"type": "predict_mask"}).json()["results"]
        assert [job["status"] for job in jobs] == ["succeeded"]
        with Image.open(io.BytesIO(base64.b64decode(jobs[0]["result"]["labels_png"]))) as predicted:
            labels = np.asarray(predicted)
        assert len(np.unique(labels)) > 3, "a face has several parts"
        np.testing.assert_array_equal(stored(page, image), labels)

        # One undo step brings back the empty mask the prediction replaced.
        page.focus("#stage")
        page.keyboard.press("Control+z")
        save(page, 2)
        np.testing.assert_array_equal(stored(page, image), np.zeros_like(labels))
    finally:
        context.close()
