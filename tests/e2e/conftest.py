"""Fixtures of the browser tests: the process stack (Redis, optionally a Celery worker, daphne)
as production runs it, and headless Debian Chromium driven by Playwright."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from playwright.sync_api import Browser, sync_playwright

from scripts.local_stack import (
    StackProcess,
    free_port,
    start_daphne,
    start_redis,
    start_worker,
    stop,
    wait_for_port,
)

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
NEEDS_CHROMIUM = pytest.mark.skipif(
    not CHROMIUM.exists(),
    reason="needs Debian's chromium at /usr/bin/chromium (`apt-get install chromium`; .ci/run installs it)",
)


class Stack:
    """The running processes of a test, their environment, and their log files for failure messages."""

    def __init__(self, url: str, env: dict[str, str], processes: list[StackProcess],
                 logs: dict[str, Path]) -> None:
        self.url = url
        self.env = env
        self.processes = processes
        self.logs = logs

    def report(self) -> str:
        """The tail of every process log, for assertion messages."""
        return "\n".join(f"--- {name} ---\n{path.read_text(errors='replace')[-3000:]}"
                         for name, path in self.logs.items() if path.exists())

    def manage(self, *args: str) -> str:
        """Run ``manage.py`` against the stack's database; its stdout (raises with output on failure)."""
        result = subprocess.run([sys.executable, str(ROOT / "manage.py"), *args], env=self.env, cwd=ROOT,
                                capture_output=True, text=True, timeout=120)
        if result.returncode:
            raise AssertionError(f"manage.py {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
        return result.stdout


@contextmanager
def running_stack(tmp_path: Path, model_dir: Path, worker: bool = True) -> Iterator[Stack]:
    """Redis (REDIS_URL's, or one started here), optionally one Celery worker, and daphne."""
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
            "SECURE_COOKIES": "0",
            "REDIS_URL": redis_url,
            "DATABASE_URL": f"sqlite:///{tmp_path / 'e2e.sqlite3'}",
            "MEDIA_ROOT": str(tmp_path / "media"),
            "PARTEDIT_MODEL_PATH": str(model_dir),
            "PARTEDIT_DEVICE": "cpu",
        }
        if worker:
            with logs["worker"].open("wb") as log:
                processes.append(start_worker(env, log))
        port = free_port()
        with logs["daphne"].open("wb") as log:
            processes.append(start_daphne(port, env, log))
        wait_for_port(port, processes[-1])
        yield Stack(f"http://127.0.0.1:{port}/", env, processes, logs)
    finally:
        stop(processes)


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
