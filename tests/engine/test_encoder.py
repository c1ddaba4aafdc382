"""Encoder: output shape, row grouping, training reduces the loss, files, cancel."""

from pathlib import Path

import pytest
import torch

from editing_engine.encoder import (
    Encoder,
    EncoderConfig,
    EncoderError,
    load_encoder,
    save_encoder,
    train_encoder,
)
from editing_engine.generator import Generator, GeneratorConfig
from editing_engine.progress import Cancelled

from .tiny import small_encoder_config, tiny_config, tiny_generator_with_w_avg


@pytest.fixture
def generator() -> Generator:
    return tiny_generator_with_w_avg()



@pytest.mark.parametrize("resolution", [8, 16, 32, 64])
def test_output_shape_and_rows_cover_w_plus(resolution: int) -> None:
    config = tiny_config(resolution)
    encoder = Encoder(small_encoder_config(config))
    ws = encoder(torch.rand(2, 3, resolution, resolution) * 2 - 1)
    assert ws.shape == (2, config.num_ws, config.w_dim)
    rows = sorted(row for group in encoder.config.row_levels().values() for row in group)
    assert rows == list(range(config.num_ws))


def test_row_levels_put_coarse_rows_on_coarse_maps() -> None:
    config = EncoderConfig.for_generator(GeneratorConfig(resolution=64))
    assert config.row_levels() == {4: [0], 8: [1, 2], 16: [3, 4, 5, 6, 7, 8, 9]}


def test_untrained_encoder_outputs_w_avg(generator: Generator) -> None:
    encoder = Encoder(small_encoder_config(generator.config), generator.w_avg)
    ws = encoder(torch.zeros(1, 3, 16, 16))
    torch.testing.assert_close(ws, generator.w_avg.expand(1, generator.num_ws, -1))


def test_wrong_input_refused(generator: Generator) -> None:
    encoder = Encoder(small_encoder_config(generator.config))
    with pytest.raises(EncoderError, match="input"):
        encoder(torch.zeros(1, 3, 8, 8))


def test_training_reduces_the_loss(generator: Generator) -> None:
    losses: list[float] = []
    encoder = train_encoder(
        generator,
        small_encoder_config(generator.config),
        steps=30,
        batch_size=4,
        learning_rate=1e-3,
        progress=lambda s, t, loss: losses.append(loss),
    )
    assert not encoder.training
    assert len(losses) == 30
    assert sum(losses[-10:]) < 0.8 * sum(losses[:10])


def test_training_with_real_images_and_cancel(generator: Generator) -> None:
    real = torch.rand(4, 3, 16, 16) * 2 - 1
    seen: list[int] = []
    with pytest.raises(Cancelled):
        train_encoder(
            generator,
            small_encoder_config(generator.config),
            steps=20,
            batch_size=2,
            real_images=real,
            progress=lambda s, t, loss: seen.append(s),
            should_cancel=lambda: len(seen) == 2,
        )
    assert seen == [1, 2]
    with pytest.raises(EncoderError, match="real_images"):
        train_encoder(generator, small_encoder_config(generator.config), steps=1, real_images=real[:, :, :8])


def test_save_load_round_trip_and_refusal(tmp_path: Path, generator: Generator) -> None:
    torch.manual_seed(1)
    encoder = Encoder(small_encoder_config(generator.config), generator.w_avg)
    with torch.no_grad():
        for parameter in encoder.parameters():
            parameter.normal_()
    save_encoder(tmp_path / "enc", encoder, {"steps": 0})
    loaded = load_encoder(tmp_path / "enc", generator.config)
    images = torch.rand(2, 3, 16, 16) * 2 - 1
    torch.testing.assert_close(loaded(images), encoder(images))
    with pytest.raises(EncoderError, match="generator needs"):
        load_encoder(tmp_path / "enc", tiny_config(32))
    (tmp_path / "enc" / "encoder.safetensors").write_bytes(b"broken")
    with pytest.raises(EncoderError, match="cannot load"):
        load_encoder(tmp_path / "enc")
    with pytest.raises(EncoderError, match="cannot read"):
        load_encoder(tmp_path / "nothing")
