"""The Celery application, configured from Django settings (every ``CELERY_*`` name)."""

from __future__ import annotations

import os
from typing import Any

from celery import Celery
from celery.signals import worker_ready

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "webapp.settings")

app = Celery("partedit")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@worker_ready.connect
def start_health_listener(sender: Any = None, **_: Any) -> None:
    """Serve the worker's GET /healthz when PARTEDIT_WORKER_HEALTH_PORT is set (docs/operations.md)."""
    from django.conf import settings

    from webapp.worker_health import serve_health

    if settings.PARTEDIT_WORKER_HEALTH_PORT:
        serve_health(settings.PARTEDIT_WORKER_HEALTH_PORT, getattr(sender, "hostname", "worker"))
