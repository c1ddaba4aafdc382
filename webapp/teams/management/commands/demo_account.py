"""``manage.py demo_account``: the demo's user and team, created once; prints how to sign in.

The user (default ``demo``) is a normal user, owner of the team "Demo team", which has the
server's model and the branch it ships registered. The password is generated on the first run
and kept in a credentials file (default ``var/demo-credentials.json``, readable by its owner
only), so later runs print the same one; if the file is gone, a new password is set.
"""

from __future__ import annotations

import json
import os
import secrets
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandParser
from django.db import transaction

from webapp.annotations.bundled import register_server_model
from webapp.teams.models import Membership, Role
from webapp.teams.services import create_team

DEMO_TEAM = "Demo team"


def read_password(path: Path) -> str:
    """The password stored in the credentials file, or "" when there is none."""
    try:
        return str(json.loads(path.read_text()).get("password", ""))
    except (OSError, ValueError, AttributeError):
        return ""


def write_credentials(path: Path, username: str, password: str) -> None:
    """Write the credentials file, readable and writable by its owner only."""
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as file:
        json.dump({"username": username, "password": password}, file)


class Command(BaseCommand):
    """Create (once) the demo user, its team and the team's model, and print the sign-in details."""

    help = "Create the demo user and 'Demo team' (idempotent) and print the credentials."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--username", default="demo", help="Name of the demo user (default demo).")
        default_file = Path(settings.BASE_DIR) / "var" / "demo-credentials.json"
        parser.add_argument("--credentials", type=Path, default=default_file,
                            help="Where the generated password is kept (default var/demo-credentials.json).")

    def handle(self, *args: Any, **options: Any) -> None:
        username, path = options["username"], options["credentials"]
        password = read_password(path)
        with transaction.atomic():
            user, created = get_user_model().objects.get_or_create(username=username)
            if created or not password or not user.check_password(password):
                password = password or secrets.token_urlsafe(12)
                user.set_password(password)
                user.save()
            membership = Membership.objects.filter(user=user, team__name=DEMO_TEAM, role=Role.OWNER).first()
            team = membership.team if membership else None
        if team is None:
            team = create_team(user, DEMO_TEAM)
        register_server_model(team)  # idempotent: registers what a previous run could not
        write_credentials(path, username, password)
        self.stdout.write(f"Sign in as {username} / {password}  (owner of {team.name!r}; saved in {path})")
