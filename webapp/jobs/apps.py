"""Django app configuration of ``webapp.jobs``."""

from __future__ import annotations

from django.apps import AppConfig


class JobsConfig(AppConfig):
    """Job records, the Celery task that runs them, progress events and the jobs API."""

    name = "webapp.jobs"
    label = "jobs"
    verbose_name = "Jobs"
    default_auto_field = "django.db.models.BigAutoField"
