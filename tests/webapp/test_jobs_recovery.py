"""Lost jobs: heartbeats, the sweeper (re-run, fail, re-send), cancelling a job whose worker is gone."""

from __future__ import annotations

import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.utils import timezone

from tests.webapp.factories import embed_job, render_job, uploaded_image
from webapp.assets.models import Image
from webapp.jobs import heartbeat, services
from webapp.jobs.execution import claim_job, execute_job
from webapp.jobs.models import Job, JobStatus
from webapp.jobs.recovery import SweepReport, sweep

pytestmark = pytest.mark.django_db


@pytest.fixture
def lab(make_user: Any, make_team: Any, labelled_model_dir: Path, settings: Any) -> Any:
    """An editor in a team whose registered model is the tiny generator; the worker runs on CPU."""
    from webapp import worker_runtime
    from webapp.assets.services import register_model
    from webapp.teams.models import Role

    settings.PARTEDIT_DEVICE = "cpu"
    editor = make_user("editor")
    team = make_team("Lab", {editor: Role.EDITOR})
    model, _ = register_model(team, labelled_model_dir, "tiny")
    yield {"editor": editor, "team": team, "model": model}
    worker_runtime._models.clear()


@pytest.fixture
def sent(monkeypatch: Any) -> list[int]:
    """Ids of the jobs whose message is sent to the broker (nothing reaches a real one)."""
    messages: list[int] = []
    monkeypatch.setattr(services.run_job, "apply_async", lambda args, **_: messages.append(args[0]))
    return messages


def long_ago(seconds: float = 600) -> Any:
    """A moment well before every timeout."""
    return timezone.now() - timedelta(seconds=seconds)


def running_on_a_dead_worker(job: Job, attempts: int = 1, **fields: Any) -> Job:
    """Make ``job`` look claimed by a worker that stopped beating long ago."""
    Job.objects.filter(pk=job.pk).update(status=JobStatus.RUNNING, attempts=attempts, started_at=long_ago(),
                                         heartbeat_at=long_ago(), progress_step=7, **fields)
    return Job.objects.get(pk=job.pk)


def test_a_running_job_whose_heartbeat_stopped_is_queued_and_sent_again(lab: dict[str, Any], sent: list[int]
                                                                        ) -> None:
    job = running_on_a_dead_worker(render_job(lab))
    sent.clear()

    report = sweep(live_task_ids=lambda queues: set())

    job.refresh_from_db()
    assert report.requeued == [job.pk] and sent == [job.pk]
    assert (job.status, job.attempts, job.progress_step) == ("queued", 1, 0)
    execute_job(job.pk)
    job.refresh_from_db()
    assert (job.status, job.attempts) == ("succeeded", 2)


def test_a_job_whose_worker_died_too_often_fails_with_a_clear_message(lab: dict[str, Any], sent: list[int],
                                                                      settings: Any) -> None:
    image = uploaded_image(lab)
    job = running_on_a_dead_worker(embed_job(lab, image), attempts=settings.JOBS_MAX_ATTEMPTS)
    Image.objects.filter(pk=image.pk).update(status=Image.Status.PROCESSING)

    report = sweep(live_task_ids=lambda queues: set())

    job.refresh_from_db()
    assert report.failed == [job.pk] and job.status == "failed"
    assert "stopped responding 3 times" in job.error_message and "heartbeat" in job.error_message
    image.refresh_from_db()
    assert image.status == Image.Status.FAILED


def test_a_job_with_a_fresh_heartbeat_is_left_alone(lab: dict[str, Any], sent: list[int]) -> None:
    job = running_on_a_dead_worker(render_job(lab))
    Job.objects.filter(pk=job.pk).update(heartbeat_at=timezone.now())

    assert sweep(live_task_ids=lambda queues: set()) == SweepReport()
    assert Job.objects.get(pk=job.pk).status == "running"
    # A second delivery of its message (a redelivery, a re-send) does not run it twice either.
    assert claim_job(job.pk) is None


def test_a_queued_job_without_a_broker_message_is_sent_again(lab: dict[str, Any], sent: list[int]) -> None:
    lost, waiting, young = render_job(lab, 1), render_job(lab, 2), render_job(lab, 3)
    Job.objects.filter(pk__in=[lost.pk, waiting.pk]).update(created_at=long_ago())
    sent.clear()

    report = sweep(live_task_ids=lambda queues: {waiting.celery_task_id})

    assert report.resent == [lost.pk] and sent == [lost.pk]
    # Sent again, it waits another timeout before the sweeper looks at it again.
    assert sweep(live_task_ids=lambda queues: {waiting.celery_task_id}).resent == []
    assert young.pk not in sent


def test_queued_jobs_stay_as_they_are_when_the_broker_cannot_be_read(lab: dict[str, Any], sent: list[int]
                                                                     ) -> None:
    job = render_job(lab)
    Job.objects.filter(pk=job.pk).update(created_at=long_ago())
    sent.clear()

    assert sweep(live_task_ids=lambda queues: None).resent == [] and sent == []


def test_cancelling_a_job_whose_worker_is_gone_ends_it(lab: dict[str, Any], sent: list[int]) -> None:
    image = uploaded_image(lab)
    job = running_on_a_dead_worker(embed_job(lab, image))
    Image.objects.filter(pk=image.pk).update(status=Image.Status.PROCESSING)

    answer = services.request_cancel(lab["editor"], job)

    assert (answer.status, answer.cancel_requested) == ("cancelled", True)
    image.refresh_from_db()
    assert image.status == Image.Status.PENDING


def test_cancelling_a_job_on_a_live_worker_only_sets_the_flag(lab: dict[str, Any], sent: list[int]) -> None:
    job = running_on_a_dead_worker(render_job(lab))
    Job.objects.filter(pk=job.pk).update(heartbeat_at=timezone.now())

    answer = services.request_cancel(lab["editor"], job)

    assert (answer.status, answer.cancel_requested) == ("running", True)


@pytest.mark.django_db(transaction=True)
def test_the_heartbeat_thread_beats_while_the_block_runs(lab: dict[str, Any], settings: Any) -> None:
    settings.JOBS_HEARTBEAT_SECONDS = 0.05
    job = running_on_a_dead_worker(render_job(lab))

    with heartbeat.beating(job.pk):
        deadline = time.monotonic() + 10
        while Job.objects.get(pk=job.pk).heartbeat_at < long_ago(60) and time.monotonic() < deadline:
            time.sleep(0.05)

    assert not heartbeat.is_stale(Job.objects.get(pk=job.pk))
