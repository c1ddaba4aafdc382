"""Throttles of the token view: sign-in attempts per client address (DRF's scoped throttle, scope
``sign-in-address``) and per submitted username (scope ``sign-in-username``), counted in the shared cache."""

from __future__ import annotations

import hashlib
from typing import Any

from rest_framework.request import Request
from rest_framework.throttling import SimpleRateThrottle


class SignInUsernameThrottle(SimpleRateThrottle):
    """At most the ``sign-in-username`` rate of attempts for one username, from any address."""

    scope = "sign-in-username"

    def get_cache_key(self, request: Request, view: Any) -> str | None:
        """The username's key (hashed, case-insensitive); None (not throttled) without a username."""
        username = request.data.get("username") if hasattr(request.data, "get") else None
        if not isinstance(username, str) or not username:
            return None
        ident = hashlib.sha256(username.strip().lower().encode("utf-8", "replace")).hexdigest()
        return self.cache_format % {"scope": self.scope, "ident": ident}
