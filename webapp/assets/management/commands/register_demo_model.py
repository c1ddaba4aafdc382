"""``manage.py register_demo_model``: register the server's model and its shipped branch in teams."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from webapp.annotations.bundled import register_shipped_branch
from webapp.assets.services import register_model
from webapp.errors import InvalidInput
from webapp.teams.models import Team


class Command(BaseCommand):
    """Register a model directory (default PARTEDIT_MODEL_PATH, the bundled demo model) in teams."""

    help = "Register the bundled demo model (or --path) in the given teams, or in every team."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--team", action="append", default=[], help="Team slug (repeatable); default all."
        )
        parser.add_argument(
            "--path", type=Path, default=None, help="Model directory; default PARTEDIT_MODEL_PATH."
        )
        parser.add_argument("--name", default="Demo model", help="Display name of the model.")

    def handle(self, *args: Any, **options: Any) -> None:
        path = options["path"] or Path(settings.PARTEDIT_MODEL_PATH)
        teams = Team.objects.filter(slug__in=options["team"]) if options["team"] else Team.objects.all()
        missing = set(options["team"]) - set(teams.values_list("slug", flat=True))
        if missing:
            raise CommandError(f"no team with slug {', '.join(sorted(missing))}")
        for team in teams:
            try:
                model, created = register_model(team, path, options["name"])
            except InvalidInput as error:
                raise CommandError(error.message) from error
            verb = "registered" if created else "already registered"
            self.stdout.write(f"{team.slug}: {verb} {model} (id {model.pk})")
            branch = register_shipped_branch(model)
            if branch is not None:
                self.stdout.write(f"{team.slug}: registered the shipped segmentation branch (id {branch.pk})")
