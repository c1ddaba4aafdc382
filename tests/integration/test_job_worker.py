"""Jobs on real Celery worker processes and a real Redis: completion, cancel, and a worker killed mid-job.

The long job is a real embedding with many steps on the tiny 16 px test generator.
"""

from __future__ import annotations

import io
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from django.db import transaction
from django.utils import timezone
from PIL import Image as PILImage

from tests.integration.support import VISIBILITY_TIMEOUT, JobEvents, Workers, wait_for
from webapp.assets.models import Image
from webapp.assets.services import create_uploaded_image, register_model
from webapp.jobs import services
from webapp.jobs.models import Job, JobStatus, JobType
from webapp.teams.models import Membership, Role, Team

pytestmark = [pytest.mark.integration, pytest.mark.timeout(600)]

JOB_TIMEOUT = 300.0


@pytest.fixture
def lab(workers: Workers, labelled_model_dir: Path, django_user_model: Any) -> dict[str, Any]:
    """An editor, their team with the tiny model registered, and one uploaded photo."""
    editor = django_user_model.objects.create_user(username="editor", password="pw")
    team = Team.objects.create(name="Lab", slug="lab")
    Membership.objects.create(team=team, user=editor, role=Role.EDITOR)
    model, _ = register_model(team, labelled_model_dir, "tiny")
    buffer = io.BytesIO()
    pixels = np.random.default_rng(1).integers(0, 255, (16, 16, 3), dtype=np.uint8)
    PILImage.fromarray(pixels).save(buffer, "PNG")
    image = create_uploaded_image(editor, model, buffer.getvalue(), "photo")
    return {"editor": editor, "team": team, "model": model, "image": image}


def request(lab: dict[str, Any], job_type: str, parameters: dict[str, Any]) -> Job:
    """Request a job as the editor; it is enqueued when this returns (autocommit)."""
    return services.create_job(lab["editor"], lab["team"], job_type, parameters)


def job_state(job: Job) -> Job:
    """The job as the database holds it now."""
    return Job.objects.get(pk=job.pk)


def finished(job: Job) -> Job | None:
    """The job if it reached a terminal status, else None."""
    current = job_state(job)
    return current if current.is_terminal else None


def test_jobs_run_to_completion_and_stream_their_events(workers: Workers, lab: dict[str, Any], redis_url: str
                                                         ) -> None:
    workers.start("a")
    with transaction.atomic():
        embed = request(lab, JobType.EMBED_IMAGE, {"image": lab["image"].pk, "steps": 20})
        # Subscribed before the job is committed and enqueued, so no event can be missed.
        events = JobEvents(redis_url, embed.group_name)
    render = request(lab, JobType.RENDER, {"model": lab["model"].pk, "seed": 11, "psi": 0.5})

    messages = events.until_finished(JOB_TIMEOUT)
    done = wait_for(lambda: finished(render), JOB_TIMEOUT, "the render job", workers.report)
    embed = job_state(embed)

    assert (embed.status, embed.attempts, embed.error_message) == ("succeeded", 1, ""), workers.report()
    assert (embed.progress_step, embed.progress_total) == (20, 20)
    image = Image.objects.get(pk=lab["image"].pk)
    assert image.status == "ready" and image.latent and Path(image.latent.path).is_file()
    assert [m["status"] for m in messages if m["type"] == "job.status"] == ["running", "succeeded"]
    steps = [m["step"] for m in messages if m["type"] == "job.progress"]
    assert steps == sorted(steps) and steps[-1] == 20 and len(steps) >= 4
    assert messages[-1]["result"] == {"image": image.pk}

    assert done.status == "succeeded" and done.queue == "preview", workers.report()
    sample = Image.objects.get(pk=done.result["image"])
    assert sample.status == "ready" and sample.seed == 11 and Path(sample.normalized.path).is_file()


def test_cancelling_a_running_job_ends_it_cancelled(workers: Workers, lab: dict[str, Any]) -> None:
    worker = workers.start("a")
    job = request(lab, JobType.EMBED_IMAGE, {"image": lab["image"].pk, "steps": 5000})
    wait_for(lambda: job_state(job).progress_step >= 10, JOB_TIMEOUT, "progress", workers.report)

    services.request_cancel(lab["editor"], job_state(job))

    job = wait_for(lambda: finished(job), 60, "the job to stop", workers.report)
    assert job.status == "cancelled", workers.report()
    assert 10 <= job.progress_step < 5000 and job.result == {}
    image = Image.objects.get(pk=lab["image"].pk)
    assert image.status == "pending" and not image.latent
    assert worker.alive()


def test_job_of_a_killed_worker_finishes_on_a_second_worker(workers: Workers, lab: dict[str, Any]) -> None:
    first = workers.start("a")
    job = request(lab, JobType.EMBED_IMAGE, {"image": lab["image"].pk, "steps": 600})
    wait_for(lambda: job_state(job).progress_step >= 10, JOB_TIMEOUT, "progress", workers.report)

    workers.kill(first)
    killed_at = job_state(job)
    assert (killed_at.status, killed_at.attempts) == ("running", 1)
    assert killed_at.progress_step < 600, "the job finished before the worker was killed; make it longer"

    # Redis hands an unacknowledged message out again once its visibility timeout has passed.
    delivered_for = (timezone.now() - killed_at.started_at).total_seconds()
    time.sleep(max(0.0, VISIBILITY_TIMEOUT + 1 - delivered_for))
    workers.start("b")

    job = wait_for(lambda: finished(job), JOB_TIMEOUT, "the job to finish on worker b", workers.report)
    assert (job.status, job.attempts, job.progress_step) == ("succeeded", 2, 600), workers.report()
    image = Image.objects.get(pk=lab["image"].pk)
    assert image.status == "ready" and image.latent
    assert Job.objects.filter(status=JobStatus.RUNNING).count() == 0
