"""The edit-vector library: file checks, provenance, filters, scales, and refusing other models' vectors."""

from __future__ import annotations

import io
import json
from typing import Any

import numpy as np
import pytest
from safetensors.numpy import save

from tests.webapp.factories import png_bytes, vector_bytes
from webapp.errors import InvalidInput
from webapp.library import services
from webapp.library.models import EditVector
from webapp.library.vector_files import IncompatibleVector
from webapp.teams.models import Role

pytestmark = pytest.mark.django_db


@pytest.fixture
def lab(make_user: Any, make_team: Any, make_model: Any, make_image: Any, client_for: Any) -> Any:
    """An editor, an annotator, their team's model and image."""
    editor, annotator = make_user("editor"), make_user("ann")
    team = make_team("Lab", {editor: Role.EDITOR, annotator: Role.ANNOTATOR, make_user("owner"): Role.OWNER})
    model = make_model(team)
    return {
        "editor": editor,
        "annotator": annotator,
        "model": model,
        "image": make_image(model),
        "client": client_for(editor),
        "ann_client": client_for(annotator),
    }


def test_engine_written_vectors_are_accepted(lab: Any) -> None:
    import torch

    from editing_engine.vectors import EditVector as EngineVector
    from editing_engine.vectors import vector_to_bytes

    model = lab["model"]
    data = vector_to_bytes(
        EngineVector(
            delta=torch.ones(model.num_ws, model.w_dim),
            model_hash=model.weights_hash,
            labels=[1, 3],
            settings={"steps": 30},
            losses={"total": 0.2},
        )
    )

    vector = services.create_edit_vector(
        lab["editor"], model, data, "bigger mouth", tags=["Smile", " mouth "]
    )

    assert sorted(label.name for label in vector.labels.all()) == ["mouth", "skin"]
    assert sorted(tag.name for tag in vector.tags.all()) == ["mouth", "smile"]
    assert vector.settings == {"steps": 30} and vector.final_losses == {"total": 0.2}


def test_job_vectors_carry_provenance_and_are_created_once(lab: Any) -> None:
    from webapp.jobs.models import Job

    model = lab["model"]
    job = Job.objects.create(team=model.team, type="optimize_edit", queue="gpu")
    kwargs = {
        "source_image": lab["image"],
        "loss_curve": [0.5, 0.3, 0.1],
        "job": job,
        "thumbnails": (png_bytes((16, 16)), png_bytes((16, 16), (0, 0, 255))),
    }

    first = services.create_edit_vector(lab["editor"], model, vector_bytes(model), "v", **kwargs)
    again = services.create_edit_vector(lab["editor"], model, vector_bytes(model), "v", **kwargs)

    assert first == again and EditVector.objects.count() == 1
    assert first.source_image == lab["image"] and first.loss_curve == [0.5, 0.3, 0.1]
    body = lab["client"].get(f"/api/vectors/{first.pk}/").json()
    assert body["job"] == job.pk and body["author"] == "editor" and body["files"]["after"]
    after = lab["client"].get(body["files"]["after"])
    assert b"".join(after.streaming_content) == png_bytes((16, 16), (0, 0, 255))


def upload(client: Any, model: Any, data: bytes, **fields: Any) -> Any:
    """POST a vector file to the library."""
    file = io.BytesIO(data)
    file.name = "v.safetensors"
    body = {"model": model.pk, "file": file, "name": "v", **fields}
    return client.post("/api/vectors/", body, format="multipart")


def test_upload_and_download_a_vector_file(lab: Any) -> None:
    data = vector_bytes(lab["model"])
    response = upload(lab["client"], lab["model"], data, tags=["a", "b"], default_scale=0.5)

    assert response.status_code == 201, response.json()
    body = response.json()
    assert (
        body["tags"] == ["a", "b"] and body["default_scale"] == 0.5 and body["labels"][0]["name"] == "mouth"
    )
    file = lab["client"].get(body["files"]["vector"])
    assert b"".join(file.streaming_content) == data


def test_vectors_of_another_model_are_refused(lab: Any, make_model: Any) -> None:
    other = make_model(lab["model"].team, weights_hash="b" * 64, name="other")
    response = upload(lab["client"], lab["model"], vector_bytes(other))

    error = response.json()["error"]
    assert response.status_code == 400 and error["code"] == "incompatible_vector"
    assert "another generator model" in error["message"]
    assert not EditVector.objects.exists()


@pytest.mark.parametrize(
    ("data", "code"),
    [
        (b"not safetensors", "invalid_vector"),
        (save({"delta": np.zeros((6, 8), np.float32)}), "invalid_vector"),
        ("wrong-shape", "incompatible_vector"),
        ("float64", "invalid_vector"),
        ("nan", "invalid_vector"),
        ("unknown-label", "unknown_label"),
    ],
)
def test_malformed_vector_files_are_refused(lab: Any, data: Any, code: str) -> None:
    model = lab["model"]
    built = {
        "wrong-shape": lambda: vector_bytes(model, delta=np.zeros((5, 8), np.float32), w_plus_shape=[5, 8]),
        "float64": lambda: vector_bytes(model, delta=np.zeros((6, 8), np.float64)),
        "nan": lambda: vector_bytes(model, delta=np.full((6, 8), np.nan, np.float32)),
        "unknown-label": lambda: vector_bytes(model, labels=[9]),
    }
    payload = built[data]() if isinstance(data, str) else data

    response = upload(lab["client"], model, payload)

    assert response.status_code == 400 and response.json()["error"]["code"] == code


@pytest.mark.parametrize(
    "metadata",
    [
        {"labels": "abc"},
        {"labels": {"a": 1}},
        {"labels": [[1]]},
        {"labels": 5},
        {"labels": [1.5]},
        {"labels": [True]},
        {"settings": "x"},
        {"w_plus_shape": None},
        "deep",
        {"settings": {"lr": float("nan")}},
        {"name": "a\x00b"},
        {"source": {"note\x00": 1}},
    ],
    ids=repr,
)
def test_vectors_with_malformed_metadata_are_refused_before_storing(lab: Any, metadata: Any) -> None:
    meta = {
        "format": "partedit-edit-vector/v1", "model_hash": lab["model"].weights_hash, "labels": [3],
        "w_plus_shape": [lab["model"].num_ws, lab["model"].w_dim], "region": {"deep": None},
    }
    meta = {key: value for key, value in {**meta, **(metadata if metadata != "deep" else {})}.items()
            if value is not None}
    text = json.dumps(meta).replace('{"deep": null}', "[" * 100_000 + "]" * 100_000)
    data = save({"delta": np.zeros((6, 8), np.float32)}, metadata={"partedit": text})

    response = upload(lab["client"], lab["model"], data)

    assert response.status_code == 400, response.content
    assert response.json()["error"]["code"] == "invalid_vector"
    assert not EditVector.objects.exists()


def test_a_deeply_nested_safetensors_header_is_refused(lab: Any) -> None:
    header = b'{"x": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    data = len(header).to_bytes(8, "little") + header

    response = upload(lab["client"], lab["model"], data)

    assert response.status_code == 400 and response.json()["error"]["code"] == "invalid_vector"


@pytest.mark.parametrize("scales", [(3.0, -2.0, 2.0), (0.0, 1.0, 1.0), (0.0, 1.0, -1.0)])
def test_scale_ranges_are_checked(lab: Any, scales: tuple[float, float, float]) -> None:
    with pytest.raises(InvalidInput) as error:
        services.create_edit_vector(
            lab["editor"], lab["model"], vector_bytes(lab["model"]), "v", scales=scales
        )
    assert error.value.code == "invalid_scales"


def test_library_filters(lab: Any, make_user: Any) -> None:
    model, editor = lab["model"], lab["editor"]
    services.create_edit_vector(editor, model, vector_bytes(model, labels=[2]), "wide eyes", tags=["eyes"])
    services.create_edit_vector(
        editor,
        model,
        vector_bytes(model, labels=[3]),
        "smile",
        tags=["mouth", "happy"],
        description="corners up",
    )
    client = lab["ann_client"]

    def names(query: str) -> list[str]:
        return sorted(v["name"] for v in client.get(f"/api/vectors/?{query}").json()["results"])

    assert names("label=eyes") == ["wide eyes"]
    assert names("tag=HAPPY") == ["smile"]
    assert names("author=editor") == ["smile", "wide eyes"] and names("author=ann") == []
    assert names(f"model={model.pk}&tag=mouth") == ["smile"]
    assert names("q=corners") == ["smile"]
    tags = client.get("/api/tags/").json()["results"]
    assert [(t["name"], t["vector_count"]) for t in tags] == [("eyes", 1), ("happy", 1), ("mouth", 1)]


def test_update_and_delete(lab: Any) -> None:
    vector = services.create_edit_vector(lab["editor"], lab["model"], vector_bytes(lab["model"]), "v")
    client = lab["client"]

    updated = client.patch(f"/api/vectors/{vector.pk}/", {"name": "renamed", "tags": ["x"], "max_scale": 4})
    bad = client.patch(f"/api/vectors/{vector.pk}/", {"default_scale": 5})

    assert (
        updated.status_code == 200 and updated.json()["name"] == "renamed" and updated.json()["tags"] == ["x"]
    )
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "invalid_scales"
    assert client.delete(f"/api/vectors/{vector.pk}/").status_code == 204
    assert not EditVector.objects.exists()


def test_check_applicable_names_both_models(lab: Any, make_model: Any) -> None:
    vector = services.create_edit_vector(lab["editor"], lab["model"], vector_bytes(lab["model"]), "smile")
    other = make_model(lab["model"].team, weights_hash="c" * 64, name="faces-v2")

    with pytest.raises(IncompatibleVector, match="faces-v2"):
        services.check_applicable(vector, other, 1.0)
    with pytest.raises(InvalidInput, match="outside"):
        services.check_applicable(vector, lab["model"], 2.5)
    services.check_applicable(vector, lab["model"], -2.0)
