"""Embedding: schedule, image conversion, loss reduction from the encoder init, best latent, callbacks."""

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from editing_engine.discriminator import Discriminator, DiscriminatorConfig
from editing_engine.embedding import (
    DEFAULT_EMBEDDING_WEIGHTS,
    RELEASE_EMBEDDING_WEIGHTS,
    EmbeddingError,
    EmbeddingWeights,
    embed_image,
    image_to_tensor,
    projector_learning_rate,
)
from editing_engine.encoder import Encoder, EncoderConfig
from editing_engine.generator import Generator, GeneratorConfig, to_uint8_image
from editing_engine.losses import DiscriminatorFeatureDistance, pixel_mse
from editing_engine.progress import Cancelled


@pytest.fixture
def generator() -> Generator:
    torch.manual_seed(0)
    config = GeneratorConfig(
        resolution=16, z_dim=32, w_dim=32, mapping_layers=2, channel_base=256, channel_max=32
    )
    generator = Generator(config).eval().requires_grad_(False)
    generator.mapping(torch.randn(256, 32), update_w_avg=True)
    return generator


@pytest.fixture
def encoder(generator: Generator) -> Encoder:
    torch.manual_seed(2)
    config = EncoderConfig.for_generator(generator.config, channel_base=256, channel_max=32, head_hidden=32)
    encoder = Encoder(config, generator.w_avg)
    with torch.no_grad():
        for head in encoder.heads.values():
            head.out.weight.normal_(0, 0.01)
    return encoder.eval().requires_grad_(False)


def target_image(generator: Generator, seed: int = 7) -> np.ndarray:
    torch.manual_seed(seed)
    ws = generator.mapping(torch.randn(1, 32))
    return to_uint8_image(generator.synthesis(ws)[0])


def test_projector_schedule_values() -> None:
    assert projector_learning_rate(0, 100) == 0.0
    assert projector_learning_rate(2, 100) == pytest.approx(0.1 * 2 / 5)
    assert projector_learning_rate(5, 100) == pytest.approx(0.1)
    assert projector_learning_rate(50, 100) == pytest.approx(0.1)
    assert projector_learning_rate(75, 100) == pytest.approx(0.1)
    assert projector_learning_rate(875, 1000) == pytest.approx(0.05)
    assert projector_learning_rate(100, 100) == pytest.approx(0.0)
    assert projector_learning_rate(99, 100) < 0.001


def test_image_conversion() -> None:
    rgb = np.zeros((32, 48, 3), np.uint8)
    rgb[:, 8:40] = 255
    tensor = image_to_tensor(rgb, 16)
    assert tensor.shape == (1, 3, 16, 16)
    assert tensor.min().item() == pytest.approx(1.0)  # the centre crop keeps only the white band
    grey = image_to_tensor(np.full((16, 16), 0, np.uint8), 16)
    assert torch.equal(grey, -torch.ones(1, 3, 16, 16))
    rgba = image_to_tensor(np.full((16, 16, 4), 255, np.uint8), 16)
    assert torch.equal(rgba, torch.ones(1, 3, 16, 16))
    pil = image_to_tensor(Image.new("RGB", (20, 20), (255, 0, 0)), 16)
    assert pil[0, 0].min().item() == pytest.approx(1.0) and pil[0, 1].max().item() == pytest.approx(-1.0)
    from_tensor = image_to_tensor(torch.zeros(3, 32, 32), 16)
    assert from_tensor.shape == (1, 3, 16, 16)
    with pytest.raises(EmbeddingError, match="uint8"):
        image_to_tensor(np.zeros((16, 16, 3), np.float32), 16)
    with pytest.raises(EmbeddingError, match="HxW"):
        image_to_tensor(np.zeros((16, 16, 2), np.uint8), 16)


def test_embedding_improves_on_the_encoder_and_keeps_the_best(generator: Generator, encoder: Encoder) -> None:
    image = target_image(generator)
    calls: list[tuple[int, int]] = []
    result = embed_image(
        generator, encoder, image, steps=30, progress=lambda s, t, loss: calls.append((s, t))
    )
    assert calls == [(s, 30) for s in range(1, 31)]
    assert len(result.reconstruction_losses) == 31
    assert min(result.reconstruction_losses) < 0.5 * result.reconstruction_losses[0]
    assert result.reconstruction_losses[result.best_step] == min(result.reconstruction_losses)
    with torch.no_grad():
        rendered = generator.synthesis(result.ws)
    assert DEFAULT_EMBEDDING_WEIGHTS.pixel * pixel_mse(rendered, result.target).item() == pytest.approx(
        min(result.reconstruction_losses), rel=1e-4
    )
    assert result.ws.shape == (1, generator.num_ws, 32)
    assert result.image.shape == (16, 16, 3) and result.image.dtype == np.uint8
    init = embed_image(generator, encoder, image, steps=0)
    assert result.psnr > init.psnr
    with torch.no_grad():
        torch.testing.assert_close(init.ws, encoder(result.target))


def test_embedding_with_perceptual_distance_and_without_encoder(generator: Generator) -> None:
    torch.manual_seed(3)
    perceptual = DiscriminatorFeatureDistance(
        Discriminator(DiscriminatorConfig(resolution=16, channel_base=128, channel_max=16))
    )
    result = embed_image(generator, None, target_image(generator, 9), steps=20, perceptual=perceptual)
    assert min(result.reconstruction_losses) < result.reconstruction_losses[0]
    assert result.losses == result.reconstruction_losses  # no encoder, no consistency term


def test_release_weights_are_the_release_loss_on_unit_range_images(generator: Generator) -> None:
    """RELEASE_EMBEDDING_WEIGHTS on [-1, 1] images is 10 x perceptual + 1 x MSE of the [0, 1] images."""
    torch.manual_seed(3)
    perceptual = DiscriminatorFeatureDistance(
        Discriminator(DiscriminatorConfig(resolution=16, channel_base=128, channel_max=16))
    )
    result = embed_image(generator, None, target_image(generator, 9), steps=0, perceptual=perceptual,
                         weights=RELEASE_EMBEDDING_WEIGHTS)
    assert result.target is not None
    with torch.no_grad():
        rendered = generator.synthesis(result.ws)
        unit_mse = (((rendered + 1) / 2 - (result.target + 1) / 2) ** 2).mean()
        expected = 10 * perceptual(rendered, result.target).sum() + unit_mse
    assert result.reconstruction_losses[0] == pytest.approx(expected.item(), rel=1e-5)


def test_embed_uses_the_equal_weights_by_default(generator: Generator) -> None:
    """The default kept by bench/embedding_eval.py: the equal 1:1 mix, not the release's."""
    assert (DEFAULT_EMBEDDING_WEIGHTS.perceptual, DEFAULT_EMBEDDING_WEIGHTS.pixel) == (1.0, 1.0)
    torch.manual_seed(3)
    perceptual = DiscriminatorFeatureDistance(
        Discriminator(DiscriminatorConfig(resolution=16, channel_base=128, channel_max=16))
    )
    image = target_image(generator, 9)
    by_default = embed_image(generator, None, image, steps=0, perceptual=perceptual)
    release = embed_image(generator, None, image, steps=0, perceptual=perceptual,
                          weights=RELEASE_EMBEDDING_WEIGHTS)
    equal = embed_image(generator, None, image, steps=0, perceptual=perceptual, weights=EmbeddingWeights())
    assert by_default.reconstruction_losses == equal.reconstruction_losses
    assert by_default.reconstruction_losses != release.reconstruction_losses


def test_embedding_cancel(generator: Generator, encoder: Encoder) -> None:
    seen: list[int] = []
    with pytest.raises(Cancelled):
        embed_image(
            generator,
            encoder,
            target_image(generator),
            steps=50,
            progress=lambda s, t, loss: seen.append(s),
            should_cancel=lambda: len(seen) >= 4,
        )
    assert seen == [1, 2, 3, 4]


def test_cli_train_encoder_and_embed(tmp_path: Path, generator: Generator) -> None:
    from editing_engine.checkpoints import load_generator, save_model
    from editing_engine.cli import main
    from editing_engine.vectors import load_latent

    config = DiscriminatorConfig(resolution=16, channel_base=128, channel_max=16)
    save_model(tmp_path / "model", generator, Discriminator(config), config.to_dict())
    common = ["--model", str(tmp_path / "model")]
    assert (
        main(
            [
                "train-encoder",
                *common,
                "--steps",
                "2",
                "--batch-size",
                "2",
                "--channel-base",
                "256",
                "--channel-max",
                "32",
                "--perceptual",
                "--real-renders",
                "2",
            ]
        )
        == 0
    )
    Image.fromarray(target_image(generator)).save(tmp_path / "in.png")
    latent = tmp_path / "w.safetensors"
    assert (
        main(
            [
                "embed",
                *common,
                "--image",
                str(tmp_path / "in.png"),
                "--steps",
                "3",
                "-o",
                str(latent),
                "--render",
                str(tmp_path / "out.png"),
            ]
        )
        == 0
    )
    model = load_generator(tmp_path / "model")
    assert load_latent(latent, model.weights_hash).shape == (1, generator.num_ws, 32)
    assert Image.open(tmp_path / "out.png").size == (16, 16)
    assert main(["embed", *common, "--image", str(tmp_path / "missing.png"), "-o", str(latent)]) == 2
