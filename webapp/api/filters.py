"""Query-string filters for list endpoints (``?team=3&tag=smile``), with clear 400s for bad values."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from django.db.models import Model, QuerySet
from rest_framework.request import Request

from webapp.errors import InvalidInput

ModelT = TypeVar("ModelT", bound=Model)
Filters = dict[str, tuple[str, Callable[[str], Any]]]
# Ids are 64-bit database integers; a larger number in a lookup overflows the database driver.
MAX_DB_INTEGER = 2**63 - 1


def as_bool(raw: str) -> bool:
    """Parse a yes/no query value."""
    lowered = raw.strip().lower()
    if lowered in {"1", "true", "yes"}:
        return True
    if lowered in {"0", "false", "no"}:
        return False
    raise ValueError(raw)


def filter_by_params(queryset: QuerySet[ModelT], request: Request, filters: Filters) -> QuerySet[ModelT]:
    """Apply every filter named in the query string; ``filters`` maps a parameter to (lookup, parser)."""
    for param, (lookup, parse) in filters.items():
        raw = request.query_params.get(param)
        if raw is None or raw == "":
            continue
        try:
            value = parse(raw)
            if isinstance(value, int) and abs(value) > MAX_DB_INTEGER:
                raise ValueError(raw)
        except ValueError as error:
            raise InvalidInput(
                f"Invalid value {raw!r} for the filter {param!r}.", code="invalid_filter"
            ) from error
        queryset = queryset.filter(**{lookup: value})
    return queryset.distinct()
