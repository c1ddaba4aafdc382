"""Strength strips: a vector applied to one fixed sample of its model at a few scales, side by side.

Rendered once per vector by the ``preview.render_strength_strip`` task (on the preview queue)
and kept as the vector's ``strength_strip`` file; the library shows it so a user sees what the
slider does before applying a vector. Every vector of a model uses the same sample, so strips
of one model compare directly.
"""

from __future__ import annotations

import logging

from django.db import transaction
from kombu.exceptions import OperationalError

from webapp.assets import storage
from webapp.teams.permissions import Action, require

from .models import EditVector

logger = logging.getLogger(__name__)

STRIP_SCALES = (-2.0, -1.0, 0.0, 1.0, 2.0)
STRIP_SEED = 7
STRIP_PSI = 0.7


def strip_scales(vector: EditVector) -> list[float]:
    """The strip's scales that the vector's allowed range holds."""
    return [scale for scale in STRIP_SCALES if vector.min_scale <= scale <= vector.max_scale]


def request_strength_strip(user: object, vector: EditVector) -> bool:
    """Queue the strip's render unless it exists (any member); returns whether it exists already."""
    require(user, vector.team, Action.VIEW)
    if vector.strength_strip:
        return True
    from .tasks import render_strength_strip

    try:
        render_strength_strip.apply_async(args=(vector.pk,), queue="preview")
    except OperationalError as error:
        logger.warning("could not queue the strength strip of vector %s: %s", vector.pk, error)
    return False


def store_strength_strip(vector: EditVector, png: bytes) -> EditVector:
    """Keep a rendered strip as the vector's file (worker side); a strip stored meanwhile wins."""
    with storage.new_files() as files, transaction.atomic():
        locked = EditVector.objects.select_for_update().get(pk=vector.pk)
        if locked.strength_strip:
            return locked
        name = storage.unique_name(f"teams/{locked.team_id}/vectors", ".png")
        locked.strength_strip = files.write(name, png)
        locked.save(update_fields=["strength_strip"])
    return locked
