"""App config of the studio pages."""

from __future__ import annotations

from django.apps import AppConfig


class StudioConfig(AppConfig):
    """Page views and templates of the browser studio."""

    name = "webapp.studio"
    label = "studio"
