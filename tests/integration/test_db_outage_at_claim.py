"""The database unreachable at the moment a worker claims a job (issue #11, item 4a), with real processes.

The worker and the sweeper reach PostgreSQL through a TCP proxy the test controls
(tests/integration/tcp_proxy.py). The proxy is taken down, a job is submitted, and the worker
takes its message and fails to claim it: Celery acknowledges the failed task, so the job is
`queued` with no broker message, the state that used to hold the team's GPU quota for good.
Once the database is back the sweeper, which kept running through the outage, sends the job
again and it runs.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import pytest
from django.db import connection

from tests.integration.support import Workers, wait_for, worker_database_url
from tests.integration.tcp_proxy import TcpProxy
from webapp.assets.services import register_model
from webapp.jobs import services
from webapp.jobs.models import Job, JobType
from webapp.jobs.recovery import broker_task_ids
from webapp.teams.models import Membership, Role, Team

pytestmark = [pytest.mark.integration, pytest.mark.timeout(600)]

JOB_TIMEOUT = 300.0


@pytest.fixture
def proxy(transactional_db: None) -> Iterator[TcpProxy]:
    """A proxy in front of the test's PostgreSQL."""
    if connection.vendor != "postgresql":
        pytest.skip("cuts a PostgreSQL connection: runs on PostgreSQL (CI)")
    database = connection.settings_dict
    running = TcpProxy((database["HOST"] or "127.0.0.1", int(database["PORT"] or 5432)))
    try:
        yield running
    finally:
        running.close()


def through(proxy: TcpProxy) -> str:
    """The test database's URL with the proxy as its host."""
    parts = urlsplit(worker_database_url())
    credentials = parts.netloc.rpartition("@")[0]
    netloc = f"{credentials}@127.0.0.1:{proxy.port}" if credentials else f"127.0.0.1:{proxy.port}"
    return urlunsplit(parts._replace(netloc=netloc))


def test_a_job_whose_claim_met_a_database_outage_runs_once_it_is_back(
    workers: Workers, proxy: TcpProxy, redis_url: str, labelled_model_dir: Path, django_user_model: Any,
    settings: Any,
) -> None:
    settings.CELERY_BROKER_URL = redis_url  # broker_task_ids reads the real broker
    editor = django_user_model.objects.create_user(username="editor", password="pw")
    team = Team.objects.create(name="Lab", slug="lab")
    Membership.objects.create(team=team, user=editor, role=Role.EDITOR)
    model, _ = register_model(team, labelled_model_dir, "tiny")
    workers.env.update({"DATABASE_URL": through(proxy), "JOBS_SWEEP_SECONDS": "1"})
    workers.start("a")
    workers.start_sweeper()

    proxy.take_down()
    job = services.create_job(editor, team, JobType.RENDER, {"model": model.pk, "seed": 4, "psi": 0.5})

    def message_consumed_by_a_failed_claim() -> bool:
        live = broker_task_ids([job.queue])
        return live is not None and job.celery_task_id not in live and "OperationalError" in workers.report()

    wait_for(message_consumed_by_a_failed_claim, JOB_TIMEOUT, "the worker to fail claiming the job",
             workers.report)
    assert proxy.refused > 0
    assert Job.objects.get(pk=job.pk).status == "queued"  # and no message left to run it
    # The outage lasts until the sweeper has met it too (it may still have been starting).
    wait_for(lambda: "sweep failed, the database is unreachable" in workers.report(), JOB_TIMEOUT,
             "the sweeper to meet the outage", workers.report)

    proxy.bring_up()

    wait_for(lambda: Job.objects.get(pk=job.pk).is_terminal, JOB_TIMEOUT, "the job to run", workers.report)
    done = Job.objects.get(pk=job.pk)
    assert (done.status, done.attempts) == ("succeeded", 1), workers.report()
    report = workers.report()
    assert "queued with no broker message; sent again" in report
