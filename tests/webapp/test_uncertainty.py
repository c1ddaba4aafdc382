"""Active learning: the score_uncertainty job, its stored scores and the ranking endpoint (tiny model)."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from django.core.exceptions import PermissionDenied
from PIL import Image as PILImage

from webapp.annotations.models import ImageUncertainty, SegmentationBranch
from webapp.annotations.services import save_annotation_version
from webapp.assets.models import Image
from webapp.assets.services import create_uploaded_image, register_model
from webapp.errors import InvalidInput
from webapp.jobs import services
from webapp.jobs.execution import execute_job
from webapp.jobs.models import Job, JobType
from webapp.teams.models import Role

pytestmark = pytest.mark.django_db


def mask_of(image: Image) -> bytes:
    """A two-label mask PNG of an image: its brighter-than-median pixels are label 1."""
    with PILImage.open(image.normalized.path) as stored:
        grey = np.asarray(stored.convert("L"), dtype=np.float32)
    buffer = io.BytesIO()
    PILImage.fromarray((grey > np.median(grey)).astype(np.uint8)).save(buffer, "PNG")
    return buffer.getvalue()


def run(user: Any, team: Any, job_type: str, parameters: dict[str, Any]) -> Job:
    """Request a job as ``user`` and run it in-process; returns its final state."""
    job = services.create_job(user, team, job_type, parameters)
    execute_job(job.pk)
    job.refresh_from_db()
    return job


@pytest.fixture
def lab(make_user: Any, make_team: Any, labelled_model_dir: Path, settings: Any) -> Any:
    """The tiny model in a team with one member per role, five rendered samples, the first two annotated."""
    from webapp import worker_runtime

    settings.PARTEDIT_DEVICE = "cpu"
    users = {role: make_user(role) for role in ("editor", "annotator", "viewer", "outsider")}
    team = make_team("Lab", {users["editor"]: Role.EDITOR, users["annotator"]: Role.ANNOTATOR,
                             users["viewer"]: Role.VIEWER})
    make_team("Other", {users["outsider"]: Role.OWNER})
    model, _ = register_model(team, labelled_model_dir, "tiny")
    images = []
    for seed in range(1, 6):
        job = run(users["editor"], team, JobType.RENDER, {"model": model.pk, "seed": seed})
        images.append(Image.objects.get(pk=job.parameters["image"]))
    for image in images[:2]:
        save_annotation_version(users["editor"], image, mask_of(image), None)
    yield {**users, "team": team, "model": model, "images": images}
    worker_runtime._models.clear()


def train(lab: dict[str, Any]) -> SegmentationBranch:
    """Train an active branch on the lab's annotations."""
    job = run(lab["editor"], lab["team"], JobType.TRAIN_BRANCH,
              {"model": lab["model"].pk, "steps": 20, "pixels_per_step": 64, "members": 3})
    assert job.status == "succeeded", job.error_message
    return SegmentationBranch.objects.get(pk=job.result["branch"])


def engine_scores(lab: dict[str, Any], branch: SegmentationBranch, images: list[Image]) -> list[float]:
    """The engine's scores of ``images`` under ``branch``, computed directly."""
    import torch

    from editing_engine.segmentation import image_uncertainty
    from webapp.annotations.worker_inputs import registered_branch
    from webapp.assets.worker_inputs import checked_model, image_latent

    loaded = checked_model(lab["model"])
    ws = torch.cat([image_latent(image, loaded) for image in images])
    return image_uncertainty(loaded.generator, registered_branch(branch, loaded), ws).tolist()


def test_annotators_score_the_unannotated_images_and_everyone_sees_them_ranked(
    lab: dict[str, Any], client_for: Any
) -> None:
    branch = train(lab)
    job = run(lab["annotator"], lab["team"], JobType.SCORE_UNCERTAINTY, {"model": lab["model"].pk})

    assert (job.status, job.error_message, job.queue) == ("succeeded", "", "gpu")
    unannotated = lab["images"][2:]
    assert job.parameters == {"model": lab["model"].pk, "branch": branch.pk,
                              "images": [image.pk for image in unannotated]}
    assert job.result == {"branch": branch.pk, "model": lab["model"].pk, "scored": 3}
    assert (job.progress_step, job.progress_total) == (3, 3)
    stored = {s.image_id: s.score for s in ImageUncertainty.objects.filter(branch=branch)}
    expected = dict(zip([i.pk for i in unannotated], engine_scores(lab, branch, unannotated), strict=True))
    assert stored == pytest.approx(expected, rel=1e-5)
    assert len(set(stored.values())) == 3 and min(stored.values()) > 0

    response = client_for(lab["viewer"]).get(f"/api/models/{lab['model'].pk}/uncertainty/")
    assert response.status_code == 200, response.content
    results = response.json()["results"]
    assert [r["image"] for r in results] == sorted(stored, key=stored.__getitem__, reverse=True)
    assert set(results[0]) == {"image", "image_name", "score", "branch", "job", "scored_at", "annotated"}
    assert (results[0]["branch"], results[0]["job"], results[0]["annotated"]) == (branch.pk, job.pk, False)

    top = Image.objects.get(pk=results[0]["image"])
    save_annotation_version(lab["editor"], top, mask_of(top), None)
    after = client_for(lab["viewer"]).get(f"/api/models/{lab['model'].pk}/uncertainty/").json()["results"]
    everything = client_for(lab["viewer"]).get(
        f"/api/models/{lab['model'].pk}/uncertainty/", {"include_annotated": "true", "branch": branch.pk}
    ).json()["results"]
    assert [r["image"] for r in after] == [r["image"] for r in results[1:]]
    listed = [(r["image"], r["annotated"]) for r in everything]
    assert listed[:2] == [(top.pk, True), (results[1]["image"], False)]


def test_scoring_again_overwrites_the_scores_and_a_new_branch_has_its_own(lab: dict[str, Any]) -> None:
    first = train(lab)
    parameters = {"model": lab["model"].pk, "images": [lab["images"][3].pk]}
    run(lab["annotator"], lab["team"], JobType.SCORE_UNCERTAINTY, parameters)
    again = run(lab["annotator"], lab["team"], JobType.SCORE_UNCERTAINTY, parameters)
    second = train(lab)
    run(lab["annotator"], lab["team"], JobType.SCORE_UNCERTAINTY, parameters)

    scores = ImageUncertainty.objects.filter(image=lab["images"][3])
    assert sorted(scores.values_list("branch", flat=True)) == [first.pk, second.pk]
    assert scores.get(branch=first).job_id == again.pk


def test_scoring_requests_are_checked(lab: dict[str, Any]) -> None:
    model = lab["model"].pk

    def refused(parameters: dict[str, Any]) -> InvalidInput:
        with pytest.raises(InvalidInput) as error:
            services.create_job(lab["annotator"], lab["team"], JobType.SCORE_UNCERTAINTY, parameters)
        return error.value

    no_branch = refused({"model": model})
    train(lab)
    upload = create_uploaded_image(lab["editor"], lab["model"], mask_of(lab["images"][0]), "no latent")
    unknown = refused({"model": model, "images": [lab["images"][2].pk, 99999]})
    no_latent = refused({"model": model, "images": [upload.pk]})
    for image in lab["images"][2:]:
        save_annotation_version(lab["editor"], image, mask_of(image), None)
    nothing = refused({"model": model})

    assert [e.code for e in (no_branch, unknown, no_latent, nothing)] == [
        "no_branch", "not_found_in_team", "no_latent", "nothing_to_score"]
    assert (unknown.details, no_latent.details) == ({"missing": [99999]}, {"images": [upload.pk]})
    with pytest.raises(PermissionDenied):
        services.create_job(lab["viewer"], lab["team"], JobType.SCORE_UNCERTAINTY, {"model": model})
    assert not Job.objects.filter(type=JobType.SCORE_UNCERTAINTY).exists()


def test_ranking_endpoint_errors(lab: dict[str, Any], client_for: Any, make_model: Any) -> None:
    url = f"/api/models/{lab['model'].pk}/uncertainty/"
    viewer = client_for(lab["viewer"])
    no_branch = viewer.get(url)
    train(lab)
    other_model = make_model(lab["team"], name="other")
    other_branch = SegmentationBranch.objects.create(model=other_model, weights="x.safetensors")
    bad_filter = viewer.get(url, {"include_annotated": "maybe"})
    foreign_branch = viewer.get(url, {"branch": other_branch.pk})
    outsider = client_for(lab["outsider"]).get(url)

    assert no_branch.status_code == 400 and no_branch.json()["error"]["code"] == "no_branch"
    assert bad_filter.status_code == 400 and bad_filter.json()["error"]["code"] == "invalid_filter"
    assert foreign_branch.status_code == 400 and foreign_branch.json()["error"]["code"] == "not_found_in_team"
    assert outsider.status_code == 404
    assert viewer.get(url).json()["results"] == []
