"""``manage.py register_starter_library``: add each model's shipped starter vectors to its team's library."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from webapp.assets.models import GeneratorModel
from webapp.library.starter import register_starter_library


class Command(BaseCommand):
    """Register the starter library of every active model (or of the given teams' models); idempotent."""

    help = "Add the starter vectors a model directory ships (<model>/library/) to its team's library."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--team", action="append", default=[],
                            help="Team slug (repeatable; default: all teams).")

    def handle(self, *args: Any, **options: Any) -> None:
        models = GeneratorModel.objects.filter(is_active=True).select_related("team")
        if options["team"]:
            models = models.filter(team__slug__in=options["team"])
        for model in models:
            added = register_starter_library(model)
            self.stdout.write(f"{model.team.slug}/{model.name}: {len(added)} starter vector(s) added")
