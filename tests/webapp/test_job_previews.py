"""Intermediate images of edit jobs: every fifth step (and the last) published as a PNG on the job's group."""

from __future__ import annotations

from typing import Any

import pytest
import torch

from webapp import events
from webapp.jobs.models import Job, JobStatus, JobType
from webapp.jobs.progress import PREVIEW_EVERY_STEPS, JobHooks
from webapp.teams.models import Role

pytestmark = pytest.mark.django_db


def test_previews_are_throttled_and_encoded(make_user: Any, make_team: Any, monkeypatch: Any) -> None:
    editor = make_user("editor")
    team = make_team("Lab", {editor: Role.EDITOR})
    job = Job.objects.create(team=team, requested_by=editor, type=JobType.OPTIMIZE_EDIT, queue="gpu",
                             status=JobStatus.RUNNING, progress_total=12)
    published: list[tuple[str, Any]] = []
    monkeypatch.setattr(events, "publish_now", lambda group, event: published.append((group, event)))
    hooks = JobHooks(job)
    image = torch.zeros(1, 3, 8, 8)

    for step in range(1, 13):
        hooks.preview(step, image)

    assert [event["step"] for _, event in published] == [PREVIEW_EVERY_STEPS, 2 * PREVIEW_EVERY_STEPS, 12]
    group, event = published[0]
    assert group == job.group_name and event["type"] == "job.preview" and event["total"] == 12
    assert event["png"].startswith(b"\x89PNG")
