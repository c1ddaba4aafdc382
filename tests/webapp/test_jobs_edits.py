"""Branch training, edit optimisation and refinement jobs, run in-process on the tiny 16 px generator."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image as PILImage

from webapp.annotations.models import SegmentationBranch
from webapp.annotations.services import save_annotation_version
from webapp.assets.models import Image
from webapp.assets.services import create_uploaded_image, register_model
from webapp.editsessions import services as editsessions
from webapp.editsessions.models import StackEntry
from webapp.errors import Conflict, InvalidInput
from webapp.jobs import services
from webapp.jobs.execution import execute_job
from webapp.jobs.models import Job, JobType
from webapp.library.models import EditVector
from webapp.teams.models import Role

pytestmark = pytest.mark.django_db

SMALL_BRANCH = {"steps": 20, "pixels_per_step": 64, "members": 2}


def png(values: np.ndarray) -> bytes:
    """``values`` (uint8, HxW or HxWx3) as PNG bytes."""
    buffer = io.BytesIO()
    PILImage.fromarray(values.astype(np.uint8)).save(buffer, "PNG")
    return buffer.getvalue()


def face_mask(image: Image) -> np.ndarray:
    """A plausible 'face' mask of an image: its brighter-than-median pixels."""
    with PILImage.open(image.normalized.path) as stored:
        grey = np.asarray(stored.convert("L"), dtype=np.float32)
    return (grey > np.median(grey)).astype(np.uint8)


@pytest.fixture
def lab(make_user: Any, make_team: Any, labelled_model_dir: Path, settings: Any) -> Any:
    """An editor, their team with the tiny model registered, and three rendered samples."""
    from webapp import worker_runtime

    settings.PARTEDIT_DEVICE = "cpu"
    editor, viewer = make_user("editor"), make_user("viewer")
    team = make_team("Lab", {editor: Role.EDITOR, viewer: Role.VIEWER})
    model, _ = register_model(team, labelled_model_dir, "tiny")
    images = []
    for seed in (1, 2, 3):
        job = request({"editor": editor, "team": team}, JobType.RENDER, {"model": model.pk, "seed": seed})
        execute_job(job.pk)
        images.append(Image.objects.get(pk=job.parameters["image"]))
    yield {"editor": editor, "viewer": viewer, "team": team, "model": model, "images": images}
    worker_runtime._models.clear()


def stored_settings(vector: EditVector) -> dict[str, Any]:
    """The engine settings recorded in a library vector's file (the config its job ran with)."""
    from editing_engine.vectors import load_vector

    return load_vector(vector.vector.path, expected_model_hash=vector.model.weights_hash).settings


def request(lab: dict[str, Any], job_type: str, parameters: dict[str, Any]) -> Job:
    """Request a job as the editor."""
    return services.create_job(lab["editor"], lab["team"], job_type, parameters)


def run(job: Job) -> Job:
    """Run a job in-process and return its final state."""
    execute_job(job.pk)
    job.refresh_from_db()
    return job


def annotate(lab: dict[str, Any], images: list[Image] | None = None) -> list[int]:
    """Save a face mask for each image (default: all three); returns the annotation version ids."""
    return [save_annotation_version(lab["editor"], image, png(face_mask(image)), None).pk
            for image in images or lab["images"]]


def trained_branch(lab: dict[str, Any]) -> SegmentationBranch:
    """Annotate the samples and train an active branch on them."""
    annotate(lab)
    job = run(request(lab, JobType.TRAIN_BRANCH, {"model": lab["model"].pk, **SMALL_BRANCH}))
    assert job.status == "succeeded", job.error_message
    return SegmentationBranch.objects.get(pk=job.result["branch"])


def session_with_mask_edit(lab: dict[str, Any]) -> StackEntry:
    """An edit session on the first sample whose stack holds one mask edit (a grown 'face')."""
    image = lab["images"][0]
    session = editsessions.create_session(lab["editor"], image)
    edited = face_mask(image)
    edited[4:12, 4:12] = 1
    session = editsessions.add_mask_edit_entry(lab["editor"], session, session.revision, png(edited))
    return session.entries.get()


def test_train_branch_records_an_active_branch_with_held_out_iou(lab: dict[str, Any]) -> None:
    versions = annotate(lab)
    job = run(request(lab, JobType.TRAIN_BRANCH, {"model": lab["model"].pk, "held_out": 1, **SMALL_BRANCH}))

    assert (job.status, job.error_message) == ("succeeded", ""), job.error_message
    assert (job.progress_step, job.progress_total) == (20, 20)
    branch = SegmentationBranch.objects.get(pk=job.result["branch"])
    assert branch.is_active and branch.job_id == job.pk and branch.created_by == lab["editor"]
    assert branch.model_id == lab["model"].pk and Path(branch.weights.path).is_file()
    held_out = branch.metrics["held_out"]
    trained_on = list(branch.trained_on.values_list("pk", flat=True))
    assert len(held_out) == 1 and sorted([*held_out, *trained_on]) == versions
    assert set(branch.metrics["per_label_iou"]) == {"background", "face"}
    assert 0.0 <= branch.metrics["mean_iou"] <= 1.0
    assert branch.config["num_members"] == 2 and branch.config["num_labels"] == 2


def test_train_branch_rerun_does_not_make_a_second_branch(lab: dict[str, Any]) -> None:
    annotate(lab)
    job = run(request(lab, JobType.TRAIN_BRANCH, {"model": lab["model"].pk, **SMALL_BRANCH}))
    Job.objects.filter(pk=job.pk).update(status="running")  # as if the message were delivered again

    run(job)
    assert SegmentationBranch.objects.count() == 1


def test_train_branch_requests_are_checked(lab: dict[str, Any]) -> None:
    model = lab["model"].pk
    with pytest.raises(InvalidInput) as nothing:
        request(lab, JobType.TRAIN_BRANCH, {"model": model})
    versions = annotate(lab)
    with pytest.raises(InvalidInput) as too_many:
        request(lab, JobType.TRAIN_BRANCH, {"model": model, "held_out": 3})
    with pytest.raises(InvalidInput) as unknown:
        request(lab, JobType.TRAIN_BRANCH, {"model": model, "annotations": [*versions, 999]})
    upload = create_uploaded_image(lab["editor"], lab["model"], png(np.zeros((16, 16, 3))), "no latent")
    annotate(lab, [upload])
    with pytest.raises(InvalidInput) as no_latent:
        request(lab, JobType.TRAIN_BRANCH, {"model": model})

    assert [e.value.code for e in (nothing, too_many, unknown, no_latent)] == [
        "no_annotations", "invalid_parameters", "not_found_in_team", "no_latent"]
    assert no_latent.value.details == {"images": [upload.pk]}


def test_optimize_edit_adds_a_library_vector_linked_to_its_mask_edit(lab: dict[str, Any]) -> None:
    from editing_engine.vectors import load_vector

    branch = trained_branch(lab)
    entry = session_with_mask_edit(lab)
    lab["model"].labels.filter(name="background").update(is_context=True)
    job = run(request(lab, JobType.OPTIMIZE_EDIT, {"entry": entry.pk, "steps": 3}))

    assert (job.status, job.error_message) == ("succeeded", ""), job.error_message
    assert job.parameters["branch"] == branch.pk
    vector = EditVector.objects.get(pk=job.result["vector"])
    entry.refresh_from_db()
    assert entry.result_vector_id == vector.pk and job.result["entry"] == entry.pk
    assert (vector.job_id, vector.author) == (job.pk, lab["editor"])
    assert vector.source_session_id == entry.session_id
    assert vector.source_image_id == lab["images"][0].pk and vector.model_id == lab["model"].pk
    assert len(vector.loss_curve) == 3 and vector.thumbnail_before and vector.thumbnail_after
    assert vector.name.startswith("Edit of")
    loaded = load_vector(vector.vector.path, expected_model_hash=lab["model"].weights_hash)
    assert tuple(loaded.delta.shape) == (6, 32) and loaded.source["job"] == job.pk
    assert loaded.settings["context_labels"] == [0]  # the taxonomy's context labels reached the engine

    with pytest.raises(Conflict):
        request(lab, JobType.OPTIMIZE_EDIT, {"entry": entry.pk})
    Job.objects.filter(pk=job.pk).update(status="running")
    run(job)
    assert EditVector.objects.count() == 1


def test_refine_makes_a_new_vector_for_the_sessions_image(lab: dict[str, Any]) -> None:
    trained_branch(lab)
    entry = session_with_mask_edit(lab)
    optimized = run(request(lab, JobType.OPTIMIZE_EDIT, {"entry": entry.pk, "steps": 2}))
    vector = EditVector.objects.get(pk=optimized.result["vector"])
    other = editsessions.create_session(lab["editor"], lab["images"][1])
    other = editsessions.add_vector_entry(lab["editor"], other, other.revision, vector, 1.5)
    vector_entry = other.entries.get()
    lab["model"].labels.filter(name="face").update(is_context=True)

    job = run(request(lab, JobType.REFINE, {"entry": vector_entry.pk, "steps": 2, "name": "refined"}))

    assert (job.status, job.error_message) == ("succeeded", ""), job.error_message
    refined = EditVector.objects.get(pk=job.result["vector"])
    assert refined.pk != vector.pk and refined.name == "refined"
    assert job.result["refined_from"] == vector.pk and refined.source_image_id == lab["images"][1].pk
    assert len(refined.loss_curve) == 2
    assert stored_settings(vector)["context_labels"] == []  # optimised before any label was marked
    assert stored_settings(refined)["context_labels"] == [1]  # the refinement ran with the context labels


def test_edit_jobs_need_a_branch_a_latent_and_the_right_entry(lab: dict[str, Any]) -> None:
    entry = session_with_mask_edit(lab)
    with pytest.raises(InvalidInput) as no_branch:
        request(lab, JobType.OPTIMIZE_EDIT, {"entry": entry.pk})
    trained_branch(lab)
    with pytest.raises(InvalidInput) as wrong_kind:
        request(lab, JobType.REFINE, {"entry": entry.pk})
    with pytest.raises(InvalidInput) as elsewhere:
        request(lab, JobType.OPTIMIZE_EDIT, {"entry": entry.pk + 100})
    assert [e.value.code for e in (no_branch, wrong_kind, elsewhere)] == [
        "no_branch", "wrong_entry_kind", "not_found_in_team"]


def test_edit_job_of_a_removed_entry_fails_with_a_clear_message(lab: dict[str, Any]) -> None:
    trained_branch(lab)
    entry = session_with_mask_edit(lab)
    job = request(lab, JobType.OPTIMIZE_EDIT, {"entry": entry.pk, "steps": 2})
    editsessions.remove_entry(lab["editor"], entry, entry.session.revision)

    job = run(job)
    assert job.status == "failed"
    assert job.error_message == "The edit-session entry this job works from was removed."
