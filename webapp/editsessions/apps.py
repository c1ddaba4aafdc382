"""Django app configuration of ``webapp.editsessions``."""

from django.apps import AppConfig


class EditSessionsConfig(AppConfig):
    """Edit sessions and their stacks."""

    name = "webapp.editsessions"
    label = "editsessions"
    default_auto_field = "django.db.models.BigAutoField"
