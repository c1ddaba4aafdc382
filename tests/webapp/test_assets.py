"""Generator model registration (torch-free), images, their files and latents."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from django.core.management import CommandError, call_command
from safetensors.numpy import save

from editing_engine.formats import generator_weights_hash
from tests.webapp.factories import latent_bytes, png_bytes
from webapp.assets import services
from webapp.assets.model_files import parse_labels
from webapp.assets.models import GeneratorModel, Image, PartLabel
from webapp.assets.storage import media_path
from webapp.errors import Conflict, InvalidInput
from webapp.teams.models import Role

pytestmark = pytest.mark.django_db

TAXONOMY = {
    "labels": [
        {"name": "background", "colour": "#000000", "context": True},
        {"name": "part", "colour": "#FF0000"},
    ]
}


@pytest.fixture
def model_dir(tiny_model_dir: Path, tmp_path: Path) -> Path:
    """A copy of the tiny engine checkpoint with a two-label taxonomy beside it."""
    directory = tmp_path / "model"
    shutil.copytree(tiny_model_dir, directory)
    (directory / "labels.json").write_text(json.dumps(TAXONOMY))
    return directory


def test_weights_hash_matches_the_engine(model_dir: Path) -> None:
    from editing_engine.checkpoints import load_generator

    assert generator_weights_hash(model_dir / "weights.safetensors") == load_generator(model_dir).weights_hash


def test_register_model_reads_config_and_taxonomy_and_is_idempotent(make_team: Any, model_dir: Path) -> None:
    team = make_team("Lab")

    model, created = services.register_model(team, model_dir, "tiny")
    again, created_again = services.register_model(team, model_dir, "tiny")

    assert created and not created_again and again == model
    assert (model.resolution, model.num_ws, model.w_dim) == (16, 6, 32)
    assert [(label.index, label.name, label.colour, label.is_context) for label in model.labels.all()] == [
        (0, "background", "#000000", True),
        (1, "part", "#ff0000", False),
    ]
    assert model.context_label_indices() == (0,)


def test_context_flags_are_json_booleans_and_default_to_false() -> None:
    raw = [
        {"name": "background", "colour": "#000000", "context": False},
        {"name": "skin", "colour": "#e6b48c", "context": True},
        {"name": "eyes", "colour": "#fafafa"},
    ]
    assert [label.context for label in parse_labels(raw)] == [False, True, False]


@pytest.mark.parametrize("flag", ["yes", "true", 1, 0, None, [True]])
def test_a_context_flag_that_is_not_a_boolean_is_refused(flag: object) -> None:
    raw = [{"name": "bg", "colour": "#000000"}, {"name": "skin", "colour": "#aa0000", "context": flag}]
    with pytest.raises(InvalidInput) as error:
        parse_labels(raw)
    assert error.value.code == "invalid_taxonomy"
    assert error.value.message == "Label 1 has a context flag that is not true or false."


def test_new_weights_at_the_same_path_retire_the_old_model(make_team: Any, model_dir: Path) -> None:
    team = make_team("Lab")
    old, _ = services.register_model(team, model_dir)
    tensors = {"G_ema.mapping.w_avg": np.ones(32, np.float32)}
    (model_dir / "weights.safetensors").write_bytes(save(tensors))

    new, created = services.register_model(team, model_dir)

    old.refresh_from_db()
    assert created and new.is_active and not old.is_active and new.weights_hash != old.weights_hash


@pytest.mark.parametrize(
    ("change", "code"),
    [
        (lambda d: (d / "labels.json").unlink(), "invalid_taxonomy"),
        (
            lambda d: (d / "labels.json").write_text('{"labels": [{"name": "x", "colour": "red"}]}'),
            "invalid_taxonomy",
        ),
        (
            lambda d: (d / "labels.json").write_text('{"labels": [{"name": "x", "colour": "#000000"}] * 2}'),
            "invalid_taxonomy",
        ),
        (
            lambda d: (d / "labels.json").write_text(
                '{"labels": [{"name": "x", "colour": "#000000", "context": "yes"}]}'
            ),
            "invalid_taxonomy",
        ),
        (lambda d: (d / "weights.safetensors").write_bytes(b"junk"), "invalid_model"),
        (lambda d: (d / "config.json").write_text("{}"), "invalid_model"),
    ],
    ids=["no-taxonomy", "bad-colour", "bad-json", "bad-context", "bad-weights", "bad-config"],
)
def test_broken_model_directories_are_refused(
    make_team: Any, model_dir: Path, change: Any, code: str
) -> None:
    change(model_dir)
    with pytest.raises(InvalidInput) as error:
        services.register_model(make_team("Lab"), model_dir)
    assert error.value.code == code
    assert not GeneratorModel.objects.exists() and not PartLabel.objects.exists()


def test_register_demo_model_command(make_team: Any, model_dir: Path, capsys: Any, settings: Any) -> None:
    make_team("Lab")
    make_team("Other")
    settings.PARTEDIT_MODEL_PATH = model_dir

    call_command("register_demo_model", "--team", "lab")
    call_command("register_demo_model")

    out = capsys.readouterr().out
    assert "lab: registered" in out and "lab: already registered" in out and "other: registered" in out
    assert GeneratorModel.objects.count() == 2
    with pytest.raises(CommandError, match="no team with slug nope"):
        call_command("register_demo_model", "--team", "nope")


def test_bundled_demo_model_registers_without_torch(make_team: Any) -> None:
    model, _ = services.register_model(make_team("Lab"), Path("models/demo"))
    assert model.resolution == 64 and model.labels.count() >= 10
    taxonomy = json.loads(Path("models/demo/labels.json").read_text())["labels"]
    assert model.context_label_indices() == tuple(i for i, x in enumerate(taxonomy) if x.get("context"))


@pytest.fixture
def lab(make_user: Any, make_team: Any, make_model: Any, client_for: Any) -> Any:
    """An editor, a viewer, their team's model and one image."""
    editor, viewer = make_user("editor"), make_user("viewer")
    team = make_team("Lab", {editor: Role.OWNER, viewer: Role.VIEWER})
    model = make_model(team)
    image = services.create_uploaded_image(editor, model, png_bytes(), "first")
    return {
        "editor": client_for(editor),
        "viewer": client_for(viewer),
        "model": model,
        "image": image,
        "editor_user": editor,
    }


def test_model_detail_lists_labels_in_order(lab: Any) -> None:
    lab["model"].labels.filter(name__in=["background", "skin"]).update(is_context=True)
    body = lab["viewer"].get(f"/api/models/{lab['model'].pk}/").json()
    assert [label["name"] for label in body["labels"]] == ["background", "skin", "eyes", "mouth"]
    assert [label["is_context"] for label in body["labels"]] == [True, True, False, False]


def test_image_list_filters(lab: Any) -> None:
    viewer = lab["viewer"]
    assert viewer.get("/api/images/?status=pending").json()["count"] == 1
    assert viewer.get("/api/images/?status=ready").json()["count"] == 0
    bad = viewer.get("/api/images/?model=abc")
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "invalid_filter"


def test_image_files_download_with_permission(lab: Any) -> None:
    image = lab["image"]
    original = lab["viewer"].get(f"/api/images/{image.pk}/original/")
    latent = lab["viewer"].get(f"/api/images/{image.pk}/latent/")

    assert original.status_code == 200 and b"".join(original.streaming_content) == png_bytes()
    assert original["Content-Disposition"].startswith("inline")  # an image the browser shows
    assert latent.status_code == 404


def test_rename_and_delete_image(lab: Any, django_capture_on_commit_callbacks: Any) -> None:
    image = lab["image"]
    renamed = lab["editor"].patch(f"/api/images/{image.pk}/", {"name": "renamed", "status": "ready"})
    assert renamed.status_code == 200 and renamed.json()["name"] == "renamed"
    assert renamed.json()["status"] == "pending"

    paths = [media_path(image.original.name), media_path(image.normalized.name)]
    with django_capture_on_commit_callbacks(execute=True):
        assert lab["editor"].delete(f"/api/images/{image.pk}/").status_code == 204
    assert not Image.objects.exists() and not any(path.exists() for path in paths)


def test_annotated_images_are_not_deleted(lab: Any) -> None:
    from tests.webapp.factories import mask_png
    from webapp.annotations.services import save_annotation_version

    image = lab["image"]
    save_annotation_version(lab["editor_user"], image, mask_png(np.zeros((16, 16))), base_version=None)

    with pytest.raises(Conflict):
        services.delete_image(lab["editor_user"], image)


def test_store_latent_checks_shape_and_replaces_the_file(
    lab: Any, django_capture_on_commit_callbacks: Any
) -> None:
    image = lab["image"]
    services.store_latent(image, latent_bytes(), 0.25, {"lpips": 0.1})
    first = image.latent.name
    with django_capture_on_commit_callbacks(execute=True):
        services.store_latent(image, latent_bytes((6, 8)), 0.2)

    image.refresh_from_db()
    assert image.status == "ready" and image.embedding_error == 0.2
    assert not media_path(first).exists() and media_path(image.latent.name).exists()
    for bad in (latent_bytes((1, 7, 8)), latent_bytes(dtype=np.float64), b"not a latent"):
        with pytest.raises(InvalidInput):
            services.store_latent(image, bad)
    image.refresh_from_db()
    assert media_path(image.latent.name).exists()


def test_sampled_images_get_pixels_and_latent_from_their_job(lab: Any) -> None:
    image = services.create_sampled_image(lab["editor_user"], lab["model"], seed=7, truncation_psi=0.7)
    assert image.status == "pending" and image.name == "seed 7" and not image.normalized

    with pytest.raises(InvalidInput):
        services.store_sample(image, png_bytes((8, 8)), latent_bytes())
    services.store_sample(image, png_bytes((16, 16)), latent_bytes())

    image.refresh_from_db()
    assert image.status == "ready" and media_path(image.normalized.name).exists()
    with pytest.raises(InvalidInput):
        services.create_sampled_image(lab["editor_user"], lab["model"], seed=-1, truncation_psi=0.7)


def test_retired_models_take_no_new_images(lab: Any) -> None:
    model = lab["model"]
    model.is_active = False
    model.save()
    with pytest.raises(InvalidInput, match="retired"):
        services.create_uploaded_image(lab["editor_user"], model, png_bytes())
