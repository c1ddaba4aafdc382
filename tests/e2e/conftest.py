"""Fixtures of the browser tests: the process stack (Redis, optionally a Celery worker, daphne)
as production runs it, and headless Debian Chromium driven by Playwright."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, sync_playwright

from scripts.local_stack import Stack, running_stack

__all__ = ["CHROMIUM", "CHROMIUM_ARGS", "NEEDS_CHROMIUM", "Stack", "running_stack"]

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
NEEDS_CHROMIUM = pytest.mark.skipif(
    not CHROMIUM.exists(),
    reason="needs Debian's chromium at /usr/bin/chromium (`apt-get install chromium`; .ci/run installs it)",
)


@pytest.fixture
def stack(tmp_path: Path, tiny_model_dir: Path) -> Iterator[Stack]:
    """Redis, one Celery worker and daphne, as production runs them."""
    with running_stack(tmp_path, tiny_model_dir) as running:
        yield running


@pytest.fixture
def browser() -> Iterator[Browser]:
    """Headless Debian Chromium."""
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()
