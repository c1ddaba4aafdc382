"""An exhausted PostgreSQL connection pool is a 503 ``database_busy`` in the error shape, never a 500."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.db import OperationalError
from django.test import RequestFactory
from psycopg_pool import PoolTimeout

from webapp.api.exceptions import api_exception_handler, server_error
from webapp.db_pool import is_pool_exhausted


def pool_timeout_as_django_raises_it() -> OperationalError:
    """What Django's database wrapper raises when ``getconn`` gives up: its error, from psycopg's."""
    try:
        try:
            raise PoolTimeout("couldn't get a connection after 1.00 sec")
        except PoolTimeout as cause:
            raise OperationalError(str(cause)) from cause
    except OperationalError as error:
        return error


def test_only_a_pool_timeout_counts_as_exhausted() -> None:
    assert is_pool_exhausted(pool_timeout_as_django_raises_it())
    assert not is_pool_exhausted(OperationalError("connection refused"))
    assert not is_pool_exhausted(None)


def test_api_views_answer_503_with_retry_after(settings: Any) -> None:
    settings.PARTEDIT_DB_POOL_TIMEOUT = 2.5
    response = api_exception_handler(pool_timeout_as_django_raises_it(), {})
    assert response.status_code == 503
    assert response["Retry-After"] == "2"
    assert response.data["error"]["code"] == "database_busy"
    assert response.data["error"]["details"] == {"retry_after": 2}


@pytest.mark.parametrize(("error", "status"), [(pool_timeout_as_django_raises_it(), 503),
                                               (RuntimeError("a bug"), 500)])
def test_pages_and_middleware_get_503_only_for_an_exhausted_pool(error: Exception, status: int) -> None:
    request = RequestFactory().get("/")
    try:
        raise error
    except Exception:  # Django calls handler500 inside the except block of the request's error.
        response = server_error(request)
    assert response.status_code == status
    if status == 503:
        assert json.loads(response.content)["error"]["code"] == "database_busy"
