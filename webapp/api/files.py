"""Serving stored files: only after a permission check, never straight from media storage."""

from __future__ import annotations

from django.db.models.fields.files import FieldFile
from django.http import FileResponse, Http404

from webapp.assets.storage import open_stored


def stored_file_response(stored: FieldFile, filename: str, content_type: str | None = None) -> FileResponse:
    """Stream a stored file as an attachment; 404 if the object has no such file."""
    if not stored or not stored.name:
        raise Http404("This file does not exist (yet).")
    try:
        handle = open_stored(stored.name)
    except FileNotFoundError as error:
        raise Http404("This file is missing from storage.") from error
    return FileResponse(handle, as_attachment=True, filename=filename, content_type=content_type)
