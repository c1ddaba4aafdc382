"""Django app configuration of ``webapp.assets``."""

from __future__ import annotations

from django.apps import AppConfig


class AssetsConfig(AppConfig):
    """Generator models, part labels and images."""

    name = "webapp.assets"
    label = "assets"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        """Register this app's job kinds (``job_kinds.py``) with the jobs app."""
        from webapp.assets import job_kinds
        from webapp.jobs import registry

        registry.register(*job_kinds.KINDS)
