"""GET /healthz of web processes (middleware) and workers (their own listener): 200 when healthy, else 503."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.test import Client

from scripts.local_stack import free_port, start_redis, stop, wait_for_port
from webapp.worker_health import serve_health

pytestmark = pytest.mark.django_db


@pytest.fixture
def live_redis(tmp_path: Path) -> Iterator[str]:
    """A throw-away Redis on a free port."""
    port = free_port()
    with (tmp_path / "redis.log").open("wb") as log:
        server = start_redis(port, log)
    try:
        wait_for_port(port, server, timeout=30)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        stop([server])


def test_healthy_web_process_answers_200_for_any_host_over_http(settings: Any, live_redis: str) -> None:
    settings.REDIS_URL = live_redis
    settings.SECURE_SSL_REDIRECT = True
    response = Client().get("/healthz", HTTP_HOST="10.0.0.7:8000")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "process": "web", "checks": {"database": "ok", "redis": "ok"}}
    assert response["Cache-Control"] == "no-store"


def test_unreachable_redis_is_503_naming_the_check(settings: Any) -> None:
    settings.REDIS_URL = f"redis://127.0.0.1:{free_port()}/0"
    response = Client().get("/healthz")
    assert response.status_code == 503
    assert response.json()["checks"] == {"database": "ok", "redis": "failing: ConnectionError"}


def test_healthz_only_reads() -> None:
    assert Client().post("/healthz").status_code == 405


def test_worker_listener_reports_its_node(settings: Any, live_redis: str) -> None:
    settings.REDIS_URL = live_redis
    port = free_port()
    server = serve_health(port, "gpu0@host", bind="127.0.0.1")
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=10) as response:
            assert response.status == 200
            document = json.loads(response.read())
        with pytest.raises(urllib.error.HTTPError) as missing:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/other", timeout=10)
    finally:
        server.shutdown()
        server.server_close()
    assert document["node"] == "gpu0@host" and document["process"] == "worker"
    assert document["checks"]["redis"] == "ok"
    assert missing.value.code == 404
