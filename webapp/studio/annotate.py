"""The annotation page of one image: the label-mask canvas over the image, for its team's members.

The page gets the image, its model's taxonomy and its neighbours in the dataset from here (one
JSON block); the mask, its versions and saves go through the REST API
(``/api/images/<id>/annotations/``), so the annotation service stays the one place for rules.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse
from django.urls import reverse

from webapp.annotations.services import active_branch
from webapp.assets.models import Image
from webapp.teams.permissions import Action, get_team_object_or_404

from .context import studio_context
from .views import render_page, studio_login_required


def neighbours(image: Image) -> tuple[int | None, int | None]:
    """The previous and next image of the same team and model, in dataset (id) order."""
    siblings = Image.objects.filter(team_id=image.team_id, model_id=image.model_id)
    previous = siblings.filter(pk__lt=image.pk).order_by("-pk").values_list("pk", flat=True).first()
    following = siblings.filter(pk__gt=image.pk).order_by("pk").values_list("pk", flat=True).first()
    return previous, following


def page_data(image: Image, can_annotate: bool) -> dict[str, Any]:
    """What the page's modules need: the image, the taxonomy, the neighbours and the API paths."""
    previous, following = neighbours(image)
    model = image.model
    labels = list(model.labels.order_by("index").values("index", "name", "colour", "is_context"))
    page = "studio:annotate"
    return {
        "image": {"id": image.pk, "name": image.name or f"Image {image.pk}", "status": image.status},
        "model": {"id": model.pk, "name": model.name, "resolution": model.resolution, "labels": labels},
        "can_annotate": can_annotate,
        "team": image.team_id,
        # "Predict" needs the model's active branch and the image's W+ latent.
        "predict": {"branch": branch.pk if (branch := active_branch(model)) else None,
                    "has_latent": bool(image.latent)},
        "urls": {
            "previous": reverse(page, args=[previous]) if previous else None,
            "next": reverse(page, args=[following]) if following else None,
            "image": reverse("image-file", kwargs={"pk": image.pk, "kind": "normalized"})
            if image.normalized
            else None,
            "annotations": reverse("annotation-list", args=[image.pk]),
            "current": reverse("annotation-current", args=[image.pk]),
            "dataset": f"{reverse('studio:dataset')}?model={model.pk}",
            "jobs": reverse("job-list"),
        },
    }


@studio_login_required
def annotate_page(request: HttpRequest, pk: int) -> HttpResponse:
    """Annotate one image (annotators and up); viewers get the same page read-only."""
    image = get_team_object_or_404(request.user, Image, pk, Action.VIEW)
    studio = studio_context(request, image.team)
    return render_page(request, "studio/annotate.html", "dataset", studio=studio, image=image,
                       annotate=page_data(image, studio.can_annotate))
