"""The evaluation oracle: shapes, input handling, training, cancellation, save/load."""

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from editing_engine.checkpoints import CheckpointError
from editing_engine.oracle import (
    Oracle,
    OracleConfig,
    OracleError,
    OracleTrainingConfig,
    augment,
    images_to_input,
    load_oracle,
    predict,
    save_oracle,
    train_oracle,
)
from editing_engine.progress import Cancelled

pytestmark = pytest.mark.usefixtures("single_thread")


def tiny_oracle(num_labels: int = 3) -> Oracle:
    torch.manual_seed(0)
    return Oracle(OracleConfig(num_labels=num_labels, base_channels=4, channel_max=8, depth=2,
                               label_names=tuple(f"part{i}" for i in range(num_labels))))


def striped_batch(step: int) -> tuple[np.ndarray, np.ndarray]:
    """Images whose label is readable from colour: label 1 red, label 2 blue, background grey."""
    rng = np.random.default_rng(step)
    labels = np.zeros((4, 16, 16), dtype=np.uint8)
    for index in range(4):
        row, col = rng.integers(0, 8, size=2)
        labels[index, row:row + 8, col:col + 4] = 1
        labels[index, 12:, :] = 2
    palette = np.array([[128, 128, 128], [220, 30, 30], [30, 30, 220]], dtype=np.uint8)
    return palette[labels], labels


def test_forward_shapes_at_multiples_of_the_stride() -> None:
    oracle = tiny_oracle()
    for height, width in [(16, 16), (32, 8), (8, 24)]:
        x = torch.zeros(2, 3, height, width)
        assert oracle(x).shape == (2, 3, height, width)
        assert oracle.pooled_features(x).shape == (2, oracle.config.feature_dim)
    assert oracle.config.feature_dim == 4 + 8 + 8


def test_bad_input_shapes_are_refused() -> None:
    oracle = tiny_oracle()
    with pytest.raises(OracleError, match="multiples of 4"):
        oracle(torch.zeros(1, 3, 18, 16))
    with pytest.raises(OracleError, match=r"\[B, 3, H, W\]"):
        oracle(torch.zeros(1, 1, 16, 16))
    with pytest.raises(OracleError, match="uint8"):
        images_to_input(np.zeros((16, 16, 3), dtype=np.float32))
    with pytest.raises(OracleError, match="HxWx3"):
        images_to_input(np.zeros((16, 16), dtype=np.uint8))


def test_images_to_input_conventions() -> None:
    pixels = np.array([[[0, 255, 51]]], dtype=np.uint8)
    x = images_to_input(pixels)
    assert x.shape == (1, 3, 1, 1)
    torch.testing.assert_close(x.flatten(), torch.tensor([-1.0, 1.0, 51 / 127.5 - 1]))
    tensor = torch.rand(2, 3, 4, 4) * 2 - 1
    assert torch.equal(images_to_input(tensor), tensor)


def test_training_reduces_loss_and_learns_the_colours() -> None:
    oracle = tiny_oracle()
    steps: list[int] = []
    config = OracleTrainingConfig(steps=80, learning_rate=1e-2, warmup_steps=5)
    report = train_oracle(oracle, striped_batch, config,
                          progress=lambda step, total, loss: steps.append(step))
    assert steps == list(range(1, 81))
    assert report.images_seen == 320
    assert np.mean(report.losses[-5:]) < 0.5 * np.mean(report.losses[:5])
    images, labels = striped_batch(1000)
    assert (predict(oracle, images) == labels).mean() > 0.95  # background alone is 62.5 %


def test_training_cancels_before_a_step() -> None:
    oracle = tiny_oracle()
    calls = iter([False, False, True])
    with pytest.raises(Cancelled):
        train_oracle(oracle, striped_batch, OracleTrainingConfig(steps=10), should_cancel=lambda: next(calls))


def test_mismatched_batch_is_refused() -> None:
    oracle = tiny_oracle()
    images, labels = striped_batch(0)
    with pytest.raises(OracleError, match="do not match"):
        train_oracle(oracle, lambda step: (images, labels[:, :8]), OracleTrainingConfig(steps=1))


def test_predict_returns_uint8_maps_for_single_and_batched_images() -> None:
    oracle = tiny_oracle()
    images, _ = striped_batch(0)
    maps = predict(oracle, images, batch_size=3)
    assert maps.shape == (4, 16, 16) and maps.dtype == np.uint8
    assert predict(oracle, images[0]).shape == (1, 16, 16)
    np.testing.assert_array_equal(predict(oracle, torch.from_numpy(images)), maps)


def test_save_load_round_trip_gives_identical_predictions(tmp_path: Path) -> None:
    oracle = tiny_oracle()
    train_oracle(oracle, striped_batch, OracleTrainingConfig(steps=5))
    save_oracle(tmp_path / "oracle", oracle, metadata={"note": "test"})
    loaded = load_oracle(tmp_path / "oracle")
    assert loaded.config == oracle.config
    images, _ = striped_batch(7)
    x = images_to_input(images)
    oracle.eval()
    torch.testing.assert_close(loaded(x), oracle(x), rtol=0, atol=0)
    np.testing.assert_array_equal(predict(loaded, images), predict(oracle, images))


def test_wrong_shape_checkpoint_is_refused(tmp_path: Path) -> None:
    save_oracle(tmp_path, tiny_oracle(num_labels=3))
    config_path = tmp_path / "config.json"
    document = json.loads(config_path.read_text())
    document["oracle"]["num_labels"] = 5
    document["oracle"]["label_names"] = []
    config_path.write_text(json.dumps(document))
    with pytest.raises(CheckpointError, match=r"oracle: shape of head\.(weight|bias) is \[3.*expects \[5"):
        load_oracle(tmp_path)


def test_wrong_format_or_missing_files_are_refused(tmp_path: Path) -> None:
    with pytest.raises(CheckpointError, match="cannot read"):
        load_oracle(tmp_path)
    (tmp_path / "config.json").write_text(json.dumps({"format": "partedit-generator/v1"}))
    with pytest.raises(CheckpointError, match="expected 'partedit-oracle/v1'"):
        load_oracle(tmp_path)


def test_corrupt_weights_file_is_refused(tmp_path: Path) -> None:
    save_oracle(tmp_path, tiny_oracle(num_labels=3))
    weights = next(tmp_path.glob("*.safetensors"))
    weights.write_bytes(weights.read_bytes()[:100])
    with pytest.raises(CheckpointError, match="cannot load oracle"):
        load_oracle(tmp_path)


def test_invalid_config_is_refused() -> None:
    with pytest.raises(ValueError, match="num_labels"):
        OracleConfig(num_labels=1)
    with pytest.raises(ValueError, match="label names"):
        OracleConfig(num_labels=3, label_names=("a", "b"))


def test_augment_moves_labels_only_with_flips() -> None:
    images, labels = striped_batch(0)
    x, y = images_to_input(images), torch.from_numpy(labels).long()
    _, kept = augment(x, y, torch.Generator().manual_seed(0))
    assert torch.equal(kept, y)  # flips are off by default
    flipped_images, flipped = augment(x, y, torch.Generator().manual_seed(0), flip_probability=1.0)
    assert torch.equal(flipped, y.flip(2))
    assert flipped_images.shape == x.shape and flipped_images.abs().max() <= 1.0
