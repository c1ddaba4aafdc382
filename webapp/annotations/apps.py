"""Django app configuration of ``webapp.annotations``."""

from __future__ import annotations

from django.apps import AppConfig


class AnnotationsConfig(AppConfig):
    """Annotation versions and segmentation branches."""

    name = "webapp.annotations"
    label = "annotations"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        """Register this app's job kinds (``job_kinds.py``) with the jobs app."""
        from webapp.annotations import job_kinds
        from webapp.jobs import registry

        registry.register(*job_kinds.KINDS)
