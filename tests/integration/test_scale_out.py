"""Scale-out on one machine without containers: two daphne processes and two Celery workers on loopback.

They share the test database (PostgreSQL in CI), one Redis and one S3 bucket (moto's server),
as separate hosts would; the model directory is removed after registration, so the workers
load the model from the bucket by its weights hash. A
WebSocket client on each web process follows the same job and sees every event, whichever
worker runs it; two jobs run on the two workers at once; SIGKILLing the worker of one job
mid-run leaves that job finished by the other worker: its heartbeat stops, and the sweeper
(``manage.py sweep_jobs``, run beside the workers as in production) enqueues it again.
"""

from __future__ import annotations

import io
import json
import shutil
import threading
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from django.conf import settings
from django.test import Client
from PIL import Image as PILImage

from scripts.local_stack import StackProcess, free_port, start_daphne, stop, wait_for_port
from tests.integration.support import TERMINAL, Workers, wait_for
from tests.integration.ws_client import WebSocket
from tests.s3_server import S3Server
from webapp.assets.models import Image
from webapp.assets.services import create_uploaded_image, register_model
from webapp.jobs import services
from webapp.jobs.models import Job, JobType
from webapp.teams.models import Membership, Role, Team

pytestmark = [pytest.mark.integration, pytest.mark.timeout(600)]

# Long enough that the killed job is still running when the test has found its worker and kills
# it (60 steps once finished first on a loaded machine, 200 on an idle one while inspect still
# waited out its 2 s timeout).
STEPS = 300
JOB_TIMEOUT = 200.0


@pytest.fixture
def media_bucket(workers: Workers, s3_server: S3Server, settings: Any, tmp_path: Path) -> str:
    """Media storage in a bucket of a real S3 server, for the test process and every child process."""
    bucket = s3_server.create_bucket(f"scale-out-{uuid.uuid4().hex[:12]}")
    settings.STORAGES = {**settings.STORAGES, "default": s3_server.storage_setting(bucket)}
    workers.env.update({**s3_server.env(bucket), "PARTEDIT_CACHE_DIR": str(tmp_path / "worker-cache")})
    return bucket


@pytest.fixture
def web_ports(workers: Workers, media_bucket: str, tmp_path: Path) -> Iterator[list[int]]:
    """Two daphne processes with the workers' production environment, on free loopback ports."""
    # Sessions made by the test process must verify in the web processes: same signing key.
    env = {**workers.env, "SECRET_KEY": settings.SECRET_KEY}
    ports = [free_port(), free_port()]
    running: list[StackProcess] = []
    try:
        for index, port in enumerate(ports):
            with (tmp_path / f"daphne-{index}.log").open("wb") as log:
                running.append(start_daphne(port, env, log))
        for port, process in zip(ports, running, strict=True):
            wait_for_port(port, process, timeout=120)
        yield ports
    finally:
        stop(running)


def photo(seed: int) -> bytes:
    """A random 16 px RGB PNG."""
    buffer = io.BytesIO()
    pixels = np.random.default_rng(seed).integers(0, 255, (16, 16, 3), dtype=np.uint8)
    PILImage.fromarray(pixels).save(buffer, "PNG")
    return buffer.getvalue()


class Follower(threading.Thread):
    """Reads one job's socket on one web process until the job's terminal status."""

    def __init__(self, port: int, job: Job, cookie: str) -> None:
        super().__init__(daemon=True)
        self.socket = WebSocket(port, f"/ws/jobs/{job.pk}/",
                                {"Origin": f"http://127.0.0.1:{port}", "Cookie": f"sessionid={cookie}"})
        self.messages: list[dict[str, Any]] = [self.socket.receive_json()]
        self.error: BaseException | None = None

    def run(self) -> None:
        """Collect messages until a terminal status."""
        try:
            while not self.finished():
                self.messages.append(self.socket.receive_json())
        except BaseException as error:  # reported by the test
            self.error = error
        finally:
            self.socket.close()

    def finished(self) -> bool:
        """Whether the last message is a terminal status."""
        last = self.messages[-1]
        return last["type"] in ("status", "snapshot") and last["status"] in TERMINAL


def worker_health(port: int) -> dict[str, Any] | None:
    """A worker's /healthz document, or None while its listener is not up yet."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5) as response:
            return json.loads(response.read())
    except OSError:
        return None


def running_jobs(workers: Workers) -> dict[int, str]:
    """Job id -> node name of every job a worker is executing now (Celery's inspect ``active``)."""
    # limit: return as soon as both workers have answered instead of waiting out the timeout.
    active = workers.app.control.inspect(timeout=2.0, limit=2).active() or {}
    return {int(task["args"][0]): node for node, tasks in active.items() for task in tasks}


def test_two_web_processes_and_two_workers_share_jobs_events_and_failover(
    workers: Workers, web_ports: list[int], labelled_model_dir: Path, django_user_model: Any,
    s3_server: S3Server, media_bucket: str,
) -> None:
    for port in web_ports:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=10) as response:
            assert json.loads(response.read())["checks"] == {"database": "ok", "redis": "ok"}
    # A job whose worker stops beating for 3 s is lost; the sweeper (every second) runs it again.
    workers.env.update({"JOBS_HEARTBEAT_SECONDS": "0.5", "JOBS_HEARTBEAT_TIMEOUT": "3",
                        "JOBS_SWEEP_SECONDS": "1"})
    processes, health_ports = {}, {}
    for name in ("a", "b"):
        health_ports[name] = free_port()
        workers.env["PARTEDIT_WORKER_HEALTH_PORT"] = str(health_ports[name])
        processes[name] = workers.start(name)
    for name, port in health_ports.items():
        document = wait_for(lambda port=port: worker_health(port), 30, f"worker {name}'s /healthz",
                            workers.report)
        assert document["status"] == "ok" and document["node"].startswith(f"it-{name}-"), document
    workers.start_sweeper()
    editor = django_user_model.objects.create_user(username="editor", password="pw")
    team = Team.objects.create(name="Lab", slug="lab")
    Membership.objects.create(team=team, user=editor, role=Role.EDITOR)
    model, _ = register_model(team, labelled_model_dir, "tiny")
    # As on a worker host: the model directory is not there; workers fetch it from the bucket.
    shutil.rmtree(labelled_model_dir)
    images = [create_uploaded_image(editor, model, photo(seed), f"photo {seed}") for seed in (1, 2)]
    browser = Client()
    browser.force_login(editor)
    cookie = browser.cookies["sessionid"].value

    jobs = [services.create_job(editor, team, JobType.EMBED_IMAGE, {"image": image.pk, "steps": STEPS})
            for image in images]
    followers = [Follower(port, jobs[0], cookie) for port in web_ports]
    for follower in followers:
        follower.start()

    # Both workers busy at once: prefetch 1 and one process each spread the two jobs over them.
    placement = wait_for(lambda: (found := running_jobs(workers)) and len(set(found.values())) == 2 and found,
                         JOB_TIMEOUT, "both jobs running on different workers", workers.report)
    assert set(placement) == {job.pk for job in jobs}
    victim = placement[jobs[0].pk].split("-")[1]  # node names are it-<name>-<pid>@integration
    wait_for(lambda: Job.objects.get(pk=jobs[0].pk).progress_step >= 5, JOB_TIMEOUT, "progress",
             workers.report)
    workers.kill(processes[victim])
    killed_at = Job.objects.get(pk=jobs[0].pk)
    assert killed_at.status == "running" and killed_at.progress_step < STEPS

    done = [wait_for(lambda job=job: (j := Job.objects.get(pk=job.pk)).is_terminal and j, JOB_TIMEOUT,
                     f"job {job.pk} to finish", workers.report) for job in jobs]
    assert [(job.status, job.progress_step) for job in done] == [("succeeded", STEPS)] * 2, workers.report()
    assert done[0].attempts == 2 and done[1].attempts == 1
    for image in images:
        stored = Image.objects.get(pk=image.pk)
        assert stored.status == "ready" and stored.latent.name in s3_server.keys(media_bucket)

    for follower in followers:
        follower.join(timeout=60)
        assert follower.error is None, follower.error
        kinds = [message["type"] for message in follower.messages]
        assert kinds[0] == "snapshot" and "progress" in kinds, kinds
        assert follower.messages[-1]["status"] == "succeeded"
    # Each web process relayed the events the workers published, the killed one's and the survivor's.
    seen = [{(m["attempts"], m["step"]) for m in f.messages if m["type"] == "progress"} for f in followers]
    assert {attempt for attempt, _ in seen[0] & seen[1]} == {1, 2}, seen
