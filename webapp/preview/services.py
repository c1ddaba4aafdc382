"""Service functions of the live preview, called by the consumer (and by anything else that renders).

Previews cost a GPU render each, so only signed-in members of a team that holds the server's
model (``PARTEDIT_MODEL_PATH``, active) may ask for them, and each user has a budget of
``PARTEDIT_PREVIEW_RENDERS_PER_MINUTE`` renders over all their sockets (counted in the shared cache).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.cache import cache

from webapp.assets.models import GeneratorModel
from webapp.preview.protocol import RenderRequest
from webapp.preview.tasks import render_preview
from webapp.teams.permissions import visible_to

WINDOW_SECONDS = 60


class RenderBudgetSpent(Exception):  # noqa: N818 (a refusal, like Django's PermissionDenied)
    """The user has used this minute's preview renders; ``retry_after`` seconds until the next minute."""

    def __init__(self, retry_after: float) -> None:
        super().__init__(f"preview render budget spent; retry in {retry_after:.0f} s")
        self.retry_after = retry_after


def may_preview(user: Any) -> bool:
    """Whether ``user`` is signed in and a member of a team holding the server's (active) model."""
    if user is None or not user.is_authenticated or not user.is_active:
        return False
    server_model = GeneratorModel.objects.filter(
        path=str(Path(settings.PARTEDIT_MODEL_PATH).resolve()), is_active=True
    )
    return visible_to(user, server_model).exists()


def spend_render(user_id: int) -> None:
    """Count one render against the user's budget for this minute; RenderBudgetSpent once it is used up."""
    limit = settings.PARTEDIT_PREVIEW_RENDERS_PER_MINUTE
    if limit <= 0:
        return
    now = time.time()
    key = f"preview-renders:{user_id}:{int(now // WINDOW_SECONDS)}"
    cache.add(key, 0, timeout=WINDOW_SECONDS + 10)
    try:
        count = cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.set(key, 1, timeout=WINDOW_SECONDS + 10)
        count = 1
    if count > limit:
        raise RenderBudgetSpent(WINDOW_SECONDS - now % WINDOW_SECONDS)


def enqueue_render(group: str, request: RenderRequest, render_id: str) -> None:
    """Queue a render of ``request`` on the ``preview`` queue; the frame goes to channel-layer ``group``."""
    render_preview.apply_async(args=(group, request.seed, request.psi, render_id), queue="preview")
