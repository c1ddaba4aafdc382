"""Fixtures of the integration tests: a real Redis, real Celery worker processes, one shared database.

The workers are separate processes (``celery -A webapp worker``, prefork pool, one process),
so they must open the very database the test writes to:

* SQLite: pytest-django's test database is normally in memory, which no other process can
  open. Importing this conftest therefore gives it a file (``var/test-integration-<pid>.sqlite3``,
  deleted again by pytest-django at the end of the session). This applies to the whole session
  whenever tests/integration is collected; unit tests do not notice the difference.
* PostgreSQL (CI's DATABASE_URL): the workers get the URL of pytest-django's test database.

Tests use ``transactional_db`` so their rows are committed and visible to the workers, and the
worker fixtures stop every worker before pytest-django empties the tables.

Redis: REDIS_URL when set (it must be a database number the suite may flush, as CI's is), else
a throw-away ``redis-server`` on a free port.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from django.conf import settings
from django.db import connection

from scripts.local_stack import free_port, start_redis, stop, wait_for_port
from tests.integration.support import HEARTBEAT_TIMEOUT, VISIBILITY_TIMEOUT, Workers, worker_database_url


def _give_sqlite_test_database_a_file() -> None:
    """Make pytest-django create the SQLite test database as a file the workers can open."""
    database = settings.DATABASES["default"]
    test_settings = database.setdefault("TEST", {})
    if database["ENGINE"] == "django.db.backends.sqlite3" and not test_settings.get("NAME"):
        folder = Path(settings.BASE_DIR) / "var"
        folder.mkdir(exist_ok=True)
        test_settings["NAME"] = str(folder / f"test-integration-{os.getpid()}.sqlite3")


_give_sqlite_test_database_a_file()


def pytest_sessionfinish(session: pytest.Session) -> None:
    """Remove the WAL side files pytest-django leaves when it deletes the file test database."""
    name = settings.DATABASES["default"].get("TEST", {}).get("NAME")
    if settings.DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3" and name:
        for suffix in ("-wal", "-shm"):
            Path(f"{name}{suffix}").unlink(missing_ok=True)


@pytest.fixture
def redis_url(tmp_path: Path) -> Iterator[str]:
    """A Redis for the broker and the channel layer: REDIS_URL's (flushed) or one started here."""
    given = os.environ.get("REDIS_URL", "")
    if given:
        redis.Redis.from_url(given).flushdb()
        yield given
        return
    port = free_port()
    with (tmp_path / "redis.log").open("wb") as log:
        server = start_redis(port, log)
    try:
        wait_for_port(port, server, timeout=30)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        stop([server])


def point_celery_at(app: Any, broker_url: str, transport_options: dict[str, Any]) -> None:
    """Make ``app`` send to ``broker_url`` from now on.

    Celery caches its producer pools (tasks and control messages) per process; the resets it
    runs in a freshly forked child are what drops them, so the next message opens a new
    connection to the new URL.
    """
    app.conf.broker_url = broker_url
    app.conf.broker_transport_options = transport_options
    app._after_fork()
    with contextlib.suppress(AttributeError):
        app.control._after_fork()


@pytest.fixture
def broker(redis_url: str) -> Iterator[Any]:
    """The test process's Celery app, sending to the real Redis for the duration of the test."""
    from webapp.celery import app

    saved = (app.conf.broker_url, app.conf.broker_transport_options)
    point_celery_at(app, redis_url, {"visibility_timeout": VISIBILITY_TIMEOUT})
    yield app
    point_celery_at(app, *saved)


@pytest.fixture
def workers(transactional_db: None, broker: Any, redis_url: str, settings: Any, tmp_path: Path,
            tiny_model_dir: Path) -> Iterator[Workers]:
    """Start workers with ``workers.start(name)``; all are stopped before the database is emptied."""
    settings.MEDIA_ROOT = tmp_path / "media"
    if connection.vendor == "sqlite":
        with connection.cursor() as cursor:
            # Readers and the worker's writers no longer block each other.
            cursor.execute("PRAGMA journal_mode=WAL")
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "webapp.settings",
        "DEBUG": "0",
        "SECRET_KEY": "integration-test-secret",
        "REDIS_URL": redis_url,
        "DATABASE_URL": worker_database_url(),
        "MEDIA_ROOT": str(settings.MEDIA_ROOT),
        "PARTEDIT_MODEL_PATH": str(tiny_model_dir),
        "PARTEDIT_DEVICE": "cpu",
        "CELERY_VISIBILITY_TIMEOUT": str(VISIBILITY_TIMEOUT),
        "JOBS_HEARTBEAT_SECONDS": "0.5",
        "JOBS_HEARTBEAT_TIMEOUT": str(HEARTBEAT_TIMEOUT),
        # One intra-op thread: tiny models are slower with more threads on a busy machine.
        "OMP_NUM_THREADS": "1",
    }
    log_dir = tmp_path / "logs"
    log_dir.mkdir()
    pool = Workers(broker, env, log_dir)
    try:
        yield pool
    finally:
        stop(pool.running)
