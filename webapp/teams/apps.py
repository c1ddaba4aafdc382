"""Django app configuration of ``webapp.teams``."""

from django.apps import AppConfig


class TeamsConfig(AppConfig):
    """Teams and memberships."""

    name = "webapp.teams"
    label = "teams"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        """Connect the membership signals (open sockets follow membership changes)."""
        from . import signals  # noqa: F401
