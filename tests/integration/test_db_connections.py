"""PostgreSQL connections of a real daphne under concurrent API clients stay bounded and are given back.

Under ASGI every request runs in a thread of its own; with persistent connections
(CONN_MAX_AGE > 0) each of those threads kept its connection, and 20 clients took PostgreSQL to
its connection limit. Connections are now closed when their request ends.
"""

from __future__ import annotations

import os
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.db import connection, connections
from rest_framework.authtoken.models import Token

from tests.integration.support import wait_for, worker_database_url
from webapp.teams.models import Membership, Role, Team

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]

CLIENTS = 20
REQUESTS_PER_CLIENT = 10


APPLICATION = "partedit-daphne-under-test"


def database_connections() -> int:
    """Connections daphne holds to the test database (they carry their own application name)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                       "AND application_name = %s", [APPLICATION])
        return int(cursor.fetchone()[0])


@pytest.fixture
def daphne(transactional_db: None, redis_url: str, tmp_path: Path) -> Iterator[str]:
    """A daphne serving the app on the test database, as production runs it; its base URL."""
    from scripts.local_stack import free_port, start_daphne, stop, wait_for_port

    if connection.vendor != "postgresql":
        pytest.skip("counts PostgreSQL connections: runs on PostgreSQL (CI)")
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "webapp.settings", "DEBUG": "0",
           "SECRET_KEY": "integration-test-secret", "REDIS_URL": redis_url,
           # Plain HTTP on loopback: no redirect to HTTPS (production turns it on behind TLS).
           "SECURE_COOKIES": "0",
           "DATABASE_URL": f"{worker_database_url()}?application_name={APPLICATION}",
           "MEDIA_ROOT": str(tmp_path / "media")}
    port = free_port()
    with (tmp_path / "daphne.log").open("wb") as log:
        server = start_daphne(port, env, log)
    try:
        wait_for_port(port, server, timeout=120)
        yield f"http://127.0.0.1:{port}"
    finally:
        stop([server])


def test_concurrent_api_clients_keep_connections_bounded(daphne: str, django_user_model: Any) -> None:
    user = django_user_model.objects.create_user(username="ana", password="pw")
    team = Team.objects.create(name="Lab", slug="lab")
    Membership.objects.create(team=team, user=user, role=Role.OWNER)
    token = Token.objects.create(user=user).key
    statuses: list[int] = []
    peak, done = [0], threading.Event()

    def client() -> None:
        for _ in range(REQUESTS_PER_CLIENT):
            headers = {"Authorization": f"Token {token}"}
            request = urllib.request.Request(f"{daphne}/api/teams/", headers=headers)
            with urllib.request.urlopen(request, timeout=60) as response:
                statuses.append(response.status)

    def watch() -> None:
        while not done.is_set():
            peak[0] = max(peak[0], database_connections())
            time.sleep(0.05)
        connections.close_all()

    watcher = threading.Thread(target=watch)
    watcher.start()
    clients = [threading.Thread(target=client) for _ in range(CLIENTS)]
    for thread in clients:
        thread.start()
    for thread in clients:
        thread.join()
    done.set()
    watcher.join()

    assert statuses == [200] * (CLIENTS * REQUESTS_PER_CLIENT)
    # At most one connection per request in flight, and none left behind once they are answered.
    assert 0 < peak[0] <= CLIENTS
    wait_for(lambda: database_connections() == 0, 10, "daphne to close its database connections",
             lambda: f"{database_connections()} connections still open (peak {peak[0]})")
