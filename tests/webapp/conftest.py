"""Fixtures of the webapp tests: real users, teams, models and images in the test database."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from rest_framework.test import APIClient

from tests.webapp.factories import create_model, png_bytes
from webapp.assets.models import GeneratorModel, Image
from webapp.teams.models import Membership, Role, Team


@pytest.fixture(autouse=True)
def media_root(settings: Any, tmp_path: Path) -> Path:
    """Every test stores files in its own MEDIA_ROOT; new teams get no model unless a test asks."""
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.PARTEDIT_REGISTER_MODEL_FOR_NEW_TEAMS = False
    return settings.MEDIA_ROOT


@pytest.fixture(autouse=True)
def fresh_cache() -> None:
    """Sign-in throttles and preview render budgets start from zero in every test."""
    from django.core.cache import cache

    cache.clear()


@pytest.fixture
def make_user() -> Callable[[str], Any]:
    """Create a user with password ``pw``."""

    def make(username: str) -> Any:
        return get_user_model().objects.create_user(username=username, password="pw")

    return make


@pytest.fixture
def make_team() -> Callable[..., Team]:
    """Create a team with ``members`` as {user: role}."""

    def make(name: str, members: dict[Any, str] | None = None) -> Team:
        team = Team.objects.create(name=name, slug=name.lower().replace(" ", "-"))
        for user, role in (members or {}).items():
            Membership.objects.create(team=team, user=user, role=role)
        return team

    return make


@pytest.fixture
def make_model() -> Callable[..., GeneratorModel]:
    """Create a 16 px generator model row with a four-label taxonomy (``create_model``)."""
    return create_model


@pytest.fixture
def make_image(make_model: Callable[..., GeneratorModel]) -> Callable[..., Image]:
    """Create an uploaded image through the service (as the model team's first owner)."""
    from webapp.assets.services import create_uploaded_image

    def make(model: GeneratorModel, name: str = "photo") -> Image:
        owner = model.team.memberships.get(role=Role.OWNER).user
        return create_uploaded_image(owner, model, png_bytes(), name)

    return make


@pytest.fixture
def client_for() -> Callable[[Any], APIClient]:
    """An API client signed in as ``user`` (None: anonymous)."""

    def make(user: Any) -> APIClient:
        client = APIClient()
        if user is not None:
            client.force_authenticate(user)
        return client

    return make
