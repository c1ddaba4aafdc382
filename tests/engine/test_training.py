"""GAN training: discriminator, DiffAugment, data sources, the loop, snapshots and resume."""

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from safetensors.torch import load_file

from editing_engine.checkpoints import load_generator
from editing_engine.cli import main
from editing_engine.discriminator import Discriminator, DiscriminatorConfig, minibatch_std
from editing_engine.generator import GeneratorConfig
from editing_engine.training import (
    DatasetError,
    ImageFolder,
    TrainingConfig,
    TrainingError,
    open_source,
    train_gan,
)
from editing_engine.training.augment import UnknownAugmentError, diff_augment
from editing_engine.training.dataset import TRAINING_SEED_LIMIT
from editing_engine.training.snapshot import STATE_JSON, STATE_TENSORS

TINY_G = GeneratorConfig(resolution=16, z_dim=32, w_dim=32, mapping_layers=2, channel_base=256,
                         channel_max=32)
TINY_D = DiscriminatorConfig(resolution=16, channel_base=256, channel_max=32)


def tiny_config(kimg: float, **overrides: object) -> TrainingConfig:
    settings: dict[str, object] = {"resolution": 16, "batch": 4, "kimg": kimg, "r1_interval": 2,
                                   "log_seconds": 0.0, **overrides}
    return TrainingConfig(**settings)  # type: ignore[arg-type]


pytestmark = pytest.mark.usefixtures("single_thread")


def test_discriminator_shapes_features_and_names() -> None:
    discriminator = Discriminator(TINY_D)
    images = torch.randn(3, 3, 16, 16)
    assert discriminator(images).shape == (3, 1)
    features = discriminator.features(images)
    assert [tuple(f.shape[1:]) for f in features] == [(32, 8, 8), (32, 4, 4), (32, 4, 4)]
    names = set(discriminator.state_dict())
    assert {"b16.fromrgb.weight", "b16.conv0.weight", "b16.conv1.weight", "b16.skip.weight",
            "b8.conv1.bias", "b4.conv.weight", "b4.fc.weight", "b4.out.bias"} <= names
    assert DiscriminatorConfig.from_dict(TINY_D.to_dict()) == TINY_D
    with pytest.raises(ValueError, match="unknown"):
        DiscriminatorConfig.from_dict({"resolution": 16, "colour": 1})
    with pytest.raises(ValueError, match=r"\[B, 3, 16, 16\]"):
        discriminator(torch.randn(2, 3, 8, 8))


def test_minibatch_std_reacts_to_batch_diversity() -> None:
    same = torch.ones(4, 2, 4, 4)
    assert minibatch_std(same, 4, 1)[:, -1].abs().max() < 1e-3
    varied = torch.randn(4, 2, 4, 4)
    assert minibatch_std(varied, 4, 1)[:, -1].min() > 0.1
    assert minibatch_std(torch.randn(3, 2, 4, 4), 4, 1).shape == (3, 3, 4, 4)


def test_diff_augment_keeps_shape_and_gradients() -> None:
    images = torch.rand(4, 3, 16, 16, requires_grad=True)
    augmented = diff_augment(images, "color,translation,cutout")
    assert augmented.shape == images.shape
    assert not torch.equal(augmented, images)
    augmented.sum().backward()
    assert images.grad is not None and images.grad.abs().sum() > 0
    assert torch.equal(diff_augment(images, "none"), images)
    with pytest.raises(UnknownAugmentError):
        diff_augment(images, "color,rotate")


def test_tiny_run_writes_snapshot_samples_and_loadable_model(tmp_path: Path) -> None:
    result = train_gan(tmp_path / "run", tiny_config(0.012), TINY_G, TINY_D)
    assert result.step == 3 and result.images_seen == 12 and not result.cancelled
    assert result.history and all(np.isfinite(v) for e in result.history for v in e.values())
    for name in (STATE_TENSORS, STATE_JSON, "samples/reals.png", "samples/fakes000000.png", "log.jsonl"):
        assert (tmp_path / "run" / name).exists(), name
    model = load_generator(result.model_dir)
    assert model.config == TINY_G
    assert model.metadata["images_seen"] == 12
    discriminator = Discriminator(DiscriminatorConfig.from_dict(model.discriminator_config))
    discriminator.load_state_dict(model.discriminator_state)


def test_resume_matches_an_uninterrupted_run(tmp_path: Path) -> None:
    config = {"augment": "color,translation,cutout"}
    straight = train_gan(tmp_path / "straight", tiny_config(0.024, **config), TINY_G, TINY_D)
    first = train_gan(tmp_path / "resumed", tiny_config(0.012, **config), TINY_G, TINY_D)
    assert first.step == 3
    resumed = train_gan(tmp_path / "resumed", tiny_config(0.024, **config), TINY_G, TINY_D)
    assert resumed.step == straight.step == 6
    a = load_file(tmp_path / "straight" / STATE_TENSORS)
    b = load_file(tmp_path / "resumed" / STATE_TENSORS)
    assert set(a) == set(b)
    assert any(key.startswith("opt_D.") for key in a)
    for key in a:
        assert torch.equal(a[key], b[key]), key


def test_a_new_run_continues_from_an_exported_model(tmp_path: Path) -> None:
    first = train_gan(tmp_path / "first", tiny_config(0.012, seed=1), TINY_G, TINY_D)
    source = load_generator(first.model_dir)
    continued = train_gan(tmp_path / "continued", tiny_config(0.016), TINY_G, TINY_D,
                          init_from=first.model_dir)
    assert continued.images_seen == 16 and continued.step == 1
    state = load_file(tmp_path / "continued" / STATE_TENSORS)
    d_before = source.discriminator_state
    # One step moved the networks a little from the exported ones (another seed's random init
    # would be far from them).
    for key, value in source.generator.state_dict().items():
        if key.endswith(".weight") and value.numel() > 16:
            assert torch.allclose(state[f"G.{key}"], value, atol=0.05), key
    for key, value in d_before.items():
        if key.endswith(".weight") and value.numel() > 16:
            assert torch.allclose(state[f"D.{key}"], value, atol=0.05), key


def test_init_from_refuses_a_model_of_another_shape(tmp_path: Path) -> None:
    other = GeneratorConfig(resolution=16, z_dim=32, w_dim=16, mapping_layers=2, channel_base=256,
                            channel_max=32)
    first = train_gan(tmp_path / "first", tiny_config(0.004), other, TINY_D)
    with pytest.raises(TrainingError, match="generator config"):
        train_gan(tmp_path / "run", tiny_config(0.008), TINY_G, TINY_D, init_from=first.model_dir)


def test_resume_refuses_changed_settings(tmp_path: Path) -> None:
    train_gan(tmp_path / "run", tiny_config(0.004), TINY_G, TINY_D)
    with pytest.raises(TrainingError, match="batch"):
        train_gan(tmp_path / "run", tiny_config(0.008, batch=2), TINY_G, TINY_D)


def test_cancel_stops_with_a_snapshot(tmp_path: Path) -> None:
    calls: list[int] = []

    def progress(step: int, total: int, loss: float) -> None:
        calls.append(step)
        assert total == 25 and np.isfinite(loss)

    result = train_gan(tmp_path / "run", tiny_config(0.1), TINY_G, TINY_D, progress=progress,
                       should_cancel=lambda: len(calls) >= 2)
    assert result.cancelled and result.step == 2 and calls == [1, 2]
    assert load_generator(result.model_dir).metadata["steps"] == 2


def write_images(folder: Path, count: int) -> None:
    folder.mkdir()
    rng = np.random.default_rng(0)
    for index in range(count):
        size = (20 + index, 30)
        Image.fromarray(rng.integers(0, 255, (*size[::-1], 3), dtype=np.uint8)).save(folder / f"{index}.png")


def test_folder_dataset_and_training(tmp_path: Path) -> None:
    write_images(tmp_path / "images", 5)
    (tmp_path / "images" / "notes.txt").write_text("not an image")
    dataset = ImageFolder(tmp_path / "images", 16)
    assert len(dataset) == 5
    batch = dataset.sample(3, np.random.default_rng(0))
    assert batch.shape == (3, 3, 16, 16) and batch.min() >= -1 and batch.max() <= 1
    result = train_gan(tmp_path / "run", tiny_config(0.008, data=str(tmp_path / "images")), TINY_G, TINY_D)
    assert result.step == 2
    with pytest.raises(DatasetError, match="no images"):
        open_source(str(tmp_path / "run" / "model"), 16)
    with pytest.raises(DatasetError, match="does not exist"):
        open_source(str(tmp_path / "missing"), 16)


def test_procedural_source_is_in_range() -> None:
    batch = open_source("procedural", 16).sample(2, np.random.default_rng(1))
    assert batch.shape == (2, 3, 16, 16) and batch.min() >= -1 and batch.max() <= 1


def test_training_seeds_stay_below_the_evaluation_ranges() -> None:
    from editing_engine.evaluation import ORACLE_TRAIN_SEED_BASE

    assert TRAINING_SEED_LIMIT <= ORACLE_TRAIN_SEED_BASE


def test_cli_trains_and_resumes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    arguments = ["train-gan", "--out", str(tmp_path / "run"), "--resolution", "16", "--batch", "2",
                 "--threads", "1"]
    assert main([*arguments, "--kimg", "0.002"]) == 0
    assert main([*arguments, "--kimg", "0.004"]) == 0
    output = capsys.readouterr().out
    assert "resumed" in output and "finished at step 2" in output
    assert main([*arguments, "--kimg", "0.004", "--data", str(tmp_path / "nothing")]) == 2
