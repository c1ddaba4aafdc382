"""PartEdit's Django project; importing it binds ``@shared_task`` to the project's Celery app."""

from .celery import app as celery_app

__all__ = ["celery_app"]
