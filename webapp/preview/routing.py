"""WebSocket routes of the live preview."""

from __future__ import annotations

from django.urls import path

from webapp.preview.consumers import PreviewConsumer

websocket_urlpatterns = [
    path("ws/preview/", PreviewConsumer.as_asgi()),
]
