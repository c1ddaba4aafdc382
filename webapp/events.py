"""Domain events on the channel layer, sent only after the write they report has committed.

Groups: ``team.<id>`` (team-wide changes: library), ``image.<id>`` (annotations of an image),
``session.<id>`` (an edit session's stack). A consumer that joins a group receives
``{"type": "domain.event", "event": {...}}``; docs/api.md lists the event shapes.
"""

from __future__ import annotations

import logging
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction

logger = logging.getLogger(__name__)

LAYER_EVENT_TYPE = "domain.event"


def _send(group: str, event: dict[str, Any]) -> None:
    """Send one event now; a channel-layer outage is logged, never raised into the request."""
    try:
        async_to_sync(get_channel_layer().group_send)(group, {"type": LAYER_EVENT_TYPE, "event": event})
    except Exception:
        logger.warning("could not publish %s to %s", event.get("type"), group, exc_info=True)


def publish_after_commit(group: str, event: dict[str, Any]) -> None:
    """Publish ``event`` to ``group`` once the current transaction commits (at once outside one)."""
    transaction.on_commit(lambda: _send(group, event))
