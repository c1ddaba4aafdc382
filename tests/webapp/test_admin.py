"""Every domain model is in the Django admin, and its list and detail pages work for an operator."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from django.apps import apps
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.test import Client

from tests.webapp.factories import RESOLUTION, mask_png, vector_bytes
from webapp.annotations.models import SegmentationBranch
from webapp.annotations.services import register_segmentation_branch, save_annotation_version
from webapp.annotations.uncertainty import store_uncertainty_scores
from webapp.editsessions import services as sessions
from webapp.editsessions.vectors import add_session_vector
from webapp.library import services as library
from webapp.teams.models import Role

pytestmark = pytest.mark.django_db

DOMAIN_APPS = ["teams", "assets", "annotations", "library", "editsessions"]


def domain_models() -> list[Any]:
    """Every model of the domain apps."""
    return [model for label in DOMAIN_APPS for model in apps.get_app_config(label).get_models()]


def test_every_domain_model_is_registered() -> None:
    missing = [model.__name__ for model in domain_models() if model not in admin.site._registry]
    assert missing == []


@pytest.fixture
def operator(make_user: Any, make_team: Any, make_model: Any, make_image: Any) -> Client:
    """A superuser's browser, with one of every object in the database."""
    owner = make_user("owner")
    model = make_model(make_team("Lab", {owner: Role.OWNER}))
    image = make_image(model)
    version = save_annotation_version(owner, image, mask_png(np.zeros((RESOLUTION, RESOLUTION))), None)
    branch = register_segmentation_branch(model, b"w", [version], {}, activate=False)
    store_uncertainty_scores(branch, {image.pk: 0.25})
    vector = library.create_edit_vector(owner, model, vector_bytes(model), "v", tags=["t"])
    session = sessions.create_session(owner, image)
    sessions.add_vector_entry(owner, session, 0, vector, 1.0, op_id="op-1")
    add_session_vector(owner, session, vector_bytes(model), "saved from the session")
    client = Client()
    client.force_login(get_user_model().objects.create_superuser("root", "root@example.org", "pw"))
    return client


@pytest.mark.parametrize("model", domain_models(), ids=lambda m: m.__name__)
def test_admin_list_and_detail_pages_render(operator: Client, model: Any) -> None:
    base = f"/admin/{model._meta.app_label}/{model._meta.model_name}/"
    obj = model.objects.first()

    listing = operator.get(base)
    detail = operator.get(f"{base}{obj.pk}/change/")

    assert listing.status_code == 200 and f'href="{base}{obj.pk}/change/' in listing.content.decode()
    assert detail.status_code == 200 and detail.context["original"] == obj


def test_the_vector_page_shows_the_session_it_was_made_in(operator: Client) -> None:
    from webapp.editsessions.models import EditSession
    from webapp.library.models import EditVector

    saved, uploaded = EditVector.objects.get(name="saved from the session"), EditVector.objects.get(name="v")
    session = str(EditSession.objects.get())

    saved_page = operator.get(f"/admin/library/editvector/{saved.pk}/change/").content.decode()
    uploaded_page = operator.get(f"/admin/library/editvector/{uploaded.pk}/change/").content.decode()

    assert "Source session" in saved_page and session in saved_page
    assert "Source session" in uploaded_page and session not in uploaded_page


def test_operator_activates_a_branch_with_the_admin_action(operator: Client) -> None:
    branch = SegmentationBranch.objects.get()
    response = operator.post(
        "/admin/annotations/segmentationbranch/",
        {"action": "make_active", "_selected_action": [branch.pk]},
    )
    branch.refresh_from_db()
    assert response.status_code == 302 and branch.is_active


def test_an_operator_can_delete_a_whole_team_or_an_annotated_image(operator: Client) -> None:
    from webapp.assets.models import GeneratorModel, Image
    from webapp.teams.models import Team

    image = Image.objects.get()
    image_page = f"/admin/assets/image/{image.pk}/delete/"
    assert operator.post(image_page, {"post": "yes"}).status_code == 302
    assert not Image.objects.exists()

    team = Team.objects.get()
    assert operator.post(f"/admin/teams/team/{team.pk}/delete/", {"post": "yes"}).status_code == 302
    assert not Team.objects.exists() and not GeneratorModel.objects.exists()
