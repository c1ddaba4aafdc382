"""The tiny generator configuration engine tests build their models from (16 px by default)."""

from editing_engine.generator import GeneratorConfig


def tiny_config(resolution: int = 16) -> GeneratorConfig:
    """A few-thousand-parameter StyleGAN2 config: 32-d z/w, 2 mapping layers, at most 32 channels."""
    return GeneratorConfig(
        resolution=resolution, z_dim=32, w_dim=32, mapping_layers=2, channel_base=256, channel_max=32
    )
