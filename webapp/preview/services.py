"""Service functions of the live preview, called by the consumer (and by anything else that renders)."""

from __future__ import annotations

from webapp.preview.protocol import RenderRequest
from webapp.preview.tasks import render_preview


def enqueue_render(group: str, request: RenderRequest, render_id: str) -> None:
    """Queue a render of ``request`` on the ``preview`` queue; the frame goes to channel-layer ``group``."""
    render_preview.apply_async(args=(group, request.seed, request.psi, render_id), queue="preview")
