"""Job services and the jobs REST API: permissions by role, type availability, GPU limit, cancel."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.utils import timezone

from webapp.assets.models import Image
from webapp.errors import Conflict, InvalidInput
from webapp.jobs import registry, services
from webapp.jobs.models import Job, JobStatus, JobType
from webapp.jobs.registry import JobTypeUnavailableError
from webapp.jobs.services import JobLimitError
from webapp.teams.models import Role
from webapp.teams.permissions import Action

pytestmark = pytest.mark.django_db


@pytest.fixture
def lab(make_user: Any, make_team: Any, make_model: Any) -> dict[str, Any]:
    """A team with one member per role, an outsider in another team, and a model in each team."""
    users = {role: make_user(role) for role in ("owner", "editor", "annotator", "viewer", "outsider")}
    team = make_team("Lab", {users[r]: r for r in ("owner", "editor", "annotator", "viewer")})
    other = make_team("Other", {users["outsider"]: Role.OWNER})
    models = {"model": make_model(team), "other_model": make_model(other)}
    return {**users, **models, "team": team, "other": other}


@pytest.fixture
def enqueued(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """Record the tasks ``enqueue`` sends instead of talking to a broker."""
    sent: list[dict[str, Any]] = []
    monkeypatch.setattr(services.run_job, "apply_async", lambda **kwargs: sent.append(kwargs))
    return sent


@pytest.fixture
def revoked(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Record the task ids ``revoke`` sends to the workers."""
    from webapp.celery import app

    ids: list[str] = []
    monkeypatch.setattr(app.control, "revoke", lambda task_id, **_: ids.append(task_id))
    return ids


def render(lab: dict[str, Any], user: str = "editor", seed: int = 3) -> Job:
    """Request a render of a new sample of the lab's model as ``user``."""
    parameters = {"model": lab["model"].pk, "seed": seed}
    return services.create_job(lab[user], lab["team"], JobType.RENDER, parameters)


def running_gpu_job(lab: dict[str, Any], status: str = JobStatus.RUNNING) -> Job:
    """A GPU-queue job row of the lab's team in ``status`` (as a live worker would have left it)."""
    now = timezone.now()
    return Job.objects.create(team=lab["team"], requested_by=lab["editor"], type=JobType.TRAIN_BRANCH,
                              queue=registry.GPU_QUEUE, status=status, started_at=now, heartbeat_at=now)


def test_render_job_is_recorded_before_it_is_enqueued_on_the_preview_queue(
    lab: dict[str, Any], enqueued: list[dict[str, Any]], django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        job = render(lab)
        assert enqueued == []  # nothing is sent before the job row commits

    image = Image.objects.get(pk=job.parameters["image"])
    assert len(callbacks) == 1
    assert enqueued == [{"args": (job.pk,), "queue": "preview", "task_id": job.celery_task_id}]
    assert (job.status, job.type, job.requested_by) == ("queued", "render", lab["editor"])
    assert job.parameters == {"image": image.pk, "model": lab["model"].pk, "seed": 3, "psi": 1.0}
    assert (image.source, image.seed, image.status) == ("sample", 3, "pending")


@pytest.mark.parametrize("role", ["annotator", "viewer"])
def test_roles_without_edit_cannot_request_jobs(lab: dict[str, Any], role: str) -> None:
    with pytest.raises(PermissionDenied):
        render(lab, role)
    assert not Job.objects.exists() and not Image.objects.exists()


def test_outsider_cannot_request_jobs_for_a_team(lab: dict[str, Any]) -> None:
    with pytest.raises(Http404):
        render(lab, "outsider")


def test_parameters_naming_another_teams_model_are_refused(lab: dict[str, Any]) -> None:
    with pytest.raises(InvalidInput) as error:
        parameters = {"model": lab["other_model"].pk, "seed": 1}
        services.create_job(lab["editor"], lab["team"], JobType.RENDER, parameters)
    assert error.value.code == "not_found_in_team"


@pytest.mark.parametrize("parameters", [{}, {"model": 1}, {"image": 1, "model": 1, "seed": 2},
                                        {"model": 1, "seed": -1}, {"model": 1, "seed": 1, "psi": "x"}])
def test_malformed_render_parameters_are_refused(lab: dict[str, Any], parameters: dict[str, Any]) -> None:
    with pytest.raises(InvalidInput) as error:
        services.create_job(lab["editor"], lab["team"], JobType.RENDER, parameters)
    assert error.value.code == "invalid_parameters"


def test_every_job_type_has_a_kind_and_unknown_types_are_refused_by_name(lab: dict[str, Any]) -> None:
    assert registry.available_types() == JobType.values
    assert {kind.type: kind.action for kind in registry.registered()} == {
        "embed_image": Action.EDIT, "train_branch": Action.EDIT, "optimize_edit": Action.MANAGE_LIBRARY,
        "refine": Action.MANAGE_LIBRARY, "render": Action.EDIT, "score_uncertainty": Action.ANNOTATE,
        "import_model": Action.EDIT, "predict_mask": Action.ANNOTATE,
    }

    with pytest.raises(JobTypeUnavailableError) as error:
        services.create_job(lab["editor"], lab["team"], "teleport", {})

    assert error.value.details == {"available": JobType.values}
    assert "'teleport' is unknown" in error.value.message and not Job.objects.exists()


def test_gpu_limit_counts_active_gpu_jobs_of_the_team_only(lab: dict[str, Any], settings: Any) -> None:
    settings.JOBS_MAX_ACTIVE_GPU_JOBS_PER_TEAM = 2
    running_gpu_job(lab, JobStatus.RUNNING)
    running_gpu_job(lab, JobStatus.SUCCEEDED)
    Job.objects.create(team=lab["other"], type=JobType.TRAIN_BRANCH, queue=registry.GPU_QUEUE,
                       status=JobStatus.RUNNING)
    services.check_gpu_limit(lab["team"])

    running_gpu_job(lab, JobStatus.QUEUED)
    with pytest.raises(JobLimitError) as error:
        services.check_gpu_limit(lab["team"])
    assert error.value.status == 429 and error.value.details == {"limit": 2, "active": 2}


def test_preview_queue_jobs_do_not_count_against_the_gpu_limit(lab: dict[str, Any], settings: Any) -> None:
    settings.JOBS_MAX_ACTIVE_GPU_JOBS_PER_TEAM = 1
    running_gpu_job(lab)
    render(lab)
    render(lab, seed=4)
    assert Job.objects.filter(queue="preview", status="queued").count() == 2


def test_broker_outage_fails_the_job_with_a_message(lab: dict[str, Any], monkeypatch: pytest.MonkeyPatch,
                                                    django_capture_on_commit_callbacks: Any) -> None:
    from kombu.exceptions import OperationalError

    def unreachable(**_: Any) -> None:
        raise OperationalError("connection refused")

    monkeypatch.setattr(services.run_job, "apply_async", unreachable)
    with django_capture_on_commit_callbacks(execute=True):
        job = render(lab)
    job.refresh_from_db()
    assert job.status == "failed" and "queue is unreachable" in job.error_message


def test_cancelling_a_queued_job_ends_it_and_revokes_its_task(
    lab: dict[str, Any], enqueued: list[Any], revoked: list[str], django_capture_on_commit_callbacks: Any
) -> None:
    job = render(lab)
    with django_capture_on_commit_callbacks(execute=True):
        services.request_cancel(lab["owner"], job)

    job.refresh_from_db()
    assert (job.status, job.cancel_requested) == ("cancelled", True)
    assert job.finished_at is not None
    assert revoked == [job.celery_task_id]


def test_cancelling_a_running_job_sets_the_cooperative_flag_only(
    lab: dict[str, Any], revoked: list[str], django_capture_on_commit_callbacks: Any
) -> None:
    job = running_gpu_job(lab)
    with django_capture_on_commit_callbacks(execute=True):
        services.request_cancel(lab["editor"], job)

    job.refresh_from_db()
    assert (job.status, job.cancel_requested, revoked) == ("running", True, [])


def test_cancel_needs_the_jobs_permission_and_an_unfinished_job(lab: dict[str, Any]) -> None:
    job = running_gpu_job(lab)
    with pytest.raises(PermissionDenied):
        services.request_cancel(lab["viewer"], job)
    with pytest.raises(Http404):
        services.request_cancel(lab["outsider"], job)

    Job.objects.filter(pk=job.pk).update(status=JobStatus.SUCCEEDED)
    with pytest.raises(Conflict):
        services.request_cancel(lab["editor"], job)
    assert Job.objects.get(pk=job.pk).cancel_requested is False


# --- REST API ----------------------------------------------------------------------------------


def test_api_creates_lists_and_shows_jobs(lab: dict[str, Any], client_for: Any, enqueued: list[Any]) -> None:
    client = client_for(lab["editor"])
    created = client.post("/api/jobs/", {"team": lab["team"].pk, "type": "render",
                                         "parameters": {"model": lab["model"].pk, "seed": 7, "psi": 0.5}},
                          format="json")
    assert created.status_code == 201, created.json()
    body = created.json()
    assert body["status"] == "queued" and body["progress"] == {"step": 0, "total": 0, "loss": None}
    assert body["websocket"] == f"/ws/jobs/{body['id']}/" and body["requested_by"] == "editor"

    listed = client_for(lab["viewer"]).get("/api/jobs/", {"team": lab["team"].pk, "status": "queued"}).json()
    assert [job["id"] for job in listed["results"]] == [body["id"]]
    detail = client_for(lab["viewer"]).get(f"/api/jobs/{body['id']}/")
    assert detail.status_code == 200 and detail.json()["parameters"]["seed"] == 7


def test_api_hides_other_teams_jobs(lab: dict[str, Any], client_for: Any) -> None:
    job = running_gpu_job(lab)
    outsider = client_for(lab["outsider"])

    assert outsider.get("/api/jobs/").json()["results"] == []
    assert outsider.get(f"/api/jobs/{job.pk}/").status_code == 404
    assert outsider.post(f"/api/jobs/{job.pk}/cancel/").status_code == 404
    assert outsider.post("/api/jobs/", {"team": lab["team"].pk, "type": "render", "parameters": {}},
                         format="json").status_code == 404
    assert client_for(None).get("/api/jobs/").status_code in (401, 403)


def test_api_error_shapes(lab: dict[str, Any], client_for: Any, settings: Any) -> None:
    settings.JOBS_MAX_ACTIVE_GPU_JOBS_PER_TEAM = 0
    client = client_for(lab["editor"])
    annotator = client_for(lab["annotator"])
    request = {"team": lab["team"].pk, "type": "render", "parameters": {"model": lab["model"].pk, "seed": 1}}

    forbidden = annotator.post("/api/jobs/", request, format="json")
    unavailable = client.post("/api/jobs/", {**request, "type": "teleport"}, format="json")
    assert forbidden.status_code == 403 and forbidden.json()["error"]["code"] == "permission_denied"
    assert unavailable.status_code == 400 and unavailable.json()["error"]["code"] == "invalid"
    types = client.get("/api/jobs/types/").json()
    assert types == {"available": registry.available_types(), "all": JobType.values}


def test_api_gpu_limit_answers_429(lab: dict[str, Any], client_for: Any, settings: Any) -> None:
    settings.JOBS_MAX_ACTIVE_GPU_JOBS_PER_TEAM = 1
    running_gpu_job(lab)
    gpu_types = [kind.type for kind in registry.registered() if kind.queue == registry.GPU_QUEUE]
    assert gpu_types
    for job_type in gpu_types:
        response = client_for(lab["editor"]).post(
            "/api/jobs/", {"team": lab["team"].pk, "type": job_type, "parameters": {}}, format="json")
        assert response.status_code == 429 and response.json()["error"]["code"] == "job_limit_reached"


def test_api_cancel(lab: dict[str, Any], client_for: Any, enqueued: list[Any], revoked: list[str]) -> None:
    job = render(lab)
    response = client_for(lab["editor"]).post(f"/api/jobs/{job.pk}/cancel/")
    again = client_for(lab["editor"]).post(f"/api/jobs/{job.pk}/cancel/")
    assert response.status_code == 200 and response.json()["status"] == "cancelled"
    assert again.status_code == 200 and again.json()["status"] == "cancelled"

    done = running_gpu_job(lab, JobStatus.FAILED)
    conflict = client_for(lab["editor"]).post(f"/api/jobs/{done.pk}/cancel/")
    assert conflict.status_code == 409 and conflict.json()["error"]["code"] == "job_finished"
    assert client_for(lab["viewer"]).post(f"/api/jobs/{done.pk}/cancel/").status_code == 403
