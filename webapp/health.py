"""Health checks of a process: can it reach the database and Redis? Served as ``GET /healthz``.

Web processes answer it from ``HealthCheckMiddleware`` (first in MIDDLEWARE, so a probe by IP
address over plain HTTP is neither refused by ALLOWED_HOSTS nor redirected to HTTPS); workers
from a small HTTP listener (``webapp.worker_health``). The answer is 200 with every check "ok",
else 503 naming the failing check and the error's type (never its message: no secrets leak).
"""

from __future__ import annotations

import json
from collections.abc import Callable

import redis
from django.conf import settings
from django.db import connection
from django.http import HttpRequest, HttpResponse

HEALTH_PATH = "/healthz"
CHECK_TIMEOUT_SECONDS = 2.0


def check_database() -> None:
    """Run ``SELECT 1`` on the default database."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")


def check_redis() -> None:
    """PING the Redis of the broker and the channel layer."""
    client = redis.Redis.from_url(settings.REDIS_URL, socket_timeout=CHECK_TIMEOUT_SECONDS,
                                  socket_connect_timeout=CHECK_TIMEOUT_SECONDS)
    try:
        client.ping()
    finally:
        client.close()


CHECKS: dict[str, Callable[[], None]] = {"database": check_database, "redis": check_redis}


def run_checks(process: str) -> tuple[int, dict[str, object]]:
    """Run every check; the HTTP status (200 or 503) and the JSON document describing the result."""
    results: dict[str, str] = {}
    for name, check in CHECKS.items():
        try:
            check()
        except Exception as error:  # any failure is a failing check, reported by its type
            results[name] = f"failing: {type(error).__name__}"
        else:
            results[name] = "ok"
    healthy = all(result == "ok" for result in results.values())
    return (200 if healthy else 503), {"status": "ok" if healthy else "failing", "process": process,
                                       "checks": results}


class HealthCheckMiddleware:
    """Answer ``GET /healthz`` of a web process before any other middleware sees the request."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        """The health document for ``/healthz``, the normal response for everything else."""
        if request.path != HEALTH_PATH:
            return self.get_response(request)
        if request.method not in ("GET", "HEAD"):
            return HttpResponse(status=405, headers={"Allow": "GET, HEAD"})
        status, document = run_checks("web")
        return HttpResponse(json.dumps(document), status=status, content_type="application/json",
                            headers={"Cache-Control": "no-store"})
