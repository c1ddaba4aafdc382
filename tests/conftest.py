"""Fixtures shared by the whole suite."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

# The real S3-compatible server (moto's server mode) fixture, for the media-storage tests.
pytest_plugins = ["tests.s3_server"]


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


@pytest.fixture
def labelled_model_dir(tiny_model_dir: Path, tmp_path: Path) -> Path:
    """A copy of the tiny test generator with a two-label taxonomy (background, face), ready to register."""
    directory = tmp_path / "tiny-labelled"
    shutil.copytree(tiny_model_dir, directory)
    labels = [{"name": "background", "colour": "#000000"}, {"name": "face", "colour": "#e6b48c"}]
    (directory / "labels.json").write_text(json.dumps({"labels": labels}))
    return directory
