"""The engine's job entry points: one call returns the bytes and figures a job stores."""

from __future__ import annotations

from io import BytesIO
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from editing_engine import formats
from editing_engine.checkpoints import load_generator
from editing_engine.jobs import embed_photo, render_sample
from editing_engine.rendering import render_seed, seed_latent


def test_a_rendered_sample_is_the_seeds_image_and_latent(tiny_model_dir: Path) -> None:
    loaded = load_generator(tiny_model_dir)

    sample = render_sample(loaded, 7, 0.5, {"seed": 7})

    latent = formats.read_latent(sample.latent, loaded.weights_hash)
    torch.testing.assert_close(torch.from_numpy(latent.array), seed_latent(loaded.generator, 7, 0.5),
                               rtol=0, atol=0)
    assert latent.metadata["source"] == {"seed": 7}
    assert np.array_equal(np.asarray(Image.open(BytesIO(sample.png))), render_seed(loaded.generator, 7, 0.5))


def test_an_embedded_photo_carries_its_source_and_quality(tiny_model_dir: Path) -> None:
    loaded = load_generator(tiny_model_dir)
    pixels = np.random.default_rng(0).integers(0, 255, (16, 16, 3), dtype=np.uint8)
    steps: list[int] = []

    photo = embed_photo(loaded, None, pixels, 3, None, {"image": 1}, progress=lambda s, *_: steps.append(s))

    latent = formats.read_latent(photo.latent, loaded.weights_hash)
    assert tuple(latent.array.shape) == (1, loaded.config.num_ws, loaded.config.w_dim) and steps[-1] == 3
    assert latent.metadata["source"] == {"image": 1, "psnr": photo.psnr, "best_step": photo.best_step}
    assert photo.reconstruction_loss >= 0 and photo.reconstruction_png.startswith(b"\x89PNG")
