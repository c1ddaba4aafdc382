"""Typed errors raised by the webapp's service functions.

Services raise these; the REST API maps them to its one JSON error shape
(``webapp.api.exceptions``) and WebSocket consumers to error messages. Each carries a stable
machine-readable ``code``, a message a user can act on, and optional structured ``details``.
"""

from __future__ import annotations

from typing import Any


class ServiceError(Exception):
    """Base class of every domain error; ``status`` is the HTTP status the API answers with."""

    status = 400
    code = "invalid"

    def __init__(self, message: str, *, code: str | None = None, details: Any = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        self.details = details


class InvalidInput(ServiceError):  # noqa: N818 (named like DRF's NotFound, PermissionDenied)
    """The request's data is malformed or violates a rule (HTTP 400)."""


class Conflict(ServiceError):  # noqa: N818
    """The request is based on a stale state or clashes with the current one (HTTP 409)."""

    status = 409
    code = "conflict"


class PayloadTooLarge(ServiceError):  # noqa: N818
    """An uploaded file is over the configured size or pixel limit (HTTP 413)."""

    status = 413
    code = "too_large"
