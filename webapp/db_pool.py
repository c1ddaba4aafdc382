"""The PostgreSQL connection pool of web processes, and the 503 a request gets when it is exhausted.

daphne serves every request in a thread of its own; without a pool each request in flight holds a
connection of its own, unbounded. ``webapp/asgi.py`` installs ``settings.DATABASE_POOL`` (Django's
psycopg pool option) before the first request, so a web process never holds more than
``PARTEDIT_DB_POOL_MAX`` connections. Workers are left without it: a prefork worker forks its pool
processes from a parent whose pool (connections and threads) would not survive the fork, and a
worker runs one task at a time anyway (docs/operations.md, "Database").
"""

from __future__ import annotations

from django.conf import settings
from django.db import connections
from psycopg_pool import PoolTimeout

from webapp.errors import ServiceError


class DatabaseBusy(ServiceError):  # noqa: N818 (named like the other service errors)
    """Every pooled connection stayed busy for the pool's timeout (HTTP 503, ``Retry-After``)."""

    status = 503
    code = "database_busy"

    def __init__(self) -> None:
        seconds = max(1, round(settings.PARTEDIT_DB_POOL_TIMEOUT))
        super().__init__("The server is busy: no database connection came free in time. "
                         "Try again in a moment.", details={"retry_after": seconds})
        self.retry_after = seconds


def use_connection_pool() -> None:
    """Give the default database the web processes' pool (no-op unless PostgreSQL with a pool size)."""
    if not settings.DATABASE_POOL:
        return
    # A connection opened before (a start-up check) is not the pool's: close it the plain way first.
    connections["default"].close()
    database = settings.DATABASES["default"]
    database.setdefault("OPTIONS", {})["pool"] = dict(settings.DATABASE_POOL)
    # Pooled connections outlive a request: check each one as it is handed out (a database restart).
    database["CONN_HEALTH_CHECKS"] = True


def is_pool_exhausted(error: BaseException | None) -> bool:
    """Whether ``error`` (a Django database error) comes from waiting in vain for a pooled connection."""
    seen: set[int] = set()
    while error is not None and id(error) not in seen:
        if isinstance(error, PoolTimeout):
            return True
        seen.add(id(error))
        error = error.__cause__ or error.__context__
    return False
