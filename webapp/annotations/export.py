"""Exports: a team's current annotations as COCO (RLE) with images and masks, in one zip."""

from __future__ import annotations

import json
import tempfile
import zipfile
from datetime import UTC, datetime
from typing import IO, Any

import numpy as np
from PIL import Image as PILImage

from webapp.assets.models import GeneratorModel
from webapp.assets.storage import open_stored, read_bytes
from webapp.teams.models import Team

from .coco import categories, mask_annotations
from .models import AnnotationVersion


def current_versions(team: Team) -> list[AnnotationVersion]:
    """The current annotation version of every annotated image of ``team``, oldest image first."""
    latest: dict[int, AnnotationVersion] = {}
    versions = AnnotationVersion.objects.filter(image__team=team).select_related("image", "author")
    for version in versions.order_by("image_id", "-number"):
        latest.setdefault(version.image_id, version)
    return list(latest.values())


def _image_entry(version: AnnotationVersion) -> dict[str, Any]:
    """The COCO ``images`` entry of an annotated image, with PartEdit's extra facts."""
    image = version.image
    stored = image.original.name
    original = f"originals/{image.pk}.{stored.rsplit('.', 1)[-1]}" if stored else None
    return {
        "id": image.pk,
        "file_name": f"images/{image.pk}.png",
        "width": image.model.resolution,
        "height": image.model.resolution,
        "date_captured": image.created_at.isoformat(),
        "partedit": {
            "name": image.name,
            "model_id": image.model_id,
            "source": image.source,
            "seed": image.seed,
            "truncation_psi": image.truncation_psi,
            "mask_file": f"masks/{image.pk}.png",
            "original_file": original,
            "crop_box": image.crop_box,
            "annotation_version": version.number,
            "annotation_author": version.author.get_username() if version.author else None,
        },
    }


def coco_document(team: Team, versions: list[AnnotationVersion]) -> dict[str, Any]:
    """The COCO JSON of ``versions``: images, one category per non-background label, RLE annotations."""
    models = GeneratorModel.objects.filter(team=team).prefetch_related("labels")
    triples = [(model.pk, label.index, label.name) for model in models for label in model.labels.all()]
    category_list, category_ids = categories(triples, {model.pk: model.name for model in models})
    annotations: list[dict[str, Any]] = []
    for version in versions:
        with open_stored(version.mask.name) as file, PILImage.open(file) as mask:
            values = np.asarray(mask, dtype=np.uint8)
        ids = {
            index: cid
            for (model_id, index), cid in category_ids.items()
            if model_id == version.image.model_id
        }
        annotations += mask_annotations(values, version.image_id, ids, first_id=len(annotations) + 1)
    return {
        "info": {
            "description": f"PartEdit annotations of team {team.name}",
            "version": "1",
            "date_created": datetime.now(UTC).isoformat(timespec="seconds"),
        },
        "licenses": [],
        "images": [_image_entry(version) for version in versions],
        "categories": category_list,
        "annotations": annotations,
    }


def team_coco_zip(team: Team) -> IO[bytes]:
    """A temporary zip file (rewound) with annotations.json, images/, masks/ and originals/."""
    versions = current_versions(team)
    document = coco_document(team, versions)
    archive_file = tempfile.TemporaryFile()  # noqa: SIM115 (returned open; the response closes it)
    with zipfile.ZipFile(archive_file, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("annotations.json", json.dumps(document, indent=1))
        for version, entry in zip(versions, document["images"], strict=True):
            image = version.image
            archive.writestr(entry["partedit"]["mask_file"], read_bytes(version.mask.name))
            if image.normalized:
                archive.writestr(entry["file_name"], read_bytes(image.normalized.name))
            if image.original:
                archive.writestr(entry["partedit"]["original_file"], read_bytes(image.original.name))
    archive_file.seek(0)
    return archive_file
