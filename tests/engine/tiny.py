"""The tiny models engine tests build (16 px generator by default)."""

import torch

from editing_engine.encoder import EncoderConfig
from editing_engine.generator import Generator, GeneratorConfig


def tiny_config(resolution: int = 16) -> GeneratorConfig:
    """A few-thousand-parameter StyleGAN2 config: 32-d z/w, 2 mapping layers, at most 32 channels."""
    return GeneratorConfig(
        resolution=resolution, z_dim=32, w_dim=32, mapping_layers=2, channel_base=256, channel_max=32
    )


def tiny_generator_with_w_avg() -> Generator:
    """A seeded tiny generator in eval mode whose ``w_avg`` was estimated from 256 samples."""
    torch.manual_seed(0)
    generator = Generator(tiny_config()).eval().requires_grad_(False)
    generator.mapping(torch.randn(256, 32), update_w_avg=True)
    return generator


def small_encoder_config(config: GeneratorConfig, channel_base: int = 256) -> EncoderConfig:
    """An encoder config small enough for unit tests, fitting ``config``."""
    return EncoderConfig.for_generator(config, channel_base=channel_base, channel_max=32, head_hidden=64)
