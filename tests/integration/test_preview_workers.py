"""With the demo's worker layout, a preview frame arrives while a long job runs on the other worker.

Workers are started with the queues scripts/run_demo.py gives them (``DEMO_WORKER_QUEUES``). With
one worker serving both queues, the render would wait until the embedding finished.
"""

from __future__ import annotations

import asyncio
import io
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from asgiref.sync import async_to_sync
from channels_redis.core import RedisChannelLayer
from PIL import Image as PILImage

from scripts.run_demo import DEMO_WORKER_QUEUES
from tests.integration.support import Workers, wait_for
from webapp.assets.services import create_uploaded_image, register_model
from webapp.jobs import services
from webapp.jobs.models import Job, JobStatus, JobType
from webapp.preview.protocol import RenderRequest
from webapp.preview.services import enqueue_render
from webapp.teams.models import Membership, Role, Team

pytestmark = [pytest.mark.integration, pytest.mark.timeout(600)]

FRAME_TIMEOUT = 60.0


async def next_frame(layer: RedisChannelLayer, channel: str, timeout: float) -> dict[str, Any]:
    """The first ``preview.frame`` event that reaches ``channel`` within ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        message = await asyncio.wait_for(layer.receive(channel), max(deadline - time.monotonic(), 0.01))
        event = message.get("event", message)
        if event.get("type") == "preview.frame":
            return dict(event)


def test_preview_arrives_while_a_long_job_runs(workers: Workers, redis_url: str, labelled_model_dir: Path,
                                               django_user_model: Any) -> None:
    for queues in DEMO_WORKER_QUEUES:
        workers.start(queues.replace(",", "-"), queues=queues)
    editor = django_user_model.objects.create_user(username="editor", password="pw")
    team = Team.objects.create(name="Lab", slug="lab")
    Membership.objects.create(team=team, user=editor, role=Role.EDITOR)
    model, _ = register_model(team, labelled_model_dir, "tiny")
    buffer = io.BytesIO()
    pixels = np.random.default_rng(1).integers(0, 255, (16, 16, 3), dtype=np.uint8)
    PILImage.fromarray(pixels).save(buffer, "PNG")
    image = create_uploaded_image(editor, model, buffer.getvalue(), "photo")
    embed = services.create_job(editor, team, JobType.EMBED_IMAGE, {"image": image.pk, "steps": 5000})
    wait_for(lambda: Job.objects.filter(pk=embed.pk, progress_step__gt=0).exists(), 120,
             "the embedding to start", workers.report)

    layer = RedisChannelLayer(hosts=[redis_url])
    channel = async_to_sync(layer.new_channel)()
    async_to_sync(layer.group_add)("preview-it", channel)
    enqueue_render("preview-it", RenderRequest(seed=3, psi=0.7, request_id=1), "render-1")
    try:
        frame = async_to_sync(next_frame)(layer, channel, FRAME_TIMEOUT)
    except TimeoutError as error:
        raise AssertionError(f"no preview frame within {FRAME_TIMEOUT:.0f} s\n{workers.report()}") from error
    still = Job.objects.get(pk=embed.pk)

    assert frame["request_id"] == "render-1" and frame["png"][:8] == b"\x89PNG\r\n\x1a\n"
    assert still.status == JobStatus.RUNNING and still.progress_step < 5000, "the embedding was over already"
    services.request_cancel(editor, still)
    wait_for(lambda: Job.objects.get(pk=embed.pk).is_terminal, 60, "the cancelled embedding to end",
             workers.report)
