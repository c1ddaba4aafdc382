"""The Celery application, configured from Django settings (every ``CELERY_*`` name)."""

from __future__ import annotations

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "webapp.settings")

app = Celery("partedit")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
