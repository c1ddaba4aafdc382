"""The edit studio page of one session: live image, segmentation, the shared stack, participants, jobs.

The page gets the session, its image and its model's taxonomy from here (one JSON block);
everything live (state, stack operations, frames, presence, jobs) goes over
``/ws/sessions/<id>/``, whose consumer calls the editsessions services.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse
from django.urls import reverse

from webapp.editsessions.models import EditSession
from webapp.teams.permissions import Action, can, get_team_object_or_404

from .context import studio_context
from .views import render_page, studio_login_required


def page_data(session: EditSession, can_edit: bool, can_manage_library: bool) -> dict[str, Any]:
    """What the page's modules need: the session, image, taxonomy, permissions and paths."""
    image, model = session.image, session.image.model
    labels = list(model.labels.order_by("index").values("index", "name", "colour", "is_context"))
    return {
        "session": {"id": session.pk, "title": session.title or f"Session {session.pk}"},
        "image": {
            "id": image.pk,
            "name": image.name or f"Image {image.pk}",
            "source": image.source,
            "status": image.status,
            "normalized": reverse("image-file", kwargs={"pk": image.pk, "kind": "normalized"})
            if image.normalized
            else None,
        },
        "model": {"id": model.pk, "name": model.name, "resolution": model.resolution, "labels": labels},
        "can_edit": can_edit,
        "can_manage_library": can_manage_library,
        "socket": f"/ws/sessions/{session.pk}/",
    }


@studio_login_required
def session_page(request: HttpRequest, pk: int) -> HttpResponse:
    """Edit one session live (owners and editors); other members watch."""
    session = get_team_object_or_404(
        request.user, EditSession.objects.select_related("image__model", "image__team"), pk, Action.VIEW
    )
    team = session.image.team
    studio = studio_context(request, team)
    data = page_data(session, studio.can_edit, can(request.user, team, Action.MANAGE_LIBRARY))
    return render_page(request, "studio/session.html", "sessions", studio=studio, session=session, edit=data)
