"""The worker side of jobs, run in-process: claim, engine call, idempotent store, failures, progress."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image as PILImage

from tests.webapp.factories import embed_job, render_job, uploaded_image
from webapp.assets.models import GeneratorModel, Image
from webapp.assets.services import register_model
from webapp.jobs import execution, services
from webapp.jobs.execution import complete_job, execute_job, failure_message
from webapp.jobs.models import Job, JobStatus
from webapp.jobs.progress import JobHooks
from webapp.jobs.tasks import run_job
from webapp.teams.models import Role

pytestmark = pytest.mark.django_db


@pytest.fixture
def lab(make_user: Any, make_team: Any, labelled_model_dir: Path, settings: Any) -> dict[str, Any]:
    """An editor in a team whose registered model is the tiny generator; the worker runs on CPU."""
    from webapp import worker_runtime

    settings.PARTEDIT_DEVICE = "cpu"
    editor = make_user("editor")
    team = make_team("Lab", {editor: Role.EDITOR})
    model, _ = register_model(team, labelled_model_dir, "tiny")
    yield {"editor": editor, "team": team, "model": model}
    worker_runtime._models.clear()


def test_render_job_stores_pixels_and_latent_of_the_sample(lab: dict[str, Any]) -> None:

    from editing_engine.checkpoints import load_generator
    from editing_engine.rendering import render_seed
    from editing_engine.vectors import load_latent

    job = render_job(lab)
    run_job.apply(args=(job.pk,))

    job.refresh_from_db()
    image = Image.objects.get(pk=job.parameters["image"])
    assert (job.status, job.error_message, job.attempts) == ("succeeded", "", 1)
    assert job.result == {"image": image.pk}
    assert (job.progress_step, job.progress_total) == (1, 1)
    assert job.started_at <= job.finished_at
    assert image.status == "ready"
    loaded = load_generator(lab["model"].path)
    expected = render_seed(loaded.generator, 5, 0.7)
    with PILImage.open(image.normalized.path) as stored:
        assert (stored.size, stored.mode) == ((16, 16), "RGB")
        assert (np.asarray(stored) == expected).all()
    ws = load_latent(image.latent.path, expected_model_hash=lab["model"].weights_hash)
    assert tuple(ws.shape) == (1, 6, 32)


def test_running_a_finished_job_again_changes_nothing(lab: dict[str, Any]) -> None:
    job = render_job(lab)
    execute_job(job.pk)
    image = Image.objects.get(pk=job.parameters["image"])
    files = (image.normalized.name, image.latent.name)

    execute_job(job.pk)

    job.refresh_from_db()
    image.refresh_from_db()
    assert (job.status, job.attempts) == ("succeeded", 1)
    assert (image.normalized.name, image.latent.name) == files
    assert Image.objects.count() == 1


def test_a_redelivered_running_job_runs_again_and_stores_once(lab: dict[str, Any]) -> None:
    job = render_job(lab)
    # The first worker claimed it and died before finishing.
    Job.objects.filter(pk=job.pk).update(status=JobStatus.RUNNING, attempts=1)

    execute_job(job.pk)

    job.refresh_from_db()
    assert (job.status, job.attempts) == ("succeeded", 2)
    assert Image.objects.filter(status="ready").count() == 1


def test_store_runs_once_when_two_deliveries_complete_the_same_job(lab: dict[str, Any]) -> None:
    job = render_job(lab)
    claimed = execution.claim_job(job.pk)
    assert claimed is not None
    stores: list[int] = []

    def store(job: Job, output: Any) -> dict[str, Any]:
        stores.append(output)
        return {"n": output}

    complete_job(claimed, store, 1)
    complete_job(claimed, store, 2)

    job.refresh_from_db()
    assert stores == [1] and job.result == {"n": 1} and job.status == "succeeded"


def test_a_failing_store_leaves_no_success_behind(lab: dict[str, Any]) -> None:
    job = render_job(lab)
    claimed = execution.claim_job(job.pk)

    def store(job: Job, output: Any) -> dict[str, Any]:
        Image.objects.filter(pk=job.parameters["image"]).update(name="half-written")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError):
        complete_job(claimed, store, None)
    job.refresh_from_db()
    assert job.status == "running" and job.result == {}
    assert Image.objects.get(pk=job.parameters["image"]).name != "half-written"


def test_job_whose_cancel_was_requested_before_it_started_is_not_run(lab: dict[str, Any]) -> None:
    job = render_job(lab)
    Job.objects.filter(pk=job.pk).update(cancel_requested=True)

    execute_job(job.pk)

    job.refresh_from_db()
    assert (job.status, job.attempts) == ("cancelled", 0)
    assert Image.objects.get(pk=job.parameters["image"]).status == "pending"


def test_a_job_that_keeps_killing_its_worker_is_failed_after_the_attempt_limit(
    lab: dict[str, Any], settings: Any
) -> None:
    settings.JOBS_MAX_ATTEMPTS = 2
    job = render_job(lab)
    Job.objects.filter(pk=job.pk).update(status=JobStatus.RUNNING, attempts=2)

    execute_job(job.pk)

    job.refresh_from_db()
    assert job.status == "failed" and "stopped 2 times" in job.error_message


def test_engine_error_is_stored_as_its_message_and_marks_the_image_failed(lab: dict[str, Any]) -> None:
    job = render_job(lab)
    GeneratorModel.objects.filter(pk=lab["model"].pk).update(weights_hash="f" * 64)

    execute_job(job.pk)

    job.refresh_from_db()
    image = Image.objects.get(pk=job.parameters["image"])
    assert job.status == "failed" and job.error_message.startswith("The weights at ")
    assert (image.status, image.status_message) == ("failed", job.error_message)


def test_missing_checkpoint_reports_the_engines_message(lab: dict[str, Any], tmp_path: Path) -> None:
    job = render_job(lab)
    GeneratorModel.objects.filter(pk=lab["model"].pk).update(path=str(tmp_path / "gone"))

    execute_job(job.pk)

    job.refresh_from_db()
    assert job.status == "failed" and "gone" in job.error_message
    assert not job.error_message.startswith("CheckpointError")


def test_unexpected_errors_name_their_class() -> None:
    from editing_engine.checkpoints import CheckpointError

    assert failure_message(KeyError("image")) == "KeyError: 'image'"
    assert failure_message(ZeroDivisionError()) == "ZeroDivisionError"
    assert failure_message(CheckpointError("weights missing")) == "weights missing"


def test_missing_job_is_a_no_op(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="webapp.jobs.execution"):
        execute_job(123456)

    assert "job 123456 does not exist" in caplog.text
    assert not Job.objects.exists()


def test_embed_job_stores_the_latent_and_its_quality(lab: dict[str, Any]) -> None:
    from editing_engine.vectors import load_latent

    image = uploaded_image(lab)
    job = embed_job(lab, image, steps=6)
    run_job.apply(args=(job.pk,))

    job.refresh_from_db()
    image.refresh_from_db()
    assert (job.status, job.result, job.error_message) == ("succeeded", {"image": image.pk}, "")
    assert (job.progress_step, job.progress_total) == (6, 6) and job.progress_loss is not None
    assert image.status == "ready" and image.embedding_error is not None and image.embedding_error >= 0
    assert image.embedding_metrics["steps"] == 6 and image.embedding_metrics["encoder"] is False
    ws = load_latent(image.latent.path, expected_model_hash=lab["model"].weights_hash)
    assert tuple(ws.shape) == (1, 6, 32)


def test_embedding_cancelled_between_steps_ends_cancelled_and_keeps_the_image_as_it_was(
    lab: dict[str, Any], settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings.JOBS_CANCEL_POLL_SECONDS = 0.0
    settings.JOBS_PROGRESS_EVERY_STEPS = 1
    image = uploaded_image(lab)
    job = embed_job(lab, image, steps=200)
    steps_seen: list[int] = []
    report = JobHooks.progress

    def progress_then_cancel(hooks: JobHooks, step: int, total: int, loss: float) -> None:
        report(hooks, step, total, loss)
        steps_seen.append(step)
        if step == 3:  # a user presses cancel while the job runs
            services.request_cancel(lab["editor"], Job.objects.get(pk=job.pk))

    monkeypatch.setattr(JobHooks, "progress", progress_then_cancel)
    execute_job(job.pk)

    job.refresh_from_db()
    image.refresh_from_db()
    assert steps_seen == [1, 2, 3]
    assert (job.status, job.progress_step, job.result) == ("cancelled", 3, {})
    assert (image.status, bool(image.latent)) == ("pending", False)


def test_a_cancel_that_arrives_after_the_last_step_still_wins(lab: dict[str, Any],
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    image = uploaded_image(lab)
    job = embed_job(lab, image, steps=2)
    report = JobHooks.progress

    def progress_then_cancel(hooks: JobHooks, step: int, total: int, loss: float) -> None:
        report(hooks, step, total, loss)
        if step == total:  # after the engine's last cancel check
            services.request_cancel(lab["editor"], Job.objects.get(pk=job.pk))

    monkeypatch.setattr(JobHooks, "progress", progress_then_cancel)
    execute_job(job.pk)

    job.refresh_from_db()
    image.refresh_from_db()
    assert (job.status, job.result, job.progress_step) == ("cancelled", {}, 2)
    assert (image.status, bool(image.latent)) == ("pending", False)


def test_embedding_an_image_twice_at_once_is_refused(lab: dict[str, Any]) -> None:
    from webapp.errors import Conflict

    image = uploaded_image(lab)
    first = embed_job(lab, image)
    with pytest.raises(Conflict) as error:
        embed_job(lab, image)
    assert error.value.details == {"job": first.pk}


# --- progress and cancel callbacks -------------------------------------------------------------


class FakeClock:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def running_job(lab: dict[str, Any]) -> Job:
    """A claimed (running) job."""
    claimed = execution.claim_job(render_job(lab).pk)
    assert claimed is not None
    return claimed


def stored_step(job: Job) -> int:
    """The progress step the database holds for ``job``."""
    return Job.objects.get(pk=job.pk).progress_step


def test_progress_is_written_every_few_steps_by_time_and_at_the_end(running_job: Job, settings: Any) -> None:
    settings.JOBS_PROGRESS_EVERY_STEPS = 5
    settings.JOBS_PROGRESS_EVERY_SECONDS = 2.0
    clock = FakeClock()
    hooks = JobHooks(running_job, clock)

    written = []
    for step in range(1, 13):
        clock.now += 0.1
        hooks.progress(step, 100, 1.0 / step)
        written.append(stored_step(running_job))
    assert written == [0, 0, 0, 0, 5, 5, 5, 5, 5, 10, 10, 10]

    clock.now += 2.0
    hooks.progress(13, 100, 0.5)
    assert stored_step(running_job) == 13
    hooks.progress(100, 100, 0.25)
    stored = Job.objects.get(pk=running_job.pk)
    assert (stored.progress_step, stored.progress_total, stored.progress_loss) == (100, 100, 0.25)


def test_progress_of_a_finished_job_is_not_overwritten(running_job: Job) -> None:
    Job.objects.filter(pk=running_job.pk).update(status=JobStatus.CANCELLED)
    JobHooks(running_job).progress(100, 100, 0.0)
    assert stored_step(running_job) == 0


def test_cancel_flag_is_polled_at_the_configured_interval(running_job: Job, settings: Any) -> None:
    settings.JOBS_CANCEL_POLL_SECONDS = 1.0
    clock = FakeClock()
    hooks = JobHooks(running_job, clock)
    assert hooks.should_cancel() is False

    Job.objects.filter(pk=running_job.pk).update(cancel_requested=True)
    clock.now += 0.5
    assert hooks.should_cancel() is False  # not polled again yet
    clock.now += 0.5
    assert hooks.should_cancel() is True
    assert hooks.should_cancel() is True
