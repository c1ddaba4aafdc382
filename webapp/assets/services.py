"""Registering models and creating, changing and deleting images; jobs store latents through here."""

from __future__ import annotations

import logging
import uuid
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import transaction

from editing_engine import formats
from webapp.errors import Conflict, InvalidInput
from webapp.teams.models import Team
from webapp.teams.permissions import Action, require

from . import model_store, storage, uploads
from .model_files import describe_model_dir, parse_labels
from .models import GeneratorModel, Image, PartLabel

logger = logging.getLogger(__name__)


def register_model(team: Team, path: Path, name: str = "") -> tuple[GeneratorModel, bool]:
    """Register the model directory ``path`` in ``team`` (operators only: no user check).

    Idempotent: the same weights are registered once per team. When the weights at a path
    change, the new model is registered and older models from that path are deactivated, so
    existing latents and vectors keep pointing at the weights they were made with.
    Returns the model and whether it was created.
    """
    path = Path(path).resolve()
    description = describe_model_dir(path)
    if not storage.is_filesystem():
        # Worker hosts without this directory fetch the model from media storage (model_store).
        model_store.publish_model_dir(path, description.weights_hash)
    with transaction.atomic():
        existing = GeneratorModel.objects.filter(team=team, weights_hash=description.weights_hash).first()
        if existing is not None:
            return existing, False
        GeneratorModel.objects.filter(team=team, path=str(path)).update(is_active=False)
        model = GeneratorModel.objects.create(
            team=team,
            name=name or str(description.metadata.get("name") or path.name),
            path=str(path),
            config=description.config,
            resolution=description.resolution,
            num_ws=description.num_ws,
            w_dim=description.w_dim,
            weights_hash=description.weights_hash,
            metadata=description.metadata,
        )
        PartLabel.objects.bulk_create(
            PartLabel(
                model=model, index=index, name=label.name, colour=label.colour, is_context=label.context
            )
            for index, label in enumerate(description.labels)
        )
    return model, True


def update_taxonomy(user: Any, model: GeneratorModel, raw_labels: object) -> GeneratorModel:
    """Rename, recolour or re-flag a model's labels, or append new ones while no branch exists.

    ``raw_labels`` is the whole taxonomy in index order (``[{"name", "colour", "context"}]``).
    Indices are what masks store, so labels are never removed or reordered; a branch predicts a
    fixed number of labels, so labels are only appended before the model's first branch.
    """
    require(user, model.team, Action.EDIT)
    specs = parse_labels(raw_labels)
    existing = list(model.labels.order_by("index"))
    if len(specs) < len(existing):
        raise InvalidInput(
            f"The taxonomy has {len(existing)} labels; labels cannot be removed (masks store their indices).",
            code="labels_removed",
        )
    if len(specs) > len(existing) and model.branches.exists():
        raise Conflict(
            "This model already has a trained branch, which predicts a fixed set of labels; "
            "labels can only be added before the first branch is trained.",
            code="has_branches",
        )
    with transaction.atomic():
        for label, spec in zip(existing, specs, strict=False):
            label.name, label.colour, label.is_context = f"~{uuid.uuid4().hex}", spec.colour, spec.context
        # Names are unique per model: park them, so that two labels may swap names in one save.
        PartLabel.objects.bulk_update(existing, ["name", "colour", "is_context"])
        for label, spec in zip(existing, specs, strict=False):
            label.name = spec.name
        PartLabel.objects.bulk_update(existing, ["name"])
        PartLabel.objects.bulk_create(
            PartLabel(model=model, index=index, name=spec.name, colour=spec.colour, is_context=spec.context)
            for index, spec in enumerate(specs[len(existing) :], start=len(existing))
        )
    return model


def register_bundled_model_for_new_team(team: Team) -> GeneratorModel | None:
    """Give a new team the server's default model (PARTEDIT_MODEL_PATH) when the operator enabled it."""
    if not getattr(settings, "PARTEDIT_REGISTER_MODEL_FOR_NEW_TEAMS", True):
        return None
    try:
        model, _ = register_model(team, Path(settings.PARTEDIT_MODEL_PATH), "Demo model")
    except InvalidInput as error:
        logger.warning("could not register the default model for team %s: %s", team.pk, error.message)
        return None
    return model


def _check_model_usable(model: GeneratorModel) -> None:
    """New work only goes to active models."""
    if not model.is_active:
        raise InvalidInput(
            f"Model {model.name} has been retired; use the team's current model.", code="model_inactive"
        )


def _image_folder(team: Team) -> str:
    """Where a team's image files live under MEDIA_ROOT."""
    return f"teams/{team.pk}/images"


def create_uploaded_image(
    user: Any,
    model: GeneratorModel,
    data: bytes,
    name: str = "",
    crop: tuple[int | None, int | None, int | None] = (None, None, None),
) -> Image:
    """Store an uploaded photo (kept byte for byte) and its crop normalized to the model's resolution."""
    require(user, model.team, Action.EDIT)
    _check_model_usable(model)
    with uploads.decode_slot(settings.PARTEDIT_UPLOAD_DECODES):
        photo = uploads.normalize_upload(
            data,
            crop,
            model.resolution,
            max_bytes=settings.PARTEDIT_MAX_UPLOAD_BYTES,
            max_pixels=settings.PARTEDIT_MAX_UPLOAD_PIXELS,
        )
    folder = _image_folder(model.team)
    with storage.new_files() as files, transaction.atomic():
        return Image.objects.create(
            team=model.team,
            model=model,
            name=name.strip()[:200],
            source=Image.Source.UPLOAD,
            original=files.write(storage.unique_name(folder, photo.extension), data),
            original_format=photo.format,
            original_width=photo.width,
            original_height=photo.height,
            crop_box=photo.box,
            normalized=files.write(storage.unique_name(folder, ".png"), photo.png),
            created_by=user,
        )


def create_sampled_image(
    user: Any, model: GeneratorModel, seed: int, truncation_psi: float, name: str = ""
) -> Image:
    """Record a generator sample for a job to render (pixels and latent arrive via ``store_sample``)."""
    require(user, model.team, Action.EDIT)
    _check_model_usable(model)
    if not 0 <= seed < 2**32:
        raise InvalidInput("The seed must be between 0 and 2^32 - 1.", code="invalid_seed")
    if not -2.0 <= truncation_psi <= 2.0:
        raise InvalidInput("truncation_psi must be between -2 and 2.", code="invalid_psi")
    return Image.objects.create(
        team=model.team,
        model=model,
        name=name.strip()[:200] or f"seed {seed}",
        source=Image.Source.SAMPLE,
        seed=seed,
        truncation_psi=truncation_psi,
        created_by=user,
    )


def rename_image(user: Any, image: Image, name: str) -> Image:
    """Rename an image."""
    require(user, image.team, Action.EDIT)
    image.name = name.strip()[:200]
    image.save(update_fields=["name", "updated_at"])
    return image


def delete_image(user: Any, image: Image) -> None:
    """Delete an image that has no annotations (annotated work is never deleted by accident)."""
    require(user, image.team, Action.EDIT)
    if image.annotation_versions.exists():
        raise Conflict(
            "This image has annotations; it cannot be deleted (an operator can remove it in the admin).",
            code="has_annotations",
        )
    names = [image.original.name, image.normalized.name, image.latent.name, image.reconstruction.name]
    with transaction.atomic():
        image.delete()
        transaction.on_commit(lambda: storage.delete_files(names))


def check_latent(model: GeneratorModel, data: bytes) -> None:
    """Refuse latent bytes that are not a W+ latent (tensor ``ws``) of ``model``'s shape."""
    try:
        header = formats.read_header(data)
    except formats.VectorError as error:
        raise InvalidInput(f"The latent file is malformed: {error}", code="invalid_latent") from error
    info = header.tensors.get("ws")
    expected = [(1, model.num_ws, model.w_dim), (model.num_ws, model.w_dim)]
    if info is None or info.shape not in expected or info.dtype != "F32":
        raise InvalidInput(
            f"A latent for this model is a float32 tensor 'ws' of shape {list(expected[0])}.",
            code="invalid_latent",
        )


def set_image_status(image: Image, status: str, message: str = "") -> Image:
    """Record where the latent computation of an image stands (called by jobs)."""
    image.status = status
    image.status_message = message
    image.save(update_fields=["status", "status_message", "updated_at"])
    return image


def store_latent(
    image: Image,
    latent: bytes,
    embedding_error: float | None = None,
    metrics: dict[str, Any] | None = None,
    reconstruction: bytes | None = None,
) -> Image:
    """Store an image's W+ latent, its reconstruction quality and rendering (called by jobs; idempotent)."""
    check_latent(image.model, latent)
    old = [name for name in (image.latent.name, image.reconstruction.name if reconstruction else "") if name]
    with storage.new_files() as files, transaction.atomic():
        folder = _image_folder(image.team)
        image.latent = files.write(storage.unique_name(folder, ".safetensors"), latent)
        if reconstruction is not None:
            image.reconstruction = files.write(storage.unique_name(folder, ".png"), reconstruction)
        image.embedding_error = embedding_error
        image.embedding_metrics = metrics or {}
        image.status, image.status_message = Image.Status.READY, ""
        image.save()
        if old:
            transaction.on_commit(lambda: storage.delete_files(old))
    return image


def store_sample(image: Image, png: bytes, latent: bytes) -> Image:
    """Store a sampled image's rendered pixels (PNG at model resolution) and latent (called by jobs)."""
    if image.source != Image.Source.SAMPLE:
        raise InvalidInput("Only sampled images get rendered pixels.", code="not_a_sample")
    photo = uploads.decode_photo(png, max_bytes=len(png), max_pixels=image.model.resolution**2)
    if photo.format != "PNG" or photo.pixels.size != (image.model.resolution, image.model.resolution):
        raise InvalidInput("A sample must be a PNG at the model's resolution.", code="invalid_sample")
    old = image.normalized.name
    with storage.new_files() as files, transaction.atomic():
        image.normalized = files.write(storage.unique_name(_image_folder(image.team), ".png"), png)
        image.save(update_fields=["normalized", "updated_at"])
        store_latent(image, latent)
        if old:
            transaction.on_commit(lambda: storage.delete_files([old]))
    return image
