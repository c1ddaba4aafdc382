"""The token endpoint: trade a username and password for an API token."""

from __future__ import annotations

from rest_framework.authtoken.views import ObtainAuthToken
from rest_framework.permissions import AllowAny
from rest_framework.throttling import ScopedRateThrottle

from .parsers import API_PARSERS
from .throttles import SignInUsernameThrottle


class TokenView(ObtainAuthToken):
    """``POST {"username", "password"}`` -> ``{"token"}``; send it as ``Authorization: Token <token>``."""

    permission_classes = [AllowAny]
    authentication_classes: list[type] = []
    parser_classes = API_PARSERS
    # 429 beyond PARTEDIT_SIGN_IN_RATE attempts per client address and per username.
    throttle_classes = [ScopedRateThrottle, SignInUsernameThrottle]
    throttle_scope = "sign-in-address"
