"""The token endpoint: trade a username and password for an API token."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from rest_framework import serializers
from rest_framework.authtoken.serializers import AuthTokenSerializer
from rest_framework.authtoken.views import ObtainAuthToken
from rest_framework.permissions import AllowAny
from rest_framework.throttling import ScopedRateThrottle

from .parsers import API_PARSERS
from .throttles import SignInUsernameThrottle


class BoundedAuthTokenSerializer(AuthTokenSerializer):
    """DRF's credentials serializer with the user model's username length, checked before sign-in.

    An overlong username never reaches ``authenticate``: django-axes would try to record the failed
    attempt in its 255-character column, which PostgreSQL refuses with a DataError (a 500).
    """

    username = serializers.CharField(
        label="Username", write_only=True, max_length=get_user_model()._meta.get_field("username").max_length
    )


class TokenView(ObtainAuthToken):
    """``POST {"username", "password"}`` -> ``{"token"}``; send it as ``Authorization: Token <token>``."""

    permission_classes = [AllowAny]
    authentication_classes: list[type] = []
    parser_classes = API_PARSERS
    # 429 beyond PARTEDIT_SIGN_IN_RATE attempts per client address and per username.
    throttle_classes = [ScopedRateThrottle, SignInUsernameThrottle]
    throttle_scope = "sign-in-address"
    serializer_class = BoundedAuthTokenSerializer
