"""Django app configuration of ``webapp.assets``."""

from django.apps import AppConfig


class AssetsConfig(AppConfig):
    """Generator models, part labels and images."""

    name = "webapp.assets"
    label = "assets"
    default_auto_field = "django.db.models.BigAutoField"
