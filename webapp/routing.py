"""Every WebSocket route of the project; each app contributes its own ``routing.websocket_urlpatterns``."""

from __future__ import annotations

from webapp.editsessions import routing as session_routing
from webapp.jobs import routing as jobs_routing
from webapp.preview import routing as preview_routing

websocket_urlpatterns = [
    *preview_routing.websocket_urlpatterns,
    *jobs_routing.websocket_urlpatterns,
    *session_routing.websocket_urlpatterns,
]
