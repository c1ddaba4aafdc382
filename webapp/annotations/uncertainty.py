"""Active learning: which images to annotate next, ranked by the active branch's uncertainty.

A ``score_uncertainty`` job scores images with a branch (the engine's per-image mean
Jensen-Shannon divergence of the ensemble) and records one ``ImageUncertainty`` per image and
branch here; the ranking lists a model's scored images, most uncertain first.
"""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.db.models import Exists, OuterRef, QuerySet

from webapp.assets.models import GeneratorModel, Image

from .models import AnnotationVersion, ImageUncertainty, SegmentationBranch


def unannotated_images(model: GeneratorModel) -> QuerySet[Image]:
    """The images of ``model`` (in its team) that have a latent and no annotation version yet."""
    annotated = AnnotationVersion.objects.filter(image=OuterRef("pk"))
    return (
        Image.objects.filter(model=model, team=model.team_id)
        .exclude(latent="")
        .exclude(Exists(annotated))
        .order_by("pk")
    )


def store_uncertainty_scores(branch: SegmentationBranch, scores: dict[int, float], job: Any = None) -> int:
    """Record (or overwrite) ``branch``'s score of each image id in ``scores``; returns how many were stored.

    Images deleted since the scores were computed, or of another model, are skipped.
    """
    images = set(Image.objects.filter(pk__in=scores, model=branch.model_id).values_list("pk", flat=True))
    with transaction.atomic():
        for image in sorted(images):
            ImageUncertainty.objects.update_or_create(
                image_id=image, branch=branch, defaults={"score": float(scores[image]), "job": job}
            )
    return len(images)


def ranked_by_uncertainty(
    branch: SegmentationBranch, include_annotated: bool = False
) -> QuerySet[ImageUncertainty]:
    """``branch``'s scores, most uncertain image first; images annotated since are left out unless asked."""
    scores = ImageUncertainty.objects.filter(branch=branch).select_related("image")
    annotated = AnnotationVersion.objects.filter(image=OuterRef("image"))
    scores = scores.annotate(annotated=Exists(annotated))
    if not include_annotated:
        scores = scores.filter(annotated=False)
    return scores.order_by("-score", "image_id")
