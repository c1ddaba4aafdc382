"""PostgreSQL connections of a real daphne under concurrent API clients stay within its pool.

Under ASGI every request runs in a thread of its own; with persistent connections
(CONN_MAX_AGE > 0) each of those threads kept its connection, and 20 clients took PostgreSQL to
its connection limit. A web process now takes its connections from a pool of at most
PARTEDIT_DB_POOL_MAX (webapp/db_pool.py); a request that waits in vain for one gets 503.
"""

from __future__ import annotations

import json
import os
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from django.db import connection, connections, transaction
from rest_framework.authtoken.models import Token

from tests.integration.support import wait_for, worker_database_url
from webapp.teams.models import Membership, Role, Team

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]

CLIENTS = 20
REQUESTS_PER_CLIENT = 10
POOL_MAX = 4
APPLICATION = "partedit-daphne-under-test"

Daphne = Callable[..., str]


def database_connections(waiting_on_a_lock: bool = False) -> int:
    """Connections daphne holds to the test database (they carry their own application name)."""
    query = ("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
             "AND application_name = %s")
    if waiting_on_a_lock:
        query += " AND wait_event_type = 'Lock'"
    with connection.cursor() as cursor:
        # Inside a transaction pg_stat_activity keeps its first snapshot unless it is cleared.
        cursor.execute("SELECT pg_stat_clear_snapshot()")
        cursor.execute(query, [APPLICATION])
        return int(cursor.fetchone()[0])


@pytest.fixture
def daphne(transactional_db: None, redis_url: str, tmp_path: Path) -> Iterator[Daphne]:
    """Start a daphne serving the app on the test database, as production runs it; its base URL."""
    from scripts.local_stack import StackProcess, free_port, start_daphne, stop, wait_for_port

    if connection.vendor != "postgresql":
        pytest.skip("counts PostgreSQL connections: runs on PostgreSQL (CI)")
    servers: list[StackProcess] = []

    def start(**settings: str) -> str:
        env = {**os.environ, "DJANGO_SETTINGS_MODULE": "webapp.settings", "DEBUG": "0",
               "SECRET_KEY": "integration-test-secret", "REDIS_URL": redis_url,
               # Plain HTTP on loopback: no redirect to HTTPS (production turns it on behind TLS).
               "SECURE_COOKIES": "0",
               "DATABASE_URL": f"{worker_database_url()}?application_name={APPLICATION}",
               "MEDIA_ROOT": str(tmp_path / "media"), **settings}
        port = free_port()
        with (tmp_path / "daphne.log").open("wb") as log:
            servers.append(start_daphne(port, env, log))
        wait_for_port(port, servers[-1], timeout=120)
        return f"http://127.0.0.1:{port}"

    try:
        yield start
    finally:
        stop(servers)


@pytest.fixture
def token(transactional_db: None, django_user_model: Any) -> str:
    """An API token of a team owner."""
    user = django_user_model.objects.create_user(username="ana", password="pw")
    team = Team.objects.create(name="Lab", slug="lab")
    Membership.objects.create(team=team, user=user, role=Role.OWNER)
    return Token.objects.create(user=user).key


def get_teams(base_url: str, token: str) -> tuple[int, dict[str, str], Any]:
    """GET /api/teams/ with the token: status, headers and decoded JSON body, errors included."""
    request = urllib.request.Request(f"{base_url}/api/teams/", headers={"Authorization": f"Token {token}"})
    try:
        with urllib.request.urlopen(request, timeout=120) as response:
            return response.status, dict(response.headers), json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), json.loads(error.read())


def test_concurrent_api_clients_stay_within_the_pool(daphne: Daphne, token: str) -> None:
    base_url = daphne(PARTEDIT_DB_POOL_MAX=str(POOL_MAX), PARTEDIT_DB_POOL_TIMEOUT="60")
    statuses: list[int] = []
    peak, done = [0], threading.Event()

    def client() -> None:
        for _ in range(REQUESTS_PER_CLIENT):
            statuses.append(get_teams(base_url, token)[0])

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
    # Five times more clients than connections: they took turns on the pool's POOL_MAX.
    assert 0 < peak[0] <= POOL_MAX
    assert database_connections() <= POOL_MAX


def test_an_exhausted_pool_answers_503_and_recovers(daphne: Daphne, token: str) -> None:
    base_url = daphne(PARTEDIT_DB_POOL_MAX="2", PARTEDIT_DB_POOL_TIMEOUT="1")
    answers: list[int] = []
    with transaction.atomic():
        # Token authentication reads this table: both pooled connections wait behind the lock.
        with connection.cursor() as cursor:
            cursor.execute("LOCK TABLE authtoken_token IN ACCESS EXCLUSIVE MODE")
        held = [threading.Thread(target=lambda: answers.append(get_teams(base_url, token)[0]))
                for _ in range(2)]
        for thread in held:
            thread.start()
        wait_for(lambda: database_connections(waiting_on_a_lock=True) == 2, 60,
                 "two requests holding the pool's connections", lambda: f"{database_connections()} open")

        status, headers, body = get_teams(base_url, token)

    for thread in held:
        thread.join()
    assert status == 503
    assert body["error"]["code"] == "database_busy"
    assert headers["Retry-After"] == "1"
    assert answers == [200, 200]
    assert get_teams(base_url, token)[0] == 200
