"""A vector made in an edit session names it as its ``source_session``; the link is editsessions' own row."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.webapp.factories import vector_bytes
from webapp.editsessions import services as sessions
from webapp.editsessions.models import SessionVector
from webapp.editsessions.vectors import add_session_vector
from webapp.jobs.models import Job, JobType
from webapp.library import services as library
from webapp.teams.models import Role

pytestmark = pytest.mark.django_db


@pytest.fixture
def lab(make_user: Any, make_team: Any, make_model: Any, make_image: Any, client_for: Any) -> dict[str, Any]:
    """An editor's client, a model, an image with an open session whose stack applies one vector."""
    editor = make_user("editor")
    team = make_team("Lab", {editor: Role.OWNER})
    model = make_model(team)
    image = make_image(model)
    uploaded = library.create_edit_vector(editor, model, vector_bytes(model), "uploaded")
    session = sessions.create_session(editor, image)
    sessions.add_vector_entry(editor, session, 0, uploaded, 0.5)
    return {"client": client_for(editor), "editor": editor, "team": team, "model": model, "image": image,
            "session": session, "uploaded": uploaded}


def vector_json(lab: dict[str, Any], vector_id: int) -> dict[str, Any]:
    """The vector as the API shows it."""
    response = lab["client"].get(f"/api/vectors/{vector_id}/")
    assert response.status_code == 200
    return dict(response.json())


def test_a_stack_saved_as_a_vector_names_its_session_and_an_uploaded_one_none(lab: dict[str, Any]) -> None:
    saved = sessions.save_stack_as_vector(lab["editor"], lab["session"], "Half smile")

    shown = vector_json(lab, saved.pk)
    assert (shown["source_session"], shown["source_image"]) == (lab["session"].pk, lab["image"].pk)
    assert vector_json(lab, lab["uploaded"].pk)["source_session"] is None
    listed = {v["name"]: v["source_session"] for v in lab["client"].get("/api/vectors/").json()["results"]}
    assert listed == {"Half smile": lab["session"].pk, "uploaded": None}
    assert SessionVector.objects.get().vector == saved


def test_deleting_the_session_keeps_the_vector_without_a_source_session(lab: dict[str, Any]) -> None:
    saved = sessions.save_stack_as_vector(lab["editor"], lab["session"], "Half smile")
    lab["session"].delete()

    assert vector_json(lab, saved.pk)["source_session"] is None
    assert not SessionVector.objects.exists()


def test_a_job_that_stores_its_vector_twice_links_it_to_the_session_once(lab: dict[str, Any]) -> None:
    job = Job.objects.create(
        team=lab["team"], requested_by=lab["editor"], type=JobType.OPTIMIZE_EDIT, queue="gpu"
    )
    made = [add_session_vector(lab["editor"], lab["session"], vector_bytes(lab["model"]), "made", job=job)
            for _ in range(2)]

    assert made[0] == made[1] and SessionVector.objects.get().vector == made[0]


def test_listing_session_vectors_costs_no_query_per_vector(lab: dict[str, Any]) -> None:
    def list_queries() -> int:
        with CaptureQueriesContext(connection) as queries:
            assert lab["client"].get("/api/vectors/").status_code == 200
        return len(queries)

    sessions.save_stack_as_vector(lab["editor"], lab["session"], "one")
    with_one = list_queries()
    for name in ("two", "three"):
        sessions.save_stack_as_vector(lab["editor"], lab["session"], name)

    assert list_queries() == with_one
