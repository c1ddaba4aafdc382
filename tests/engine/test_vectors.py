"""Edit-vector and latent files (round trip, refusals, no pickle) and vector composition."""

import pickle
from pathlib import Path

import pytest
import torch

from editing_engine.generator import Generator, GeneratorConfig
from editing_engine.vectors import (
    EditVector,
    VectorError,
    apply_vectors,
    load_latent,
    load_vector,
    render_with_vectors,
    save_latent,
    save_vector,
    vector_from_bytes,
    vector_to_bytes,
)

SHAPE = (6, 32)


def make_vector(seed: int = 0, model_hash: str = "a" * 64) -> EditVector:
    generator = torch.Generator().manual_seed(seed)
    return EditVector(
        delta=torch.randn(*SHAPE, generator=generator),
        model_hash=model_hash,
        model_id="tiny",
        name=f"enlarge eyes {seed}",
        labels=[1, 2],
        label_names=["skin", "eye"],
        region={"pixels": 40, "bbox": [1, 2, 9, 8]},
        settings={"steps": 30, "lr": 0.02},
        losses={"total": 0.5, "ce": 0.1},
        source={"kind": "seed", "seed": 3},
    )


def test_round_trip(tmp_path: Path) -> None:
    vector = make_vector()
    path = save_vector(tmp_path / "v.safetensors", vector)
    loaded = load_vector(path, expected_model_hash="a" * 64, expected_shape=SHAPE)
    assert torch.equal(loaded.delta, vector.delta)
    assert loaded.metadata() == vector.metadata()
    assert loaded.labels == [1, 2] and loaded.label_names == ["skin", "eye"]


def test_model_hash_mismatch_refused(tmp_path: Path) -> None:
    path = save_vector(tmp_path / "v.safetensors", make_vector())
    with pytest.raises(VectorError, match="not for this model"):
        load_vector(path, expected_model_hash="b" * 64)


def test_shape_mismatch_refused(tmp_path: Path) -> None:
    path = save_vector(tmp_path / "v.safetensors", make_vector())
    with pytest.raises(VectorError, match="W\\+ shape"):
        load_vector(path, expected_shape=(10, 32))


@pytest.mark.parametrize("damage", ["truncate", "garbage", "header", "empty"])
def test_corrupted_file_refused(tmp_path: Path, damage: str) -> None:
    data = vector_to_bytes(make_vector())
    broken = {
        "truncate": data[: len(data) - 20],
        "garbage": b"\x00" * 64,
        "header": data[:8] + b"]" + data[9:],
        "empty": b"",
    }[damage]
    path = tmp_path / "v.safetensors"
    path.write_bytes(broken)
    with pytest.raises(VectorError):
        load_vector(path)


def test_pickle_is_refused_without_running(tmp_path: Path) -> None:
    marker = tmp_path / "ran"

    class Payload:
        def __reduce__(self) -> tuple[object, tuple[str]]:
            return (Path.touch, (str(marker),))  # type: ignore[return-value]

    path = tmp_path / "v.safetensors"
    path.write_bytes(pickle.dumps({"edit_vector": Payload(), "roi_ids": [1]}))
    with pytest.raises(VectorError):
        load_vector(path)
    assert not marker.exists()


def test_other_safetensors_files_refused() -> None:
    from safetensors.torch import save

    with pytest.raises(VectorError, match="not a PartEdit file"):
        vector_from_bytes(save({"delta": torch.zeros(*SHAPE)}))
    with pytest.raises(VectorError, match="format"):
        vector_from_bytes(vector_to_bytes(make_vector()).replace(b"edit-vector/v1", b"edit-vector/v9"))


def test_non_finite_delta_refused() -> None:
    with pytest.raises(VectorError, match="non-finite"):
        EditVector(delta=torch.full(SHAPE, float("nan")), model_hash="x")


def test_latent_round_trip_and_refusal(tmp_path: Path) -> None:
    ws = torch.randn(1, *SHAPE)
    path = save_latent(tmp_path / "w.safetensors", ws, "h" * 64, {"seed": 1})
    assert torch.equal(load_latent(path, "h" * 64, SHAPE), ws)
    with pytest.raises(VectorError, match="not for this model"):
        load_latent(path, "x" * 64)
    with pytest.raises(VectorError, match="format"):
        load_latent(save_vector(tmp_path / "v.safetensors", make_vector()))


def test_composition_is_the_scaled_sum() -> None:
    ws = torch.randn(3, *SHAPE)
    a, b = make_vector(1), make_vector(2)
    out = apply_vectors(ws, [a, b], [0.5, -2.0])
    assert torch.allclose(out, ws + 0.5 * a.delta - 2.0 * b.delta, atol=1e-6)
    assert torch.allclose(apply_vectors(ws, [a], [-1.0]), ws - a.delta)
    assert torch.equal(apply_vectors(ws, [a, b], [0.0, 0.0]), ws)


def test_batched_scales_equal_per_item() -> None:
    ws = torch.randn(1, *SHAPE)
    vectors = [make_vector(1), make_vector(2), make_vector(3)]
    scales = torch.tensor([[1.0, 0.0, -1.0], [0.5, 0.5, 0.5], [-2.0, 1.0, 0.0], [0.0, 0.0, 0.0]])
    batch = apply_vectors(ws, vectors, scales)
    assert batch.shape == (4, *SHAPE)
    for row, setting in enumerate(scales):
        assert torch.allclose(batch[row], apply_vectors(ws, vectors, setting.tolist())[0], atol=1e-6)
    many = torch.randn(4, *SHAPE)
    paired = apply_vectors(many, vectors, scales)
    for row in range(4):
        single = apply_vectors(many[row:row + 1], vectors, scales[row])
        assert torch.allclose(paired[row], single[0], atol=1e-6)


def test_composition_validation() -> None:
    ws = torch.randn(2, *SHAPE)
    with pytest.raises(VectorError, match="scales"):
        apply_vectors(ws, [make_vector()], [1.0, 2.0])
    with pytest.raises(VectorError, match="cannot pair"):
        apply_vectors(ws, [make_vector()], [[1.0], [2.0], [3.0]])
    with pytest.raises(VectorError, match="do not match"):
        apply_vectors(torch.randn(2, 5, 32), [make_vector()], [1.0])
    with pytest.raises(VectorError, match="no edit vectors"):
        apply_vectors(ws, [], [])
    with pytest.raises(VectorError, match="finite"):
        apply_vectors(ws, [make_vector()], [float("inf")])


def test_render_batch_equals_per_image() -> None:
    torch.manual_seed(0)
    config = GeneratorConfig(resolution=16, z_dim=32, w_dim=32, mapping_layers=2,
                             channel_base=256, channel_max=32)
    generator = Generator(config).eval().requires_grad_(False)
    ws = generator.mapping(torch.randn(1, 32))
    delta = torch.randn(config.num_ws, config.w_dim) * 0.5
    scales = [[-1.0], [0.0], [1.5]]
    batch = render_with_vectors(generator, ws, [delta], scales, batch_size=8)
    for row, setting in enumerate(scales):
        single = generator.synthesis(apply_vectors(ws, [delta], setting))
        assert torch.allclose(batch[row], single[0], atol=1e-5)
    assert torch.allclose(batch[1:2], generator.synthesis(ws), atol=1e-5)
