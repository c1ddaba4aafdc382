"""Annotation versions: mask validation, immutability, the 409 concurrency refusal, branches."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image as PILImage

from tests.webapp.factories import RESOLUTION, huge_png_header, mask_png, png_bytes
from webapp.annotations import services
from webapp.annotations.models import AnnotationVersion, SegmentationBranch
from webapp.assets.storage import media_path
from webapp.errors import InvalidInput
from webapp.teams.models import Role

pytestmark = pytest.mark.django_db


@pytest.fixture
def lab(make_user: Any, make_team: Any, make_model: Any, make_image: Any, client_for: Any) -> Any:
    """A team with an owner and two annotators, and one image."""
    owner, ann, ann2 = make_user("owner"), make_user("ann"), make_user("ann2")
    team = make_team("Lab", {owner: Role.OWNER, ann: Role.ANNOTATOR, ann2: Role.ANNOTATOR})
    image = make_image(make_model(team))
    return {"image": image, "ann": client_for(ann), "ann2": client_for(ann2), "owner": owner, "ann_user": ann}


def parts(value: int = 1) -> np.ndarray:
    """A mask with a square of label ``value`` on background."""
    values = np.zeros((RESOLUTION, RESOLUTION), np.uint8)
    values[4:10, 2:8] = value
    return values


def save(client: Any, image: Any, data: bytes, base: int | None = None, **extra: Any) -> Any:
    """POST a mask as a new annotation version."""
    file = io.BytesIO(data)
    file.name = "mask.png"
    fields = {"mask": file, **extra}
    if base is not None:
        fields["base_version"] = base
    return client.post(f"/api/images/{image.pk}/annotations/", fields, format="multipart")


def test_versions_chain_and_the_latest_is_current(lab: Any) -> None:
    image, client = lab["image"], lab["ann"]

    first = save(client, image, mask_png(parts(1)), note="face")
    second = save(client, image, mask_png(parts(2), mode="P"), base=1)

    assert first.status_code == 201 and second.status_code == 201, second.json()
    assert (first.json()["number"], second.json()["number"]) == (1, 2)
    assert second.json()["parent_number"] == 1 and second.json()["author"] == "ann"
    assert second.json()["label_pixels"] == {"0": RESOLUTION**2 - 36, "2": 36}
    current = client.get(f"/api/images/{image.pk}/annotations/current/").json()
    assert current["number"] == 2
    history = client.get(f"/api/images/{image.pk}/annotations/").json()["results"]
    assert [entry["number"] for entry in history] == [2, 1]
    old = client.get(f"/api/annotations/{first.json()['id']}/mask/")
    decoded = np.asarray(PILImage.open(io.BytesIO(b"".join(old.streaming_content))))
    assert np.array_equal(decoded, parts(1))


def test_current_annotation_exports_as_indexed_png_with_the_taxonomy_palette(lab: Any) -> None:
    image, client = lab["image"], lab["ann"]
    assert client.get(f"/api/images/{image.pk}/annotation.png").status_code == 404
    save(client, image, mask_png(parts(3)))

    response = client.get(f"/api/images/{image.pk}/annotation.png")

    png = PILImage.open(io.BytesIO(b"".join(response.streaming_content)))
    assert response["Content-Type"] == "image/png" and png.mode == "P"
    assert np.array_equal(np.asarray(png), parts(3))
    assert png.getpalette()[3 * 3 : 3 * 4] == [0x5A, 0x14, 0x3C]


def test_stale_base_version_is_refused_with_409_and_the_current_version(lab: Any, media_root: Path) -> None:
    image = lab["image"]
    save(lab["ann"], image, mask_png(parts(1)))
    save(lab["ann"], image, mask_png(parts(2)), base=1)
    files_before = sorted(media_root.rglob("*.png"))

    stale = save(lab["ann2"], image, mask_png(parts(3)), base=1)
    first_again = save(lab["ann2"], image, mask_png(parts(3)))

    assert stale.status_code == 409
    error = stale.json()["error"]
    assert error["code"] == "stale_version" and error["details"]["current"]["number"] == 2
    assert error["details"]["current"]["author"] == "ann"
    assert first_again.status_code == 409
    assert sorted(media_root.rglob("*.png")) == files_before
    assert AnnotationVersion.objects.count() == 2


def test_a_base_that_is_ahead_is_also_refused(lab: Any) -> None:
    response = save(lab["ann"], lab["image"], mask_png(parts(1)), base=5)
    assert response.status_code == 409 and response.json()["error"]["details"]["current"] is None


def rgb_mask() -> bytes:
    """A colour PNG of the right size (an RGB rendering, not label indices)."""
    buffer = io.BytesIO()
    PILImage.new("RGB", (RESOLUTION, RESOLUTION), (255, 0, 0)).save(buffer, format="PNG")
    return buffer.getvalue()


def truncated_mask() -> bytes:
    """A mask PNG cut short in its pixel data."""
    noisy = np.random.default_rng(0).integers(0, 4, (RESOLUTION, RESOLUTION))
    data = mask_png(noisy)
    return data[: len(data) - 30]


@pytest.mark.parametrize(
    ("data", "code"),
    [
        (mask_png(np.zeros((RESOLUTION, RESOLUTION + 1))), "invalid_mask_size"),
        (mask_png(np.zeros((8, 8))), "invalid_mask_size"),
        (mask_png(parts(4)), "unknown_label"),
        (mask_png(parts(255), mode="P"), "unknown_label"),
        (rgb_mask(), "invalid_mask_mode"),
        (png_bytes((RESOLUTION, RESOLUTION), fmt="JPEG"), "unreadable_mask"),
        (truncated_mask(), "unreadable_mask"),
        (b"\x89PNG\r\n\x1a\n" + b"\0" * 40, "unreadable_mask"),
        (huge_png_header(100_000, 100_000), "invalid_mask_size"),
    ],
    ids=[
        "one-column-too-wide",
        "too-small",
        "label-out-of-range",
        "palette-index-255",
        "rgb",
        "jpeg",
        "truncated",
        "garbage",
        "bomb-header",
    ],
)
def test_malformed_masks_are_refused_with_a_clear_400(
    lab: Any, data: bytes, code: str, media_root: Path
) -> None:
    response = save(lab["ann"], lab["image"], data)

    assert response.status_code == 400, response.json()
    assert response.json()["error"]["code"] == code
    assert not AnnotationVersion.objects.exists() and not list(media_root.rglob("teams/*/annotations/*"))


def test_unknown_label_details_list_the_values(lab: Any) -> None:
    values = parts(7)
    values[0, 0] = 9
    error = save(lab["ann"], lab["image"], mask_png(values)).json()["error"]
    assert error["details"] == {"unknown_values": [7, 9], "label_count": 4}


def test_versions_are_immutable(lab: Any) -> None:
    version = services.save_annotation_version(lab["ann_user"], lab["image"], mask_png(parts()), None)
    version.note = "changed"
    with pytest.raises(ValueError, match="immutable"):
        version.save()


def test_saving_publishes_an_event_after_commit(lab: Any, django_capture_on_commit_callbacks: Any) -> None:
    from asgiref.sync import async_to_sync
    from channels.layers import get_channel_layer

    layer = get_channel_layer()
    channel = async_to_sync(layer.new_channel)()
    async_to_sync(layer.group_add)(f"image.{lab['image'].pk}", channel)

    with django_capture_on_commit_callbacks(execute=True):
        services.save_annotation_version(lab["ann_user"], lab["image"], mask_png(parts()), None)

    message = async_to_sync(layer.receive)(channel)
    assert message["event"]["type"] == "annotation.saved" and message["event"]["version"] == 1


def branch_inputs(lab: Any) -> Any:
    """A model and one saved annotation version to train on."""
    version = services.save_annotation_version(lab["ann_user"], lab["image"], mask_png(parts()), None)
    return lab["image"].model, [version]


def test_branches_one_active_per_model(lab: Any) -> None:
    model, versions = branch_inputs(lab)
    first = services.register_segmentation_branch(model, b"w1", versions, {"miou": 0.5})
    second = services.register_segmentation_branch(model, b"w2", versions, {"miou": 0.6})

    first.refresh_from_db()
    assert second.is_active and not first.is_active
    assert services.active_branch(model) == second
    services.activate_segmentation_branch(lab["owner"], first)
    assert services.active_branch(model) == first
    assert list(first.trained_on.all()) == versions
    assert media_path(first.weights.name).read_bytes() == b"w1"


def test_a_rerun_training_job_creates_no_duplicate_branch(lab: Any) -> None:
    from webapp.jobs.models import Job

    model, versions = branch_inputs(lab)
    job = Job.objects.create(team=model.team, type="train_branch", queue="gpu")

    first = services.register_segmentation_branch(model, b"w", versions, {}, job=job)
    again = services.register_segmentation_branch(model, b"w", versions, {}, job=job)

    assert first == again and SegmentationBranch.objects.count() == 1


def test_branches_only_train_on_their_own_model(lab: Any, make_model: Any) -> None:
    _, versions = branch_inputs(lab)
    other = make_model(lab["image"].team, weights_hash="b" * 64)
    with pytest.raises(InvalidInput):
        services.register_segmentation_branch(other, b"w", versions, {})


def test_branch_api(lab: Any) -> None:
    model, versions = branch_inputs(lab)
    branch = services.register_segmentation_branch(
        model, b"w", versions, {"iou": {"skin": 0.9}}, activate=False
    )

    listed = lab["ann"].get(f"/api/branches/?model={model.pk}").json()["results"]
    refused = lab["ann"].post(f"/api/branches/{branch.pk}/activate/")

    assert listed[0]["metrics"] == {"iou": {"skin": 0.9}} and listed[0]["trained_on"] == [versions[0].pk]
    assert refused.status_code == 403


@pytest.mark.django_db(transaction=True)
def test_concurrent_saves_from_one_base_never_both_succeed(lab: Any) -> None:
    """Real concurrency (PostgreSQL row locks): of two saves racing from version 1, exactly one wins."""
    import threading

    from django.db import connection, connections

    if connection.vendor != "postgresql":
        pytest.skip("needs concurrent writers: runs on PostgreSQL (CI)")
    image, user = lab["image"], lab["ann_user"]
    services.save_annotation_version(user, image, mask_png(parts(1)), None)
    barrier, outcomes = threading.Barrier(4), []

    def save_from_version_one(value: int) -> None:
        barrier.wait()
        try:
            services.save_annotation_version(user, image, mask_png(parts(value)), 1)
            outcomes.append("saved")
        except services.StaleVersion:
            outcomes.append("stale")
        finally:
            connections.close_all()

    threads = [threading.Thread(target=save_from_version_one, args=(value,)) for value in (1, 2, 3, 1)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(outcomes) == ["saved", "stale", "stale", "stale"]
    assert list(image.annotation_versions.order_by("number").values_list("number", flat=True)) == [1, 2]
