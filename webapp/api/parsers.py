"""Request body parsers of the API: bounded JSON, and forms whose values may not contain NUL.

JSON bodies (at most ``DATA_UPLOAD_MAX_MEMORY_SIZE`` bytes: DRF reads them through Django's
``request.body``, and ``webapp.api.exceptions`` answers 413 beyond) are parsed with
the engine's bounded JSON reader (nesting at most 32 levels, finite numbers, no NUL),
so a body of ``[`` x 100000 is a 400, not a RecursionError. Form and multipart values with a
NUL character are a 400 too: PostgreSQL cannot store them.
"""

from __future__ import annotations

from typing import Any

from django.http import QueryDict
from rest_framework import exceptions, parsers

from editing_engine.formats import loads_json


def contains_nul(values: QueryDict) -> bool:
    """Whether any key or text value of a query string or form contains a NUL character."""
    return any(
        "\x00" in key or any(isinstance(item, str) and "\x00" in item for item in items)
        for key, items in values.lists()
    )


def refuse_nul(values: QueryDict, where: str) -> None:
    """Raise a 400 if any key or value of ``values`` contains a NUL character."""
    if contains_nul(values):
        raise exceptions.ParseError(f"The {where} contains a NUL character.")


class BoundedJSONParser(parsers.JSONParser):
    """JSON with a nesting bound; NaN, Infinity and NUL characters are refused."""

    def parse(self, stream: Any, media_type: str | None = None, parser_context: Any = None) -> Any:
        """Parse the body, or raise a 400."""
        try:
            return loads_json(stream.read().decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as error:
            raise exceptions.ParseError(f"JSON parse error: {error}") from error


class CheckedFormParser(parsers.FormParser):
    """URL-encoded forms without NUL characters."""

    def parse(self, stream: Any, media_type: str | None = None, parser_context: Any = None) -> Any:
        """Parse the form, refusing NUL characters."""
        data = super().parse(stream, media_type, parser_context)
        refuse_nul(data, "form")
        return data


class CheckedMultiPartParser(parsers.MultiPartParser):
    """Multipart forms (file uploads) whose text fields contain no NUL characters."""

    def parse(self, stream: Any, media_type: str | None = None, parser_context: Any = None) -> Any:
        """Parse the form and its files, refusing NUL characters in the text fields."""
        result = super().parse(stream, media_type, parser_context)
        refuse_nul(result.data, "form")
        return result


API_PARSERS = [BoundedJSONParser, CheckedFormParser, CheckedMultiPartParser]
UPLOAD_PARSERS = [CheckedMultiPartParser, CheckedFormParser]
