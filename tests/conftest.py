"""Fixtures shared by the whole suite."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A seeded, random-initialised 16 px generator saved in the native checkpoint format."""
    import torch

    from editing_engine.checkpoints import save_model
    from editing_engine.generator import Generator, GeneratorConfig

    torch.manual_seed(0)
    config = GeneratorConfig(resolution=16, z_dim=32, w_dim=32, mapping_layers=2, channel_base=256,
                             channel_max=32)
    generator = Generator(config).eval()
    # A non-zero w_avg, as a trained model has, so that truncation moves every seed's image.
    generator.mapping.w_avg.copy_(torch.randn(config.w_dim))
    return save_model(tmp_path_factory.mktemp("tiny-model"), generator, metadata={"note": "test fixture"})
