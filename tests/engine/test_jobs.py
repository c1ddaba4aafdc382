"""The engine's job entry points: one call returns the bytes and figures a job stores."""

from __future__ import annotations

from io import BytesIO
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from editing_engine import formats, segmentation
from editing_engine.checkpoints import LoadedModel, load_generator
from editing_engine.jobs import (
    embed_photo,
    predict_mask,
    render_sample,
    score_uncertainty,
    train_segmentation_branch,
)
from editing_engine.metrics import per_label_iou
from editing_engine.rendering import render_seed, seed_latent

LABELS = ["dark", "mid", "bright"]


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


def brightness_annotations(loaded: LoadedModel, seeds: list[int]) -> list[tuple[torch.Tensor, np.ndarray]]:
    """Latents of ``seeds`` with labels 0-2 by brightness tercile: a target a branch can learn."""
    annotations = []
    for seed in seeds:
        ws = seed_latent(loaded.generator, seed, 1.0)
        brightness = torch.from_numpy(render_seed(loaded.generator, seed, 1.0)).float().mean(dim=2)
        labels = torch.bucketize(brightness, torch.quantile(brightness, torch.tensor([0.33, 0.66])))
        annotations.append((ws, labels.numpy().astype(np.uint8)))
    return annotations


def test_a_trained_branch_is_the_engines_training_with_its_held_out_iou(tiny_model_dir: Path,
                                                                        tmp_path: Path) -> None:
    loaded = load_generator(tiny_model_dir)
    training, held_out = brightness_annotations(loaded, [1, 2, 3]), brightness_annotations(loaded, [4, 5])
    losses: list[float] = []

    trained = train_segmentation_branch(loaded, training, held_out, LABELS, members=2, steps=4,
                                        pixels_per_step=64, seed=3,
                                        progress=lambda step, total, loss: losses.append(loss))

    config = segmentation.BranchConfig.for_generator(loaded.config, num_labels=3, num_members=2)
    expected = segmentation.train_branch(loaded.generator, config, training, steps=4, pixels_per_step=64,
                                         seed=3)
    branch = segmentation.branch_from_config(trained.config, write(tmp_path, trained.weights), loaded.config,
                                             "trained branch")
    assert trained.config == config.to_dict() and len(losses) == 4
    for name, tensor in expected.state_dict().items():
        torch.testing.assert_close(branch.state_dict()[name], tensor, rtol=0, atol=0)
    predicted = [segmentation.segment(loaded.generator, expected, ws).labels[0] for ws, _ in held_out]
    target = [torch.as_tensor(labels).long() for _, labels in held_out]
    iou = [float(value) for value in per_label_iou(torch.stack(predicted), torch.stack(target), 3)]
    present = [value for value in iou if not np.isnan(value)]
    assert trained.metrics == {
        "final_loss": losses[-1],
        "per_label_iou": {name: None if np.isnan(value) else round(value, 4)
                          for name, value in zip(LABELS, iou, strict=True)},
        "mean_iou": round(sum(present) / len(present), 4),
    }
    assert present


def test_a_branch_trained_without_held_out_annotations_has_no_iou(tiny_model_dir: Path,
                                                                  tmp_path: Path) -> None:
    loaded = load_generator(tiny_model_dir)

    trained = train_segmentation_branch(loaded, brightness_annotations(loaded, [1, 2]), [], LABELS, members=1,
                                        steps=2, pixels_per_step=16, seed=0)

    assert set(trained.metrics) == {"final_loss"}
    branch = segmentation.branch_from_config(trained.config, write(tmp_path, trained.weights), loaded.config,
                                             "trained branch")
    assert branch.config.num_members == 1


def write(folder: Path, weights: bytes) -> Path:
    """A branch weights file holding ``weights``."""
    path = folder / segmentation.BRANCH_WEIGHTS_FILE
    path.write_bytes(weights)
    return path


def trained_branch(loaded: LoadedModel) -> segmentation.SegmentationBranch:
    """A small two-member branch trained on three brightness annotations."""
    config = segmentation.BranchConfig.for_generator(loaded.config, num_labels=3, num_members=2)
    return segmentation.train_branch(loaded.generator, config, brightness_annotations(loaded, [1, 2, 3]),
                                     steps=3, pixels_per_step=64, seed=1)


def test_uncertainty_scores_are_the_ensembles_disagreement_per_latent(tiny_model_dir: Path) -> None:
    loaded = load_generator(tiny_model_dir)
    branch = trained_branch(loaded)
    latents = [seed_latent(loaded.generator, seed, 1.0) for seed in (7, 8, 9)]
    done: list[int] = []

    scores = score_uncertainty(loaded, branch, latents, progress=lambda step, *_: done.append(step))

    expected = segmentation.image_uncertainty(loaded.generator, branch, torch.cat(latents))
    assert scores == expected.tolist() and done[-1] == 3


def test_a_predicted_mask_is_the_branchs_labels_and_scaled_disagreement(tiny_model_dir: Path) -> None:
    loaded = load_generator(tiny_model_dir)
    branch = trained_branch(loaded)
    ws = seed_latent(loaded.generator, 7, 1.0)

    predicted = predict_mask(loaded, branch, ws)

    with torch.no_grad():
        expected = segmentation.segment(loaded.generator, branch, ws)
    labels, uncertainty = (Image.open(BytesIO(png)) for png in (predicted.labels_png,
                                                                 predicted.uncertainty_png))
    assert labels.mode == uncertainty.mode == "L"
    np.testing.assert_array_equal(np.asarray(labels), expected.labels[0].numpy())
    scaled = np.clip(expected.uncertainty[0].numpy() / np.log(2), 0, 1)
    # Rounded to integers on 0-255: at most half a step from the exact value.
    assert np.abs(np.asarray(uncertainty).astype(float) - scaled * 255).max() <= 0.5 + 1e-3
    assert predicted.mean_uncertainty == pytest.approx(float(scaled.mean()), abs=1e-6)
