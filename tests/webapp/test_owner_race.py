"""Concurrent demotions and departures never leave a team without an owner (real row locks, PostgreSQL)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest
from django.core.exceptions import PermissionDenied
from django.db import connection, connections

from webapp.errors import Conflict
from webapp.teams import services
from webapp.teams.models import Membership, Role

pytestmark = pytest.mark.django_db(transaction=True)
TRIALS = 5


def race(*actions: Callable[[], Any]) -> list[str]:
    """Run ``actions`` in threads released together, each with its own connection; their outcomes."""
    barrier, outcomes = threading.Barrier(len(actions)), []

    def run(action: Callable[[], Any]) -> None:
        barrier.wait()
        try:
            action()
            outcomes.append("done")
        except Conflict as error:
            outcomes.append(error.code)
        except PermissionDenied:
            outcomes.append("forbidden")
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(action,)) for action in actions]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return sorted(outcomes)


@pytest.fixture
def needs_row_locks() -> None:
    """The in-memory SQLite test database cannot host concurrent writers; CI's PostgreSQL can."""
    if connection.vendor != "postgresql":
        pytest.skip("needs concurrent writers: runs on PostgreSQL (CI)")


@pytest.mark.parametrize("trial", range(TRIALS))
def test_two_owners_demoting_each_other_keep_one_owner(
    needs_row_locks: None, make_user: Any, make_team: Any, trial: int
) -> None:
    alice, bob = make_user("alice"), make_user("bob")
    team = make_team("Lab", {alice: Role.OWNER, bob: Role.OWNER})
    of_alice, of_bob = (Membership.objects.get(team=team, user=user) for user in (alice, bob))

    outcomes = race(lambda: services.change_role(alice, of_bob, Role.EDITOR),
                    lambda: services.change_role(bob, of_alice, Role.EDITOR))

    # The second one waits for the first: it is then either the last owner, or no owner any more.
    assert outcomes in (["done", "last_owner"], ["done", "forbidden"])
    assert Membership.objects.filter(team=team, role=Role.OWNER).count() == 1


@pytest.mark.parametrize("trial", range(TRIALS))
def test_two_owners_leaving_at_once_keep_one_owner(
    needs_row_locks: None, make_user: Any, make_team: Any, trial: int
) -> None:
    alice, bob = make_user("alice"), make_user("bob")
    team = make_team("Lab", {alice: Role.OWNER, bob: Role.OWNER})
    of_alice, of_bob = (Membership.objects.get(team=team, user=user) for user in (alice, bob))

    outcomes = race(lambda: services.remove_member(alice, of_alice),
                    lambda: services.remove_member(bob, of_bob))

    assert outcomes == ["done", "last_owner"]
    assert Membership.objects.filter(team=team, role=Role.OWNER).count() == 1
