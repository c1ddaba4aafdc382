"""App configuration of the live preview."""

from __future__ import annotations

from django.apps import AppConfig


class PreviewConfig(AppConfig):
    """The ``preview`` app: page, WebSocket consumer and render task."""

    name = "webapp.preview"
    label = "preview"
    verbose_name = "Live preview"
