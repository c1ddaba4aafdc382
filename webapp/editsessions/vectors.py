"""Library vectors made in an edit session, recorded with the session they came from."""

from __future__ import annotations

from typing import Any

from django.db import transaction

from webapp.library import services as library
from webapp.library.models import EditVector

from .models import EditSession, SessionVector


def add_session_vector(user: Any, session: EditSession, data: bytes, name: str, **fields: Any) -> EditVector:
    """Add a vector made in ``session`` to the library (``library.create_edit_vector`` with ``fields``).

    Its model is the session image's, its source image that image, and its source session this
    one; a re-run of the same job returns its first vector, still linked once.
    """
    with transaction.atomic():
        vector = library.create_edit_vector(
            user, session.image.model, data, name, source_image=session.image, **fields
        )
        SessionVector.objects.get_or_create(vector=vector, defaults={"session": session})
    return vector
