"""Serving stored files: only after a permission check, never straight from media storage.

Images (PNG, JPEG, WebP: every stored image was decoded by Pillow and named by its real type)
are sent inline, so a browser shows them; everything else (vectors, latents) is an attachment.
Every file goes out with its type and ``X-Content-Type-Options: nosniff``. The admin links
stored files to these views too (``admin_file_link``), never to ``MEDIA_URL``.
"""

from __future__ import annotations

import mimetypes
from collections.abc import Callable
from typing import Any

from django.contrib import admin
from django.db.models.fields.files import FieldFile
from django.http import FileResponse, Http404
from django.urls import reverse
from django.utils.html import format_html

from webapp.assets.storage import open_stored

INLINE_TYPES = frozenset({"image/png", "image/jpeg", "image/webp"})


def stored_file_response(stored: FieldFile, filename: str, content_type: str | None = None) -> FileResponse:
    """Stream a stored file (images inline, others as attachments); 404 if the object has no such file."""
    if not stored or not stored.name:
        raise Http404("This file does not exist (yet).")
    content_type = content_type or mimetypes.guess_type(stored.name)[0] or "application/octet-stream"
    try:
        handle = open_stored(stored.name)
    except FileNotFoundError as error:
        raise Http404("This file is missing from storage.") from error
    response = FileResponse(
        handle, as_attachment=content_type not in INLINE_TYPES, filename=filename, content_type=content_type
    )
    response["X-Content-Type-Options"] = "nosniff"
    return response


def admin_file_link(field: str, url_name: str, kind: str = "", parent: str = "") -> Callable[[Any, Any], str]:
    """An admin method (set it as a class attribute, list its name in ``readonly_fields``) linking
    ``obj.<field>`` to its permission-checked API view.

    The view's URL arguments are ``[obj.<parent>,] obj.pk[, kind]``; without ``url_name`` (a file
    no API view serves) only its name is shown.
    """

    @admin.display(description=field.replace("_", " "))
    def link(model_admin: Any, obj: Any) -> str:
        stored = getattr(obj, field)
        if not stored:
            return "-"
        args = [*([getattr(obj, parent)] if parent else []), obj.pk, *([kind] if kind else [])]
        name = stored.name.rsplit("/", 1)[-1]
        if not url_name:
            return name
        return format_html('<a href="{}">{}</a>', reverse(url_name, args=args), name)

    return link
