"""Every WebSocket route of the project; each app contributes its own ``routing.websocket_urlpatterns``."""

from __future__ import annotations

from django.urls import re_path

from webapp.editsessions import routing as session_routing
from webapp.jobs import routing as jobs_routing
from webapp.preview import routing as preview_routing
from webapp.ws_gate import NotFoundConsumer

websocket_urlpatterns = [
    *preview_routing.websocket_urlpatterns,
    *jobs_routing.websocket_urlpatterns,
    *session_routing.websocket_urlpatterns,
    # Last: any other path is closed with 4404 (not a server error).
    re_path(r"", NotFoundConsumer.as_asgi()),
]
