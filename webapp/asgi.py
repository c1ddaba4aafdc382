"""The ASGI application daphne serves: Django over HTTP, Channels consumers over WebSocket."""

from __future__ import annotations

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "webapp.settings")

# Django must be set up before anything that imports models (consumers, auth middleware) loads.
django_asgi_app = get_asgi_application()

from webapp.db_pool import use_connection_pool  # noqa: E402

# Web processes share a bounded pool of PostgreSQL connections (webapp/db_pool.py).
use_connection_pool()

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402

from webapp.routing import websocket_urlpatterns  # noqa: E402
from webapp.ws_gate import (  # noqa: E402
    CloseCodesAtHandshake,
    SameOriginValidator,
    close_oversize_messages_with_1009,
)

close_oversize_messages_with_1009()

application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        "websocket": CloseCodesAtHandshake(
            SameOriginValidator(AuthMiddlewareStack(URLRouter(websocket_urlpatterns)))
        ),
    }
)
