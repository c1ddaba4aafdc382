"""Saving annotation versions (with optimistic concurrency) and recording segmentation branches."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import TYPE_CHECKING, Any, TypedDict, TypeGuard

from django.db import IntegrityError, transaction
from django.db.models import OuterRef, QuerySet, Subquery

from webapp import events
from webapp.assets import storage
from webapp.assets.models import GeneratorModel, Image
from webapp.errors import Conflict, InvalidInput
from webapp.teams.permissions import Action, require

from .masks import decode_mask, encode_mask, label_pixels
from .models import AnnotationVersion, SegmentationBranch


class StaleVersion(Conflict):
    """A save was based on a version that is no longer current; ``current`` is the one that is."""

    code = "stale_version"

    def __init__(self, current: AnnotationVersion | None) -> None:
        number = current.number if current else None
        super().__init__(
            f"This image's annotation has changed (current version: {number}); "
            "load the current version, merge your changes and save again."
        )
        self.current = current


def current_version(image: Image) -> AnnotationVersion | None:
    """The latest annotation version of ``image``, or None if it has none."""
    return image.annotation_versions.select_related("author").order_by("-number").first()


ANNOTATION_STATES = ("none", "draft", "done")
"""An image's annotation state: no version yet, a current version that is a draft, or one marked done."""


class AnnotationSummaryFields(TypedDict):
    """The fields ``with_annotation_summary`` adds to each image (None where it has no version)."""

    annotation_number: int | None
    annotation_done: bool | None
    annotation_author: str | None
    annotation_saved_at: datetime | None


if TYPE_CHECKING:
    from django_stubs_ext import WithAnnotations

    SummarizedImage = WithAnnotations[Image, AnnotationSummaryFields]
    """An image from ``with_annotation_summary`` (a type only: the alias takes no arguments at run time)."""


def with_annotation_summary(images: QuerySet[Image]) -> QuerySet[SummarizedImage]:
    """``images`` annotated with their current version's number, done flag, author and save time."""
    current = AnnotationVersion.objects.filter(image=OuterRef("pk")).order_by("-number")
    return images.annotate(
        annotation_number=Subquery(current.values("number")[:1]),
        annotation_done=Subquery(current.values("is_done")[:1]),
        annotation_author=Subquery(current.values("author__username")[:1]),
        annotation_saved_at=Subquery(current.values("created_at")[:1]),
    )


def filter_by_annotation_state(images: QuerySet[SummarizedImage], state: str) -> QuerySet[SummarizedImage]:
    """Images (from ``with_annotation_summary``) in annotation ``state``: none, draft or done."""
    if state == "none":
        return images.filter(annotation_number__isnull=True)
    if state in ("draft", "done"):
        return images.filter(annotation_done=state == "done")
    raise InvalidInput(
        f"Invalid value {state!r} for the filter 'annotation' (none, draft or done).", code="invalid_filter"
    )


def _is_summarized(image: Image) -> TypeGuard[SummarizedImage]:
    """Whether ``image`` came from ``with_annotation_summary`` (so it carries the summary fields)."""
    return hasattr(image, "annotation_number")


def annotation_summary(image: Image) -> dict[str, Any]:
    """The state of ``image``'s annotation for lists: state, current version number, author, time."""
    if _is_summarized(image):
        number, done = image.annotation_number, image.annotation_done
        author, saved_at = image.annotation_author, image.annotation_saved_at
    else:
        version = current_version(image)
        number, done = (version.number, version.is_done) if version else (None, None)
        author = version.author.username if version and version.author else None
        saved_at = version.created_at if version else None
    state = "none" if number is None else ("done" if done else "draft")
    return {"state": state, "version": number, "author": author, "saved_at": saved_at}


def save_annotation_version(
    user: Any, image: Image, mask: bytes, base_version: int | None, note: str = "", done: bool = True
) -> AnnotationVersion:
    """Save a new version of ``image``'s part mask, made from version ``base_version`` (None: first).

    ``done`` says whether the annotator considers it finished (false: a draft such as an autosave).

    If ``base_version`` is not the current version the save is refused with ``StaleVersion``:
    nobody's work is overwritten silently.
    """
    require(user, image.team, Action.ANNOTATE)
    labels = list(image.model.labels.order_by("index").values_list("colour", flat=True))
    values = decode_mask(mask, image.model.resolution, len(labels))
    encoded = encode_mask(values, labels)
    try:
        with storage.new_files() as files, transaction.atomic():
            # Locks the image row, so concurrent saves of one image queue up (PostgreSQL).
            Image.objects.select_for_update().filter(pk=image.pk).first()
            current = current_version(image)
            if (current.number if current else None) != base_version:
                raise StaleVersion(current)
            version = AnnotationVersion.objects.create(
                image=image,
                number=(current.number if current else 0) + 1,
                parent=current,
                mask=files.write(storage.unique_name(f"teams/{image.team_id}/annotations", ".png"), encoded),
                label_pixels=label_pixels(values),
                note=note.strip()[:200],
                is_done=done,
                author=user,
            )
            events.publish_after_commit(events.image_group(image.pk), events.annotation_saved(version))
    except IntegrityError as error:
        # Two saves of the same base raced past the lock (SQLite): the loser sees the winner.
        raise StaleVersion(current_version(image)) from error
    return version


def register_segmentation_branch(
    model: GeneratorModel,
    weights: bytes,
    trained_on: Iterable[AnnotationVersion],
    metrics: dict[str, Any],
    config: dict[str, Any] | None = None,
    job: Any = None,
    created_by: Any = None,
    activate: bool = True,
) -> SegmentationBranch:
    """Record a trained branch (called by the training job); a re-run of a job returns its first record."""
    if job is not None:
        existing = SegmentationBranch.objects.filter(job=job).first()
        if existing is not None:
            return existing
    versions = list(trained_on)
    if any(version.image.model_id != model.pk for version in versions):
        raise InvalidInput(
            "A branch can only be trained on annotations of its own model.", code="wrong_model"
        )
    with storage.new_files() as files, transaction.atomic():
        branch = SegmentationBranch.objects.create(
            model=model,
            weights=files.write(
                storage.unique_name(f"teams/{model.team_id}/branches", ".safetensors"), weights
            ),
            config=config or {},
            metrics=metrics,
            job=job,
            created_by=created_by,
        )
        branch.trained_on.set(versions)
        if activate:
            make_active(branch)
    return branch


def make_active(branch: SegmentationBranch) -> None:
    """Make ``branch`` its model's one active branch (no permission check: jobs and operators)."""
    with transaction.atomic():
        SegmentationBranch.objects.filter(model=branch.model_id, is_active=True).exclude(pk=branch.pk).update(
            is_active=False
        )
        branch.is_active = True
        branch.save(update_fields=["is_active"])


def activate_segmentation_branch(user: Any, branch: SegmentationBranch) -> SegmentationBranch:
    """Make ``branch`` the one its model's editing uses (owners and editors)."""
    require(user, branch.model.team, Action.EDIT)
    make_active(branch)
    return branch


def active_branch(model: GeneratorModel) -> SegmentationBranch | None:
    """The branch editing with ``model`` uses, or None before one is trained."""
    return model.branches.filter(is_active=True).first()
