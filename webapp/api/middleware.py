"""Middleware in front of every view: query strings with NUL characters are a 400."""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse, JsonResponse

from webapp.api.exceptions import error_body
from webapp.api.parsers import contains_nul


def refuse_nul_in_query(get_response: Callable[[HttpRequest], HttpResponse]) -> Callable[..., HttpResponse]:
    """Answer 400 to a request whose query string holds a NUL character (PostgreSQL cannot compare them)."""

    def middleware(request: HttpRequest) -> HttpResponse:
        if contains_nul(request.GET):
            return JsonResponse(
                error_body("invalid_query", "The query string contains a NUL character."), status=400
            )
        return get_response(request)

    return middleware
