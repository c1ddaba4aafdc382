"""The session render task on the tiny generator: one frame per claimed state, tagged with its revision."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image as PILImage

from tests.webapp.factories import vector_bytes
from webapp import events
from webapp.assets.models import Image
from webapp.assets.services import register_model
from webapp.editsessions import services
from webapp.editsessions.tasks import render_session
from webapp.jobs import services as jobs
from webapp.jobs.execution import execute_job
from webapp.jobs.models import JobType
from webapp.library import services as library
from webapp.teams.models import Role

pytestmark = pytest.mark.django_db


@pytest.fixture
def sample_session(make_user: Any, make_team: Any, labelled_model_dir: Path, settings: Any,
                   monkeypatch: Any) -> Any:
    """An editor's session on a rendered sample of the tiny model, with one vector at scale 0."""
    from webapp import worker_runtime

    settings.PARTEDIT_DEVICE = "cpu"
    editor = make_user("editor")
    team = make_team("Lab", {editor: Role.EDITOR})
    model, _ = register_model(team, labelled_model_dir, "tiny")
    job = jobs.create_job(editor, team, JobType.RENDER, {"model": model.pk, "seed": 5})
    execute_job(job.pk)
    image = Image.objects.get(pk=job.parameters["image"])
    delta = np.random.default_rng(0).normal(size=(model.num_ws, model.w_dim)).astype(np.float32)
    vector = library.create_edit_vector(editor, model, vector_bytes(model, labels=[1], delta=delta), "noise")
    monkeypatch.setattr(services, "_enqueue_render", lambda session_id: None)
    session = services.add_vector_entry(editor, services.create_session(editor, image), 0, vector, 0.0)
    published: list[Any] = []
    monkeypatch.setattr(events, "publish_now", lambda group, event: published.append((group, event)))
    yield {"editor": editor, "session": session, "image": image, "entry": session.entries.get(),
           "published": published}
    worker_runtime._models.clear()


def test_a_render_at_scale_zero_is_the_sample_and_a_scale_changes_it(sample_session: Any) -> None:
    session, published = sample_session["session"], sample_session["published"]
    render_session(session.pk)
    services.set_entry_scale(sample_session["editor"], sample_session["entry"], 1, 2.0)
    render_session(session.pk)

    (group, first), (_, second) = published
    assert group == f"session.{session.pk}" and (first["revision"], second["revision"]) == (1, 2)
    with PILImage.open(sample_session["image"].normalized.path) as stored:
        sample = np.asarray(stored.convert("RGB"))
    assert np.array_equal(np.asarray(PILImage.open(io.BytesIO(first["png"]))), sample)
    assert not np.array_equal(np.asarray(PILImage.open(io.BytesIO(second["png"]))), sample)
    assert first["segmentation_png"] is None


def test_an_image_without_a_latent_reports_a_clear_failure(sample_session: Any) -> None:
    Image.objects.filter(pk=sample_session["image"].pk).update(latent="")
    render_session(sample_session["session"].pk)
    ((_, failed),) = sample_session["published"]
    assert (failed["type"], failed["code"]) == ("session.render_failed", "no_latent")
