"""The jobs app is infrastructure: it imports no domain app and runs only the kinds domain apps register."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from tests.webapp.import_scan import imported_modules, package_of
from webapp.jobs import registry
from webapp.jobs.models import JobType
from webapp.jobs.registry import JobKind, JobTypeUnavailableError
from webapp.teams.permissions import Action

JOBS_PACKAGE = Path(__file__).resolve().parents[2] / "webapp" / "jobs"
DOMAIN_APPS = ("annotations", "assets", "library", "editsessions", "preview", "studio")


def test_the_jobs_package_imports_no_domain_app() -> None:
    files = sorted(JOBS_PACKAGE.rglob("*.py"))
    assert JOBS_PACKAGE / "registry.py" in files and JOBS_PACKAGE / "services.py" in files
    domain = tuple(f"webapp.{app}" for app in DOMAIN_APPS)
    found = {
        f"{path.relative_to(JOBS_PACKAGE)}: {name}"
        for path in files
        for name in imported_modules(path.read_text(), package_of(path))
        if name in domain or name.startswith(tuple(f"{app}." for app in domain))
    }
    assert found == set()


def test_the_import_scan_sees_absolute_and_relative_domain_imports() -> None:
    source = "from ...assets import models\nimport webapp.library.services\nfrom .. import api\n"
    names = imported_modules(source, package_of(JOBS_PACKAGE / "management" / "commands.py"))
    assert {"webapp.assets", "webapp.assets.models", "webapp.library.services", "webapp.jobs.api"} <= names


def test_every_job_type_is_registered_by_the_app_that_owns_it() -> None:
    runners = {kind.type: kind.runner for kind in registry.registered()}
    assert list(runners) == JobType.values
    assert {job_type: runner.split(".")[1] for job_type, runner in runners.items()} == {
        "embed_image": "assets", "train_branch": "annotations", "optimize_edit": "editsessions",
        "refine": "editsessions", "render": "assets", "score_uncertainty": "annotations",
        "import_model": "assets", "predict_mask": "annotations",
    }


def test_an_unknown_kind_is_refused_with_the_available_ones() -> None:
    with pytest.raises(JobTypeUnavailableError) as error:
        registry.get_kind("teleport")
    assert (error.value.status, error.value.code) == (400, "job_type_unavailable")
    assert error.value.message.startswith("Job type 'teleport' is unknown; available: embed_image, ")
    assert error.value.details == {"available": JobType.values}
    with pytest.raises(JobTypeUnavailableError):
        registry.load_runner("teleport")


def test_a_kind_that_is_no_job_type_or_registered_twice_differently_is_refused() -> None:
    def prepare(user: object, team: object, raw: dict[str, object]) -> dict[str, object]:
        return raw

    render = registry.get_kind(JobType.RENDER)
    with pytest.raises(ImproperlyConfigured, match="not a JobType"):
        registry.register(JobKind("teleport", registry.GPU_QUEUE, Action.EDIT, prepare, "x"))
    with pytest.raises(ImproperlyConfigured, match="queue 'cpu'"):
        registry.register(JobKind(JobType.RENDER, "cpu", Action.EDIT, prepare, "x"))
    with pytest.raises(ImproperlyConfigured, match="registered twice"):
        registry.register(JobKind(JobType.RENDER, registry.GPU_QUEUE, Action.EDIT, prepare, render.runner))
    registry.register(render)
    assert registry.get_kind(JobType.RENDER) is render and "teleport" not in registry.available_types()
