"""The one JSON error shape of the API: ``{"error": {"code", "message", "details"}}``."""

from __future__ import annotations

import logging
import sys
from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig, SuspiciousOperation
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.views import defaults
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler

from webapp.db_pool import DatabaseBusy, is_pool_exhausted
from webapp.errors import ServiceError

logger = logging.getLogger(__name__)


def error_body(code: str, message: str, details: Any = None) -> dict[str, Any]:
    """The body of every error response."""
    return {"error": {"code": code, "message": message, "details": details}}


class RequestTooLarge(exceptions.APIException):
    """A request body over ``DATA_UPLOAD_MAX_MEMORY_SIZE`` (HTTP 413)."""

    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_code = "request_too_large"
    default_detail = "The request body is too large."


def _as_drf(exc: Exception) -> Exception:
    """Translate Django's own exceptions into DRF's, keeping their messages."""
    if isinstance(exc, RequestDataTooBig):
        return RequestTooLarge()
    if isinstance(exc, SuspiciousOperation):  # e.g. too many form fields
        return exceptions.ParseError(str(exc) or None)
    if isinstance(exc, Http404):
        return exceptions.NotFound(str(exc) or None)
    if isinstance(exc, DjangoPermissionDenied):
        return exceptions.PermissionDenied(str(exc) or None)
    if isinstance(exc, DjangoValidationError):
        return exceptions.ValidationError(exc.message_dict if hasattr(exc, "error_dict") else exc.messages)
    return exc


def api_exception_handler(exc: Exception, context: dict[str, Any]) -> Response:
    """Render any exception raised by an API view in the one error shape."""
    if is_pool_exhausted(exc):
        busy = DatabaseBusy()
        return Response(error_body(busy.code, busy.message, busy.details), status=busy.status,
                        headers={"Retry-After": str(busy.retry_after)})
    if isinstance(exc, ServiceError):
        return Response(error_body(exc.code, exc.message, exc.details), status=exc.status)
    exc = _as_drf(exc)
    response = exception_handler(exc, context)
    if response is None:
        logger.exception("unhandled error in %s", context.get("view"), exc_info=exc)
        return Response(
            error_body("server_error", "Something went wrong on the server; the error was logged."),
            status=status.HTTP_500_INTERNAL_SERVER_ERROR,
        )
    assert isinstance(exc, exceptions.APIException)
    if isinstance(exc, exceptions.ValidationError):
        body = error_body("invalid", "The request is invalid; see details.", exc.detail)
    else:
        codes = exc.get_codes()
        body = error_body(codes if isinstance(codes, str) else exc.default_code, str(exc.detail))
    response.data = body
    return response


def server_error(request: HttpRequest) -> HttpResponse:
    """Django's ``handler500``: an exhausted connection pool is a 503 ``database_busy``, else Django's 500."""
    if is_pool_exhausted(sys.exc_info()[1]):
        busy = DatabaseBusy()
        response = JsonResponse(error_body(busy.code, busy.message, busy.details), status=busy.status)
        response["Retry-After"] = str(busy.retry_after)
        return response
    return defaults.server_error(request)
