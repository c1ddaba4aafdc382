"""Fine-tuning an encoder: ``encoder_for_fine_tuning`` and ``train-encoder --init-from``."""

import json
from pathlib import Path
from typing import Any

import pytest
import torch

from editing_engine.discriminator import Discriminator, DiscriminatorConfig
from editing_engine.encoder import (
    Encoder,
    EncoderConfig,
    EncoderError,
    encoder_for_fine_tuning,
    load_encoder,
    save_encoder,
    train_encoder,
)
from editing_engine.generator import Generator

from .tiny import small_encoder_config, tiny_config, tiny_generator_with_w_avg

pytestmark = pytest.mark.usefixtures("single_thread")

IMAGES = torch.linspace(-1, 1, 2 * 3 * 16 * 16).reshape(2, 3, 16, 16)


@pytest.fixture
def generator() -> Generator:
    return tiny_generator_with_w_avg()



@pytest.fixture
def trained_dir(tmp_path: Path, generator: Generator) -> Path:
    """An encoder trained a few steps at a high rate (so it is far from a new one), saved."""
    config = small_encoder_config(generator.config)
    encoder = train_encoder(generator, config, steps=4, batch_size=2, learning_rate=1e-2)
    return save_encoder(tmp_path / "enc", encoder, {"steps": 4, "model_hash": "old"})


def encode(encoder: Encoder) -> torch.Tensor:
    with torch.no_grad():
        return encoder.eval()(IMAGES)


def test_fine_tuning_starts_from_the_saved_weights(trained_dir: Path, generator: Generator) -> None:
    init = encode(load_encoder(trained_dir))
    loaded = encoder_for_fine_tuning(trained_dir, generator, {"channel_base": 256})
    torch.testing.assert_close(encode(loaded), init)
    tuned = encode(train_encoder(generator, loaded, steps=1, batch_size=2, learning_rate=1e-6))
    scratch = encode(train_encoder(generator, small_encoder_config(generator.config), steps=1, batch_size=2,
                                   learning_rate=1e-6))
    assert not torch.equal(tuned, init)
    torch.testing.assert_close(tuned, init, atol=1e-3, rtol=0)
    assert (scratch - init).abs().max() > 100 * (tuned - init).abs().max()


def test_fine_tuning_takes_the_generators_w_avg(trained_dir: Path, generator: Generator) -> None:
    generator.w_avg.add_(0.5)
    init = encode(load_encoder(trained_dir))
    loaded = encoder_for_fine_tuning(trained_dir, generator)
    torch.testing.assert_close(loaded.w_avg, generator.w_avg)
    torch.testing.assert_close(encode(loaded), init + 0.5)


def test_mismatched_encoders_refused(tmp_path: Path, trained_dir: Path, generator: Generator) -> None:
    with pytest.raises(EncoderError, match=r"another architecture: channel_base 256 \(requested 512\)"):
        encoder_for_fine_tuning(trained_dir, generator, {"channel_base": 512})
    with pytest.raises(EncoderError, match="unknown encoder config keys"):
        encoder_for_fine_tuning(trained_dir, generator, {"width": 3})
    save_encoder(tmp_path / "enc32", Encoder(small_encoder_config(tiny_config(32))))
    with pytest.raises(EncoderError, match="generator needs"):
        encoder_for_fine_tuning(tmp_path / "enc32", generator)


def save_tiny_model(path: Path, generator: Generator) -> Path:
    from editing_engine.checkpoints import save_model

    config = DiscriminatorConfig(resolution=16, channel_base=128, channel_max=16)
    return save_model(path, generator, Discriminator(config), {**config.to_dict()})


def train_cli(*extra: str) -> int:
    from editing_engine.cli import main

    return main(["train-encoder", "--steps", "2", "--batch-size", "2", "--threads", "1", *extra])


def test_cli_init_from_the_output_directory(tmp_path: Path, generator: Generator) -> None:
    model = save_tiny_model(tmp_path / "model", generator)
    common = ["--model", str(model)]
    assert train_cli(*common, "--channel-base", "256", "--channel-max", "32") == 0
    out = model / "encoder"
    first = json.loads((out / "encoder.json").read_text())["metadata"]
    assert (first["init_from"], first["total_steps"]) == (None, 2)
    init = encode(load_encoder(out))
    assert train_cli(*common, "--init-from", str(out), "--seed", "1") == 0
    document = json.loads((out / "encoder.json").read_text())
    assert document["encoder"]["channel_base"] == 256
    metadata = document["metadata"]
    assert (metadata["init_from"], metadata["total_steps"], metadata["steps"]) == (str(out), 4, 2)
    assert metadata["init_model_hash"] == first["model_hash"]
    tuned = encode(load_encoder(out))
    assert not torch.equal(tuned, init)
    torch.testing.assert_close(tuned, init, atol=0.05, rtol=0)
    assert sorted(path.name for path in out.iterdir()) == ["encoder.json", "encoder.safetensors"]


def test_cli_refusals_and_failures_keep_the_init(
    tmp_path: Path, generator: Generator, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import editing_engine.encoder as encoder_module

    model = save_tiny_model(tmp_path / "model", generator)
    common = ["--model", str(model)]
    assert train_cli(*common, "--channel-base", "256", "--channel-max", "32") == 0
    out = model / "encoder"
    files = {path.name: path.read_bytes() for path in out.iterdir()}
    assert train_cli(*common, "--init-from", str(out), "--channel-base", "512") == 2
    assert "another architecture: channel_base 256 (requested 512)" in capsys.readouterr().err
    assert train_cli(*common, "--init-from", str(tmp_path / "missing")) == 2
    assert "cannot read" in capsys.readouterr().err

    real_train = encoder_module.train_encoder

    def cancelled_midway(generator: Generator, encoder: Encoder | EncoderConfig, **kwargs: Any) -> Encoder:
        seen: list[int] = []
        kwargs["progress"] = lambda step, total, loss: seen.append(step)
        kwargs["should_cancel"] = lambda: len(seen) == 1
        return real_train(generator, encoder, **kwargs)

    monkeypatch.setattr(encoder_module, "train_encoder", cancelled_midway)
    assert train_cli(*common, "--init-from", str(out)) == 130
    assert {path.name: path.read_bytes() for path in out.iterdir()} == files
