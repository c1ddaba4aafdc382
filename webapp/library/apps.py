"""Django app configuration of ``webapp.library``."""

from django.apps import AppConfig


class LibraryConfig(AppConfig):
    """Edit vectors and tags."""

    name = "webapp.library"
    label = "library"
    default_auto_field = "django.db.models.BigAutoField"
