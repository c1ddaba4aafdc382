"""Lost jobs with real processes: a whole worker SIGKILLed and Redis emptied, a queued job without a
message, and cancelling a job whose worker is gone. The sweeper (``manage.py sweep_jobs``) runs as
its own process, as in the demo and in production.

Redis' redelivery cannot help here: the visibility timeout is an hour, and the broker is flushed
(what a restart of a Redis without persistence does), so only heartbeats and the sweeper recover.
"""

from __future__ import annotations

import io
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import redis
from PIL import Image as PILImage

from tests.integration.support import HEARTBEAT_TIMEOUT, Workers, wait_for
from webapp.assets.models import Image
from webapp.assets.services import create_uploaded_image, register_model
from webapp.jobs import services
from webapp.jobs.models import Job, JobType
from webapp.teams.models import Membership, Role, Team

pytestmark = [pytest.mark.integration, pytest.mark.timeout(600)]

JOB_TIMEOUT = 300.0


@pytest.fixture
def lab(workers: Workers, labelled_model_dir: Path, django_user_model: Any, settings: Any) -> dict[str, Any]:
    """An editor, the tiny model, one photo; workers beat every 0.5 s and count as gone after 3 s."""
    workers.env.update({"CELERY_VISIBILITY_TIMEOUT": "3600", "JOBS_SWEEP_SECONDS": "1"})
    settings.JOBS_HEARTBEAT_TIMEOUT = HEARTBEAT_TIMEOUT
    editor = django_user_model.objects.create_user(username="editor", password="pw")
    team = Team.objects.create(name="Lab", slug="lab")
    Membership.objects.create(team=team, user=editor, role=Role.EDITOR)
    model, _ = register_model(team, labelled_model_dir, "tiny")
    buffer = io.BytesIO()
    pixels = np.random.default_rng(1).integers(0, 255, (16, 16, 3), dtype=np.uint8)
    PILImage.fromarray(pixels).save(buffer, "PNG")
    image = create_uploaded_image(editor, model, buffer.getvalue(), "photo")
    return {"editor": editor, "team": team, "model": model, "image": image}


def job_state(job: Job) -> Job:
    """The job as the database holds it now."""
    return Job.objects.get(pk=job.pk)


def running_on_a_killed_worker(workers: Workers, lab: dict[str, Any], steps: int) -> Job:
    """An embedding that was running when its whole worker was SIGKILLed."""
    first = workers.start("a")
    job = services.create_job(lab["editor"], lab["team"], JobType.EMBED_IMAGE,
                              {"image": lab["image"].pk, "steps": steps})
    wait_for(lambda: job_state(job).progress_step >= 10, JOB_TIMEOUT, "progress", workers.report)
    workers.kill(first)
    killed = job_state(job)
    assert (killed.status, killed.attempts) == ("running", 1), workers.report()
    assert killed.progress_step < steps, "the job finished before its worker was killed; make it longer"
    return killed


def test_sweeper_reruns_a_killed_workers_job_and_resends_a_job_without_message(
    workers: Workers, lab: dict[str, Any], redis_url: str
) -> None:
    embed = running_on_a_killed_worker(workers, lab, steps=600)
    render = services.create_job(lab["editor"], lab["team"], JobType.RENDER,
                                 {"model": lab["model"].pk, "seed": 4, "psi": 0.5})
    # Redis restarts empty: the embedding's unacknowledged message and the render's message are gone.
    redis.Redis.from_url(redis_url).flushdb()
    assert Image.objects.get(pk=lab["image"].pk).status == "processing"

    workers.start_sweeper()
    workers.start("b")

    for job in (embed, render):
        wait_for(lambda job=job: job_state(job).is_terminal, JOB_TIMEOUT, f"job {job.pk} to finish",
                 workers.report)
    embed, render = job_state(embed), job_state(render)
    assert (embed.status, embed.attempts, embed.progress_step) == ("succeeded", 2, 600), workers.report()
    assert (render.status, render.attempts) == ("succeeded", 1), workers.report()
    assert Image.objects.get(pk=lab["image"].pk).status == "ready"
    # What an operator sees in the sweeper's log.
    assert "queued again for attempt 2" in workers.report()
    assert "queued with no broker message" in workers.report()


def test_cancelling_a_job_whose_worker_is_gone_ends_it_at_once(workers: Workers, lab: dict[str, Any]) -> None:
    job = running_on_a_killed_worker(workers, lab, steps=5000)
    time.sleep(HEARTBEAT_TIMEOUT + 0.5)

    answer = services.request_cancel(lab["editor"], job)

    assert answer.status == "cancelled" and answer.finished_at is not None
    assert Image.objects.get(pk=lab["image"].pk).status == "pending"
