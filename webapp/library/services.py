"""Adding, describing, deleting and using edit vectors; who may do it is checked here."""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

from django.db import transaction
from django.db.models import F

from webapp import events
from webapp.assets import storage, uploads
from webapp.assets.models import GeneratorModel, Image
from webapp.errors import Conflict, InvalidInput
from webapp.teams.permissions import Action, require

from .models import EditVector, Tag
from .vector_files import IncompatibleVector, check_vector_file

MAX_TAGS = 20
MAX_DESCRIPTION = 2000
THUMBNAIL_MAX_PIXELS = 1024 * 1024


def check_scales(default: float, low: float, high: float) -> None:
    """Refuse a scale range that is not ``low < high`` with ``default`` inside it."""
    if (
        not all(math.isfinite(value) for value in (default, low, high))
        or not low <= default <= high
        or low >= high
    ):
        raise InvalidInput(
            "Scales must satisfy min_scale <= default_scale <= max_scale with min_scale < max_scale.",
            code="invalid_scales",
            details={"default_scale": default, "min_scale": low, "max_scale": high},
        )


def check_description(description: str) -> None:
    """Refuse a description over ``MAX_DESCRIPTION`` characters."""
    if len(description) > MAX_DESCRIPTION:
        raise InvalidInput(
            f"A description has at most {MAX_DESCRIPTION} characters; this one has {len(description)}.",
            code="invalid_description",
        )


def _tags(team_id: int, names: Iterable[str]) -> list[Tag]:
    """The team's tags with these names, created as needed (lower-cased, trimmed)."""
    cleaned = sorted({name.strip().lower() for name in names if name.strip()})
    if len(cleaned) > MAX_TAGS or any(len(name) > 50 for name in cleaned):
        raise InvalidInput(f"At most {MAX_TAGS} tags of at most 50 characters.", code="invalid_tags")
    return [Tag.objects.get_or_create(team_id=team_id, name=name)[0] for name in cleaned]


def _thumbnail(files: storage.NewFiles, team_id: int, data: bytes | None) -> str:
    """Store a before/after thumbnail (any accepted image type) and return its name ('' if none)."""
    if data is None:
        return ""
    photo = uploads.decode_photo(data, max_bytes=8 * 1024 * 1024, max_pixels=THUMBNAIL_MAX_PIXELS)
    return files.write(storage.unique_name(f"teams/{team_id}/vectors", photo.extension), data)


def create_edit_vector(
    user: Any,
    model: GeneratorModel,
    data: bytes,
    name: str,
    *,
    description: str = "",
    tags: Iterable[str] = (),
    label_indices: Iterable[int] | None = None,
    scales: tuple[float, float, float] = (1.0, -2.0, 2.0),
    source_image: Image | None = None,
    loss_curve: list[float] | None = None,
    thumbnails: tuple[bytes | None, bytes | None] = (None, None),
    job: Any = None,
) -> EditVector:
    """Add a vector file to the library of ``model``'s team (owners and editors; jobs as their requester).

    The file must fit ``model`` (weights hash and W+ shape). Labels, settings, losses and region
    come from the file's metadata unless given. A re-run of the same job returns its first vector.
    """
    require(user, model.team, Action.MANAGE_LIBRARY)
    if job is not None and (existing := EditVector.objects.filter(job=job).first()) is not None:
        return existing
    if not name.strip():
        raise InvalidInput("A vector needs a name.", code="invalid_name")
    check_description(description.strip())
    if source_image is not None and source_image.model_id != model.pk:
        raise IncompatibleVector("The source image belongs to another model.")
    check_scales(*scales)
    metadata = check_vector_file(data, model)
    indices = set(label_indices if label_indices is not None else metadata.get("labels") or [])
    labels = list(model.labels.filter(index__in=indices))
    if len(labels) != len(indices):
        raise InvalidInput(
            "The vector names labels that the model's taxonomy does not have.", code="unknown_label"
        )
    folder = f"teams/{model.team_id}/vectors"
    with storage.new_files() as files, transaction.atomic():
        vector = EditVector.objects.create(
            team=model.team,
            model=model,
            name=name.strip()[:100],
            description=description.strip(),
            vector=files.write(storage.unique_name(folder, ".safetensors"), data),
            author=user,
            source_image=source_image,
            job=job,
            settings=metadata.get("settings") or {},
            loss_curve=loss_curve or metadata.get("loss_curve") or [],
            final_losses=metadata.get("losses") or {},
            region=metadata.get("region") or {},
            default_scale=scales[0],
            min_scale=scales[1],
            max_scale=scales[2],
            thumbnail_before=_thumbnail(files, model.team_id, thumbnails[0]),
            thumbnail_after=_thumbnail(files, model.team_id, thumbnails[1]),
        )
        vector.labels.set(labels)
        vector.tags.set(_tags(model.team_id, tags))
        created = events.vector_changed("vector.created", vector.pk)
        events.publish_after_commit(events.team_group(model.team_id), created)
    return vector


def update_edit_vector(user: Any, vector: EditVector, **changes: Any) -> EditVector:
    """Change a vector's name, description, tags or scales (owners and editors)."""
    require(user, vector.team, Action.MANAGE_LIBRARY)
    if "name" in changes and not str(changes["name"]).strip():
        raise InvalidInput("A vector needs a name.", code="invalid_name")
    if "description" in changes:
        check_description(str(changes["description"]).strip())
    scales = tuple(
        changes.get(key, getattr(vector, key)) for key in ("default_scale", "min_scale", "max_scale")
    )
    check_scales(*scales)
    with transaction.atomic():
        for key in ("name", "description", "default_scale", "min_scale", "max_scale"):
            if key in changes:
                setattr(vector, key, changes[key].strip() if isinstance(changes[key], str) else changes[key])
        vector.save()
        if "tags" in changes:
            vector.tags.set(_tags(vector.team_id, changes["tags"]))
        updated = events.vector_changed("vector.updated", vector.pk)
        events.publish_after_commit(events.team_group(vector.team_id), updated)
    return vector


def delete_edit_vector(user: Any, vector: EditVector) -> None:
    """Delete a vector that no edit session uses (owners and editors)."""
    require(user, vector.team, Action.MANAGE_LIBRARY)
    if vector.stack_entries.exists():
        raise Conflict(
            "Edit sessions use this vector; remove it from their stacks first.", code="vector_in_use"
        )
    names = [vector.vector.name, vector.thumbnail_before.name, vector.thumbnail_after.name]
    with transaction.atomic():
        vector_id, team_id = vector.pk, vector.team_id
        vector.delete()
        transaction.on_commit(lambda: storage.delete_files(names))
        deleted = events.vector_changed("vector.deleted", vector_id)
        events.publish_after_commit(events.team_group(team_id), deleted)


def check_applicable(vector: EditVector, model: GeneratorModel, scale: float) -> None:
    """Refuse applying ``vector`` to an image of ``model``, or at a scale outside its allowed range."""
    if vector.model_id != model.pk or vector.model.weights_hash != model.weights_hash:
        raise IncompatibleVector(
            f"Vector {vector.name!r} was made with model {vector.model.name!r} (id {vector.model_id}); "
            f"it cannot be applied to an image of model {model.name!r} (id {model.pk})."
        )
    if not (math.isfinite(scale) and vector.min_scale <= scale <= vector.max_scale):
        raise InvalidInput(
            f"Scale {scale} is outside this vector's allowed range [{vector.min_scale}, {vector.max_scale}].",
            code="scale_out_of_range",
        )


def record_use(vector: EditVector) -> None:
    """Count one more application of ``vector``."""
    EditVector.objects.filter(pk=vector.pk).update(usage_count=F("usage_count") + 1)
