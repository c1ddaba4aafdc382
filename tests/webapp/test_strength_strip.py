"""Strength strips: rendered once per vector by a task on the tiny generator, then served as a PNG."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image as PILImage

from tests.webapp.factories import vector_bytes
from webapp.assets.services import register_model
from webapp.library import services as library
from webapp.library import tasks
from webapp.teams.models import Role

pytestmark = pytest.mark.django_db


@pytest.fixture
def lab(make_user: Any, make_team: Any, labelled_model_dir: Path, settings: Any, client_for: Any,
        monkeypatch: Any) -> Any:
    """A viewer's API client and a vector of the registered tiny model; strip tasks are recorded."""
    from webapp import worker_runtime

    settings.PARTEDIT_DEVICE = "cpu"
    owner, viewer, outsider = make_user("owner"), make_user("viewer"), make_user("outsider")
    team = make_team("Lab", {owner: Role.OWNER, viewer: Role.VIEWER})
    make_team("Other", {outsider: Role.OWNER})
    model, _ = register_model(team, labelled_model_dir, "tiny")
    delta = np.random.default_rng(1).normal(size=(model.num_ws, model.w_dim)).astype(np.float32)
    vector = library.create_edit_vector(owner, model, vector_bytes(model, labels=[1], delta=delta), "noise",
                                        scales=(1.0, -1.0, 2.0))
    queued: list[int] = []
    monkeypatch.setattr(tasks.render_strength_strip, "apply_async",
                        lambda args, queue: queued.append((args[0], queue)))
    yield {"client": client_for(viewer), "outsider": client_for(outsider), "vector": vector, "queued": queued,
           "model": model}
    worker_runtime._models.clear()


def test_the_strip_is_rendered_once_then_served(lab: Any) -> None:
    path = f"/api/vectors/{lab['vector'].pk}/strip/"
    first = lab["client"].get(path)
    assert first.status_code == 202
    assert first.json() == {"status": "rendering", "scales": [-1.0, 0.0, 1.0, 2.0]}
    assert lab["queued"] == [(lab["vector"].pk, "preview")]

    tasks.render_strength_strip(lab["vector"].pk)
    served = lab["client"].get(path)

    strip = np.asarray(PILImage.open(io.BytesIO(b"".join(served.streaming_content))))
    size = lab["model"].resolution
    assert served.status_code == 200 and strip.shape == (size, 4 * size, 3)
    frames = [strip[:, i * size:(i + 1) * size] for i in range(4)]
    assert not np.array_equal(frames[0], frames[1]) and not np.array_equal(frames[1], frames[2])
    assert len(lab["queued"]) == 1
    listed = lab["client"].get(f"/api/vectors/{lab['vector'].pk}/").json()
    assert listed["files"]["strip"] == path


def test_other_teams_do_not_get_the_strip(lab: Any) -> None:
    assert lab["outsider"].get(f"/api/vectors/{lab['vector'].pk}/strip/").status_code == 404
    assert lab["queued"] == []
