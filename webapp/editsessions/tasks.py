"""Celery task of session previews: render the newest state of a session and broadcast the frame.

The engine is imported inside the task (through ``render_worker``), so web processes can import
this module to enqueue without loading torch.
"""

from __future__ import annotations

import logging

from celery import shared_task

from webapp import events
from webapp.errors import ServiceError

from . import services

logger = logging.getLogger(__name__)


@shared_task(name="preview.render_session", ignore_result=True, acks_late=False)
def render_session(session_id: int) -> None:
    """Render the session's state at the moment the task starts; queue the next one if it moved on."""
    from .render_worker import render_state

    state = services.claim_render(session_id)
    if state is None:
        return
    group = events.session_group(session_id)
    rendered = False
    try:
        frame = render_state(state)
        events.publish_now(group, events.session_frame(session_id, frame.revision, frame.png,
                                                       frame.segmentation_png, frame.width, frame.height,
                                                       frame.render_ms))
        rendered = True
    except ServiceError as error:
        failed = events.session_render_failed(session_id, state.revision, error.code, error.message)
        events.publish_now(group, failed)
    except Exception as error:
        logger.exception("render of session %s failed", session_id)
        failed = events.session_render_failed(session_id, state.revision, "render_failed", str(error))
        events.publish_now(group, failed)
    finally:
        services.finish_render(session_id, state.revision, rendered)
