"""What the Dataset page reads from the API: images' annotation state (none, draft, done), reconstructions."""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image as PILImage
from rest_framework.test import APIClient

from webapp.annotations.services import save_annotation_version
from webapp.assets.models import GeneratorModel, Image
from webapp.assets.services import create_uploaded_image, register_model
from webapp.assets.uploads import encode_png
from webapp.jobs import services as jobs
from webapp.jobs.models import JobType
from webapp.jobs.tasks import run_job
from webapp.teams.models import Role, Team

pytestmark = pytest.mark.django_db


def mask(resolution: int, label: int = 1) -> bytes:
    """A PNG label map filled with ``label``."""
    return encode_png(PILImage.fromarray(np.full((resolution, resolution), label, np.uint8), mode="L"))


@pytest.fixture
def lab(make_user: Callable[[str], Any], make_team: Callable[..., Team],
        make_model: Callable[..., GeneratorModel], make_image: Callable[..., Image]) -> dict[str, Any]:
    """An owner and an annotator, a model and three uploaded images."""
    owner, annotator = make_user("owner"), make_user("annotator")
    team = make_team("Lab", {owner: Role.OWNER, annotator: Role.ANNOTATOR})
    model = make_model(team)
    images = [make_image(model, f"photo {index}") for index in range(3)]
    return {"owner": owner, "annotator": annotator, "team": team, "model": model, "images": images}


def listed(client: APIClient, **query: Any) -> dict[int, dict[str, Any]]:
    """The images the list endpoint returns for ``query``, by id."""
    response = client.get("/api/images/", query)
    assert response.status_code == 200, response.content
    return {image["id"]: image for image in response.json()["results"]}


def test_images_carry_their_annotation_state(lab: dict[str, Any],
                                             client_for: Callable[[Any], APIClient]) -> None:
    none, draft, done = lab["images"]
    save_annotation_version(lab["annotator"], draft, mask(16), None, done=False)
    save_annotation_version(lab["annotator"], done, mask(16), None, done=False)
    save_annotation_version(lab["owner"], done, mask(16, 2), 1)

    images = listed(client_for(lab["owner"]), model=lab["model"].pk)

    nothing = {"state": "none", "version": None, "author": None, "saved_at": None}
    assert images[none.pk]["annotation"] == nothing
    assert images[draft.pk]["annotation"]["state"] == "draft"
    assert images[draft.pk]["annotation"]["author"] == "annotator"
    assert images[done.pk]["annotation"]["state"] == "done"
    assert (images[done.pk]["annotation"]["version"], images[done.pk]["annotation"]["author"]) == (2, "owner")
    assert images[done.pk]["annotation"]["saved_at"]
    detail = client_for(lab["owner"]).get(f"/api/images/{done.pk}/").json()
    assert detail["annotation"] == images[done.pk]["annotation"]  # the single-object path agrees


@pytest.mark.parametrize("state", ["none", "draft", "done"])
def test_images_filter_by_annotation_state(lab: dict[str, Any], client_for: Callable[[Any], APIClient],
                                           state: str) -> None:
    none, draft, done = lab["images"]
    save_annotation_version(lab["annotator"], draft, mask(16), None, done=False)
    save_annotation_version(lab["annotator"], done, mask(16), None)
    expected = {"none": none, "draft": draft, "done": done}[state]

    assert set(listed(client_for(lab["owner"]), annotation=state)) == {expected.pk}


def test_an_unknown_annotation_filter_is_a_400(lab: dict[str, Any],
                                               client_for: Callable[[Any], APIClient]) -> None:
    response = client_for(lab["owner"]).get("/api/images/", {"annotation": "finished"})

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_filter"


@pytest.mark.parametrize(("form", "done"), [({}, True), ({"done": "true"}, True), ({"done": "false"}, False)])
def test_saving_marks_a_version_done_unless_it_is_a_draft(lab: dict[str, Any],
                                                          client_for: Callable[[Any], APIClient],
                                                          form: dict[str, str], done: bool) -> None:
    image = lab["images"][0]
    upload = io.BytesIO(mask(16))
    upload.name = "mask.png"
    response = client_for(lab["annotator"]).post(f"/api/images/{image.pk}/annotations/",
                                                 {"mask": upload, **form}, format="multipart")

    assert response.status_code == 201, response.content
    assert response.json()["done"] is done
    state = client_for(lab["annotator"]).get(f"/api/images/{image.pk}/").json()["annotation"]["state"]
    assert state == ("done" if done else "draft")


def test_embedding_stores_a_reconstruction_beside_the_photo(make_user: Callable[[str], Any],
                                                            make_team: Callable[..., Team],
                                                            labelled_model_dir: Path, settings: Any,
                                                            client_for: Callable[[Any], APIClient]) -> None:
    from webapp import worker_runtime

    settings.PARTEDIT_DEVICE = "cpu"
    editor = make_user("editor")
    team = make_team("Lab", {editor: Role.EDITOR})
    model, _ = register_model(team, labelled_model_dir, "tiny")
    pixels = np.random.default_rng(0).integers(0, 255, (20, 24, 3), dtype=np.uint8)
    image = create_uploaded_image(editor, model, encode_png(PILImage.fromarray(pixels)), "photo")
    client = client_for(editor)
    assert client.get(f"/api/images/{image.pk}/").json()["files"]["reconstruction"] is None

    try:
        job = jobs.create_job(editor, team, JobType.EMBED_IMAGE, {"image": image.pk, "steps": 3})
        run_job.apply(args=(job.pk,))
    finally:
        worker_runtime._models.clear()

    body = client.get(f"/api/images/{image.pk}/").json()
    assert body["status"] == "ready" and body["embedding_metrics"]["psnr"] > 0
    link = body["files"]["reconstruction"]
    assert link == f"/api/images/{image.pk}/reconstruction/"
    response = client.get(link)
    assert response.status_code == 200 and response["Content-Type"] == "image/png"
    with PILImage.open(io.BytesIO(b"".join(response.streaming_content))) as rendering:
        assert rendering.size == (16, 16) and rendering.mode == "RGB"
