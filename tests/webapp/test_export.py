"""COCO export of a team's current annotations: the zip's layout and RLE that decodes back exactly."""

from __future__ import annotations

import io
import json
import zipfile
from typing import Any

import numpy as np
import pytest
from PIL import Image as PILImage

from tests.webapp.factories import RESOLUTION, mask_png, png_bytes
from webapp.annotations.coco import bbox, rle_encode
from webapp.annotations.services import save_annotation_version
from webapp.teams.models import Role

pytestmark = pytest.mark.django_db


def rle_decode(rle: dict[str, Any]) -> np.ndarray:
    """Decode COCO uncompressed RLE (column-major runs, zeros first) independently of the encoder."""
    height, width = rle["size"]
    flat = np.zeros(height * width, dtype=bool)
    position, value = 0, False
    for count in rle["counts"]:
        flat[position : position + count] = value
        position, value = position + count, not value
    assert position == height * width
    return flat.reshape((width, height)).T


@pytest.mark.parametrize("seed", range(5))
def test_rle_round_trips_random_masks(seed: int) -> None:
    rng = np.random.default_rng(seed)
    binary = rng.random((7, 11)) < rng.random()
    rle = rle_encode(binary)
    assert np.array_equal(rle_decode(rle), binary)
    assert sum(rle["counts"]) == binary.size


def test_rle_of_a_mask_starting_with_foreground_starts_with_zero() -> None:
    binary = np.ones((2, 2), bool)
    assert rle_encode(binary)["counts"] == [0, 4]
    assert bbox(np.pad(binary, ((1, 0), (3, 0)))) == [3, 1, 2, 2]


@pytest.fixture
def exported(make_user: Any, make_team: Any, make_model: Any, make_image: Any, client_for: Any) -> Any:
    """A team with two annotated images (one with two versions) and one unannotated, exported as a zip."""
    owner, viewer = make_user("owner"), make_user("viewer")
    team = make_team("Lab", {owner: Role.OWNER, viewer: Role.VIEWER})
    model = make_model(team)
    first, second, _ = make_image(model, "one"), make_image(model, "two"), make_image(model, "three")
    masks = {}
    old = np.zeros((RESOLUTION, RESOLUTION), np.uint8)
    save_annotation_version(owner, first, mask_png(old), None)
    masks[first.pk] = np.zeros((RESOLUTION, RESOLUTION), np.uint8)
    masks[first.pk][2:6, 3:9], masks[first.pk][10:, :] = 1, 3
    save_annotation_version(owner, first, mask_png(masks[first.pk]), 1)
    masks[second.pk] = np.full((RESOLUTION, RESOLUTION), 2, np.uint8)
    save_annotation_version(owner, second, mask_png(masks[second.pk]), None)
    response = client_for(viewer).get(f"/api/teams/{team.pk}/export/coco/")
    assert response.status_code == 200 and response["Content-Type"] == "application/zip"
    archive = zipfile.ZipFile(io.BytesIO(b"".join(response.streaming_content)))
    return archive, json.loads(archive.read("annotations.json")), masks


def test_zip_holds_annotations_images_masks_and_originals(exported: Any) -> None:
    archive, document, masks = exported
    names = set(archive.namelist())
    for entry in document["images"]:
        extra = entry["partedit"]
        assert {entry["file_name"], extra["mask_file"], extra["original_file"]} <= names
        assert archive.read(extra["original_file"]) == png_bytes()
        mask = np.asarray(PILImage.open(io.BytesIO(archive.read(extra["mask_file"]))))
        assert np.array_equal(mask, masks[entry["id"]])
    assert len(document["images"]) == 2
    assert [c["name"] for c in document["categories"]] == ["skin", "eyes", "mouth"]


def test_rle_annotations_decode_back_to_the_current_masks(exported: Any) -> None:
    _, document, masks = exported
    category_index = {c["id"]: index + 1 for index, c in enumerate(document["categories"])}
    rebuilt = {entry["id"]: np.zeros((RESOLUTION, RESOLUTION), np.uint8) for entry in document["images"]}
    for annotation in document["annotations"]:
        binary = rle_decode(annotation["segmentation"])
        assert annotation["iscrowd"] == 1 and annotation["area"] == int(binary.sum())
        x, y, w, h = annotation["bbox"]
        assert binary[y : y + h, x : x + w].sum() == binary.sum()
        rebuilt[annotation["image_id"]][binary] = category_index[annotation["category_id"]]
    for image_id, values in rebuilt.items():
        assert np.array_equal(values, masks[image_id])
    assert len({a["id"] for a in document["annotations"]}) == len(document["annotations"]) == 3
