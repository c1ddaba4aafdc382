"""Django app configuration of ``webapp.annotations``."""

from django.apps import AppConfig


class AnnotationsConfig(AppConfig):
    """Annotation versions and segmentation branches."""

    name = "webapp.annotations"
    label = "annotations"
    default_auto_field = "django.db.models.BigAutoField"
