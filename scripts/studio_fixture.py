"""Seed a database for the studio's browser tests and screenshots.

Run with the stack's environment (DATABASE_URL, MEDIA_ROOT, PARTEDIT_MODEL_PATH ...) after
``manage.py migrate``: ``python -m scripts.studio_fixture``. Creates the users ana (owner) and
vic (viewer) and the team "Face lab", which gets the server's model (and its shipped branch,
when the model folder has one), and prints the ids and passwords as JSON.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from scripts.local_stack import Stack

PASSWORDS = {"ana": "ana-studio-pass", "vic": "vic-studio-pass"}
TEAM = "Face lab"


def seed() -> dict[str, object]:
    """Create the users and the team (with the server's model); their ids and passwords."""
    from django.contrib.auth import get_user_model

    from webapp.annotations.bundled import register_server_model
    from webapp.teams.models import Membership, Role
    from webapp.teams.services import create_team

    users = {name: get_user_model().objects.create_user(name, password=password)
             for name, password in PASSWORDS.items()}
    team = create_team(users["ana"], TEAM)
    Membership.objects.create(team=team, user=users["vic"], role=Role.VIEWER)
    model = register_server_model(team)
    return {"team": team.pk, "model": model.pk if model else None, "passwords": PASSWORDS}


def seed_stack(stack: Stack) -> dict[str, Any]:
    """Migrate the stack's database and seed it in a process with the stack's environment; the ids."""
    from scripts.local_stack import REPO_ROOT

    stack.manage("migrate", "--no-input")
    result = subprocess.run([sys.executable, "-m", "scripts.studio_fixture"], env=stack.env, cwd=REPO_ROOT,
                            capture_output=True, text=True, timeout=120)
    if result.returncode:
        raise RuntimeError(f"seeding failed:\n{result.stdout}\n{result.stderr}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def main() -> None:
    """Set Django up from the environment and print the seeded ids as JSON."""
    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "webapp.settings")
    django.setup()
    print(json.dumps(seed()))


if __name__ == "__main__":
    main()
