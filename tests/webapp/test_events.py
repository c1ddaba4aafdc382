"""The event module: one layer message shape for every group, publication only after commit."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer

from webapp import events
from webapp.jobs.models import Job, JobStatus, JobType


def subscribe(*groups: str) -> str:
    """A new channel of the test process's layer that has joined ``groups`` (as a consumer would)."""
    layer = get_channel_layer()
    channel = async_to_sync(layer.new_channel)()
    for group in groups:
        async_to_sync(layer.group_add)(group, channel)
    return channel


def receive(channel: str) -> dict[str, Any]:
    """The next layer message of ``channel``."""
    return async_to_sync(get_channel_layer().receive)(channel)


def waiting(channel: str) -> int:
    """How many layer messages wait on ``channel``."""
    queue = get_channel_layer().channels.get(channel)
    return 0 if queue is None else queue.qsize()


def test_group_names() -> None:
    assert (events.team_group(1), events.image_group(2), events.session_group(3), events.job_group(4)) == (
        "team.1", "image.2", "session.3", "job.4"
    )
    first, second = events.preview_group(), events.preview_group()
    assert first.startswith("preview.") and first != second


def test_one_channel_subscribes_to_several_groups_and_gets_every_event_in_one_envelope() -> None:
    channel = subscribe(events.session_group(3), events.team_group(1), events.job_group(4))

    events.publish_now(events.team_group(1), events.vector_changed("vector.created", 9))
    events.publish_now(events.session_group(3), events.StackChanged(type="session.stack_changed",
                                                                    session_id=3, revision=2))
    events.publish_now(events.image_group(2), events.vector_changed("vector.deleted", 9))  # not joined

    assert receive(channel) == {"type": "domain.event", "event": {"type": "vector.created", "vector_id": 9}}
    assert receive(channel) == {
        "type": "domain.event", "event": {"type": "session.stack_changed", "session_id": 3, "revision": 2}
    }
    assert waiting(channel) == 0


@pytest.mark.django_db
def test_publish_after_commit_waits_for_the_commit(django_capture_on_commit_callbacks: Any) -> None:
    channel = subscribe(events.team_group(5))
    with django_capture_on_commit_callbacks() as callbacks:
        events.publish_after_commit(events.team_group(5), events.vector_changed("vector.updated", 1))
        assert waiting(channel) == 0

    assert len(callbacks) == 1 and waiting(channel) == 0
    callbacks[0]()
    assert receive(channel)["event"] == {"type": "vector.updated", "vector_id": 1}


def test_a_layer_outage_is_logged_not_raised(monkeypatch: pytest.MonkeyPatch, caplog: Any) -> None:
    async def down(*_: Any) -> None:
        raise ConnectionError("redis is down")

    monkeypatch.setattr(get_channel_layer(), "group_send", down)
    with caplog.at_level(logging.WARNING, logger="webapp.events"):
        events.publish_now(events.team_group(1), events.vector_changed("vector.deleted", 3))
    assert "could not publish vector.deleted to team.1" in caplog.text


@pytest.mark.django_db
def test_job_event_carries_the_jobs_state(make_user: Any, make_team: Any) -> None:
    user = make_user("ana")
    job = Job.objects.create(team=make_team("Lab"), requested_by=user, type=JobType.RENDER, queue="preview",
                             status=JobStatus.FAILED, progress_step=3, progress_total=8, error_message="boom")

    event = events.job_changed(job, "status")

    assert event == {
        "type": "job.status", "job_id": job.pk, "job_type": "render", "status": "failed", "step": 3,
        "total": 8, "loss": None, "attempts": 0, "error": "boom", "result": {}, "started_at": None,
        "finished_at": None,
    }
    assert events.job_changed(job, "progress")["type"] == "job.progress"
