"""Django app configuration of ``webapp.editsessions``."""

from __future__ import annotations

from django.apps import AppConfig


class EditSessionsConfig(AppConfig):
    """Edit sessions and their stacks."""

    name = "webapp.editsessions"
    label = "editsessions"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        """Register this app's job kinds (``job_kinds.py``) with the jobs app."""
        from webapp.editsessions import job_kinds
        from webapp.jobs import registry

        registry.register(*job_kinds.KINDS)
