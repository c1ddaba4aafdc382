"""Concurrent writers on a file SQLite database with the production database settings.

Scenarios: same-base annotation saves, job submissions, two owners demoting each other.

Run as ``python -m tests.webapp.sqlite_race DB_FILE MEDIA_DIR`` (tests/webapp/test_sqlite_concurrency.py
does): it migrates the database, then races threads, each with its own connection as daphne's
request threads have, through the service functions the REST views call, and prints one JSON
object of outcomes per scenario. ``error`` outcomes are what the API would answer with 500.
"""

from __future__ import annotations

import io
import json
import os
import sys
import threading
from collections import Counter
from collections.abc import Callable
from typing import Any

RACERS = 20
OWNER_TRIALS = 5


def race(count: int, attempt: Callable[[int], str]) -> dict[str, int]:
    """Run ``attempt(i)`` in ``count`` threads released at once; count the outcomes."""
    from django.db import OperationalError, connections

    barrier, outcomes = threading.Barrier(count), []

    def run(index: int) -> None:
        barrier.wait()
        try:
            outcomes.append(attempt(index))
        except OperationalError as error:
            outcomes.append(f"error: {error}")
        except Exception as error:
            outcomes.append(f"crash: {type(error).__name__}: {error}")
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(index,)) for index in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return dict(Counter(outcomes))


def png(values: Any) -> bytes:
    """A greyscale PNG of ``values``."""
    from PIL import Image as PILImage

    buffer = io.BytesIO()
    PILImage.fromarray(values).save(buffer, format="PNG")
    return buffer.getvalue()


def main() -> None:
    """Migrate, set up one team, race annotation saves and job submissions, print the outcomes."""
    database, media = sys.argv[1], sys.argv[2]
    os.environ.update({"DATABASE_URL": f"sqlite:///{database}", "MEDIA_ROOT": media,
                       "DJANGO_SETTINGS_MODULE": "webapp.settings_test"})
    import django

    django.setup()
    import numpy as np
    from django.contrib.auth import get_user_model
    from django.core.exceptions import PermissionDenied
    from django.core.management import call_command

    from tests.webapp.conftest import create_model
    from webapp.annotations.services import StaleVersion, save_annotation_version
    from webapp.assets.services import create_uploaded_image
    from webapp.errors import Conflict, ServiceError
    from webapp.jobs.services import create_job
    from webapp.teams.models import Membership, Role, Team
    from webapp.teams.services import change_role

    call_command("migrate", verbosity=0)
    user = get_user_model().objects.create_user(username="ana", password="pw")
    team = Team.objects.create(name="Lab", slug="lab")
    Membership.objects.create(team=team, user=user, role=Role.OWNER)
    model = create_model(team)
    photo = png(np.full((16, 16), 90, np.uint8))
    images = [create_uploaded_image(user, model, photo, f"photo {i}") for i in range(RACERS)]
    save_annotation_version(user, images[0], png(np.zeros((16, 16), np.uint8)), None)

    def save(index: int) -> str:
        mask = np.zeros((16, 16), np.uint8)
        mask[: index % 16 + 1] = 1
        try:
            save_annotation_version(user, images[0], png(mask), 1)
        except StaleVersion:
            return "stale"
        return "saved"

    def submit(index: int) -> str:
        job_type, parameters = (("render", {"model": model.pk, "seed": index}) if index % 2
                                else ("embed_image", {"image": images[index // 2].pk, "steps": 1}))
        try:
            create_job(user, team, job_type, parameters)
        except ServiceError as error:
            return f"{job_type}: {error.code}"
        return f"{job_type}: created"

    def owners_left_after_mutual_demotion(trial: int) -> int:
        """Race two owners of a new team demoting each other; the owners left."""
        first, second = (get_user_model().objects.create_user(username=f"owner{trial}-{i}") for i in (1, 2))
        lab = Team.objects.create(name=f"Owners {trial}", slug=f"owners-{trial}")
        memberships = [Membership.objects.create(team=lab, user=user, role=Role.OWNER)
                       for user in (first, second)]

        def demote(index: int) -> str:
            try:
                change_role((first, second)[index], memberships[1 - index], Role.EDITOR)
            except (Conflict, PermissionDenied):
                return "refused"
            return "demoted"

        race(2, demote)
        return Membership.objects.filter(team=lab, role=Role.OWNER).count()

    owners_left = [owners_left_after_mutual_demotion(trial) for trial in range(OWNER_TRIALS)]
    print(json.dumps({"annotations": race(RACERS, save), "jobs": race(2 * RACERS, submit),
                      "owners_left": owners_left}))


if __name__ == "__main__":
    main()
