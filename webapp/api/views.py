"""The token endpoint: trade a username and password for an API token."""

from __future__ import annotations

from rest_framework.authtoken.views import ObtainAuthToken
from rest_framework.permissions import AllowAny

from .parsers import API_PARSERS


class TokenView(ObtainAuthToken):
    """``POST {"username", "password"}`` -> ``{"token"}``; send it as ``Authorization: Token <token>``."""

    permission_classes = [AllowAny]
    authentication_classes: list[type] = []
    parser_classes = API_PARSERS
