"""Segmentation branch: exact low-memory logits, gradients, uncertainty, training, files."""

from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from editing_engine.generator import Generator, GeneratorConfig
from editing_engine.progress import Cancelled
from editing_engine.segmentation import (
    BranchConfig,
    BranchError,
    PixelSet,
    SegmentationBranch,
    build_feature_cache,
    image_uncertainty,
    load_branch,
    naive_pixel_features,
    pixel_feature_table,
    resample_rows,
    sample_at_pixels,
    sample_member_pixels,
    sample_points,
    save_branch,
    segment,
    train_branch,
)

from .tiny import tiny_config


@pytest.fixture
def generator() -> Generator:
    torch.manual_seed(0)
    return Generator(tiny_config()).eval().requires_grad_(False)


def make_branch(
    config: GeneratorConfig,
    norm: str = "batch",
    members: int = 3,
    labels: int = 4,
    resolution: int | None = None,
) -> SegmentationBranch:
    branch_config = BranchConfig(
        feature_shapes=tuple(config.feature_shapes()),
        num_labels=labels,
        resolution=resolution or config.resolution,
        num_members=members,
        hidden_widths=(16, 8),
        norm=norm,
    )  # type: ignore[arg-type]
    branch = SegmentationBranch(branch_config, seed=1)
    if norm == "batch":
        # Give BatchNorm non-trivial running statistics so eval mode is not the identity.
        with torch.no_grad():
            for module in branch.modules():
                if isinstance(module, torch.nn.BatchNorm1d):
                    module.running_mean.uniform_(-0.5, 0.5)
                    module.running_var.uniform_(0.5, 2.0)
                    module.weight.uniform_(0.5, 1.5)
                    module.bias.uniform_(-0.2, 0.2)
    if norm == "layer":
        with torch.no_grad():
            for module in branch.norms:
                module.weight.uniform_(0.5, 1.5)
                module.bias.uniform_(-0.2, 0.2)
    return branch.eval()


def naive_logits(branch: SegmentationBranch, features: list[torch.Tensor]) -> torch.Tensor:
    """Member logits through the release's path: concat-and-upsample, then a per-pixel MLP."""
    resolution = branch.config.resolution
    pixel_features = naive_pixel_features(features, resolution)
    batch, channels = pixel_features.shape[:2]
    flat = pixel_features.permute(0, 2, 3, 1).reshape(-1, channels)
    logits = branch.logits_from_pixel_features(flat)
    members, labels = branch.config.num_members, branch.config.num_labels
    return logits.reshape(members, batch, resolution, resolution, labels).permute(1, 0, 4, 2, 3)


def features_for(
    generator: Generator, batch: int = 2, seed: int = 0
) -> tuple[torch.Tensor, list[torch.Tensor]]:
    torch.manual_seed(seed)
    ws = generator.mapping(torch.randn(batch, generator.config.z_dim))
    _, features = generator.synthesis(ws, return_features=True)
    return ws, features


# Reference-vs-fast equivalence is checked in float64. In float32 the two paths sum the same
# products in different orders (unit roundoff 6e-8 per operation), and LayerNorm divides by the
# standard deviation of a few hidden activations, which amplifies that rounding by up to ~1e4:
# measured differences reach 4e-4 on some x86-64 CPUs, so no float32 tolerance both holds
# everywhere and still catches a wrong index. In float64 (roundoff 1.1e-16) the same
# amplification leaves ~1e-12, so 1e-9 holds on any CPU with a 1000x margin, while any real
# difference between the paths (a wrong pixel, tap or member) is of the order of the values.
EXACT64 = {"rtol": 1e-9, "atol": 1e-9}


def in_float64(
    branch: SegmentationBranch, features: list[torch.Tensor]
) -> tuple[SegmentationBranch, list[torch.Tensor]]:
    """The branch and features converted to float64, for equivalence checks."""
    return branch.double(), [feature.double() for feature in features]


@pytest.mark.parametrize("in_size,out_size", [(4, 16), (8, 16), (16, 16), (32, 16), (3, 7)])
def test_sampling_at_pixels_matches_interpolate(in_size: int, out_size: int) -> None:
    feature = torch.randn(2, 5, in_size, in_size)
    expected = F.interpolate(feature, size=(out_size, out_size), mode="bilinear", align_corners=False)
    mask = torch.rand(2, out_size, out_size, generator=torch.Generator().manual_seed(0)) < 0.5
    pixels = PixelSet.from_mask(mask)
    got = sample_at_pixels(feature, pixels, out_size)
    torch.testing.assert_close(got, expected.permute(0, 2, 3, 1)[mask])


@pytest.mark.parametrize("in_size", [4, 16, 32])
def test_sampling_points_per_image_matches_interpolate(in_size: int) -> None:
    feature = torch.randn(3, 5, in_size, in_size)
    expected = F.interpolate(feature, size=(16, 16), mode="bilinear", align_corners=False)
    rng = torch.Generator().manual_seed(1)
    rows, cols = torch.randint(0, 16, (3, 7), generator=rng), torch.randint(0, 16, (3, 7), generator=rng)
    got = sample_points(feature, rows, cols, 16)
    assert got.shape == (3, 5, 7)
    torch.testing.assert_close(got, expected[torch.arange(3)[:, None], :, rows, cols].transpose(1, 2))


@pytest.mark.parametrize("in_size,out_size", [(4, 16), (16, 16), (32, 16), (3, 7), (48, 64), (64, 40)])
def test_resampling_row_bands_matches_interpolate(in_size: int, out_size: int) -> None:
    feature = torch.randn(2, 5, in_size, in_size)
    expected = F.interpolate(feature, size=(out_size, out_size), mode="bilinear", align_corners=False)
    torch.testing.assert_close(resample_rows(feature, slice(0, out_size), out_size), expected)
    torch.testing.assert_close(resample_rows(feature, slice(2, 5), out_size), expected[:, :, 2:5])


@pytest.mark.parametrize("norm", ["batch", "layer", "none"])
def test_low_memory_logits_equal_naive(generator: Generator, norm: str) -> None:
    branch, features = in_float64(make_branch(generator.config, norm=norm), features_for(generator)[1])
    expected = naive_logits(branch, features)
    got = branch.logits(features)
    assert got.shape == (2, 3, 4, 16, 16)
    torch.testing.assert_close(got, expected, **EXACT64)


def test_low_memory_logits_equal_naive_with_small_chunks(generator: Generator) -> None:
    branch = make_branch(generator.config)
    branch.chunk_bytes = 1  # one member and one row at a time
    branch.chunk_pixels = 37
    mask = torch.ones(2, 16, 16, dtype=torch.bool)
    branch, features = in_float64(branch, features_for(generator)[1])
    expected = naive_logits(branch, features)
    torch.testing.assert_close(branch.logits(features), expected, **EXACT64)
    masked = branch.logits(features, pixel_mask=mask)
    torch.testing.assert_close(masked, expected.permute(1, 0, 3, 4, 2).reshape(3, -1, 4), **EXACT64)


def test_low_memory_logits_equal_naive_when_branch_resolution_differs(generator: Generator) -> None:
    branch, features = in_float64(make_branch(generator.config, resolution=8), features_for(generator)[1])
    torch.testing.assert_close(branch.logits(features), naive_logits(branch, features), **EXACT64)


@pytest.mark.parametrize("norm", ["batch", "layer"])
@pytest.mark.parametrize("fraction", [0.02, 0.5])
def test_masked_logits_equal_naive_at_the_mask(generator: Generator, fraction: float, norm: str) -> None:
    branch, features = in_float64(make_branch(generator.config, norm=norm), features_for(generator)[1])
    mask = torch.rand(2, 16, 16, generator=torch.Generator().manual_seed(3)) < fraction
    mask[0, 0, 0] = True
    full = naive_logits(branch, features)
    got = branch.logits(features, pixel_mask=mask)
    b, y, x = mask.nonzero(as_tuple=True)
    expected = full.permute(1, 0, 3, 4, 2)[:, b, y, x]
    assert got.shape == (3, int(mask.sum()), 4)
    torch.testing.assert_close(got, expected, **EXACT64)
    log_probs = branch.log_probs(features, pixel_mask=mask)
    torch.testing.assert_close(log_probs, branch.log_probs(features).permute(0, 2, 3, 1)[b, y, x], **EXACT64)


def test_wrong_features_refused(generator: Generator) -> None:
    branch = make_branch(generator.config)
    _, features = features_for(generator)
    with pytest.raises(BranchError, match="shapes"):
        branch.logits(features[:-1])
    with pytest.raises(BranchError, match="pixel_mask"):
        branch.logits(features, pixel_mask=torch.ones(2, 8, 8, dtype=torch.bool))


@pytest.mark.parametrize("masked", [False, True])
def test_low_memory_gradients_equal_naive(generator: Generator, masked: bool) -> None:
    branch, features = in_float64(make_branch(generator.config, norm="layer"), features_for(generator)[1])
    branch.requires_grad_(False)
    branch.chunk_bytes = 4096
    mask = torch.rand(2, 16, 16, generator=torch.Generator().manual_seed(4)) < 0.3
    weights = torch.randn(2, 3, 4, 16, 16, generator=torch.Generator().manual_seed(5), dtype=torch.float64)
    grads = []
    for path in ("naive", "low"):
        leaves = [f.detach().clone().requires_grad_(True) for f in features]
        logits = naive_logits(branch, leaves) if path == "naive" else branch.logits(leaves)
        if masked:
            picked = weights.permute(1, 0, 3, 4, 2)[:, mask]
            low = branch.logits(leaves, pixel_mask=mask) if path == "low" else None
            selected = low if low is not None else logits.permute(1, 0, 3, 4, 2)[:, mask]
            (selected * picked).sum().backward()
        else:
            (logits * weights).sum().backward()
        grads.append([leaf.grad for leaf in leaves])
    for naive_grad, low_grad in zip(*grads, strict=True):
        torch.testing.assert_close(low_grad, naive_grad, **EXACT64)


def test_gradients_flow_to_ws(generator: Generator) -> None:
    branch = make_branch(generator.config).requires_grad_(False)
    ws, _ = features_for(generator, batch=1)
    ws = ws.clone().requires_grad_(True)
    _, features = generator.synthesis(ws, return_features=True)
    mask = torch.zeros(1, 16, 16, dtype=torch.bool)
    mask[0, 4:9, 5:11] = True
    log_probs = branch.log_probs(features, pixel_mask=mask)
    target = torch.full((int(mask.sum()),), 2)
    F.nll_loss(log_probs, target).backward()
    assert ws.grad is not None
    assert ws.grad.abs().sum() > 0
    assert torch.isfinite(ws.grad).all()


def test_predict_probabilities_and_uncertainty(generator: Generator) -> None:
    branch = make_branch(generator.config, members=4).requires_grad_(False)
    _, features = features_for(generator)
    output = branch.predict(features)
    torch.testing.assert_close(output.probs.sum(dim=1), torch.ones(2, 16, 16))
    assert torch.equal(output.labels, output.probs.argmax(dim=1))
    assert (output.uncertainty > 1e-4).any()
    member_probs = branch.logits(features).softmax(dim=2)
    torch.testing.assert_close(output.probs, member_probs.mean(dim=1))
    mean = member_probs.mean(dim=1)
    expected = -(mean * mean.log()).sum(1) + (member_probs * member_probs.log()).sum(2).mean(1)
    torch.testing.assert_close(output.uncertainty, expected.clamp(min=0), rtol=1e-4, atol=1e-5)
    branch.chunk_bytes = 1  # one member at a time
    chunked = branch.predict(features)
    torch.testing.assert_close(chunked.probs, output.probs)
    torch.testing.assert_close(chunked.uncertainty, output.uncertainty, rtol=1e-4, atol=1e-5)
    assert float(output.uncertainty.max()) <= torch.log(torch.tensor(4.0)).item() + 1e-5


def test_uncertainty_is_zero_when_members_agree(generator: Generator) -> None:
    branch = make_branch(generator.config, norm="layer", members=3).requires_grad_(False)
    with torch.no_grad():
        for parameter in [branch.first_weight, branch.first_bias]:
            rows = parameter.reshape(3, -1, *parameter.shape[1:])
            rows[1:] = rows[0]
        for parameter in [*branch.weights, *branch.biases]:
            parameter[1:] = parameter[0]
        for norm in branch.norms:
            norm.weight[1:] = norm.weight[0]
            norm.bias[1:] = norm.bias[0]
    _, features = features_for(generator)
    output = branch.predict(features)
    assert float(output.uncertainty.abs().max()) < 1e-5


def test_image_uncertainty_is_the_mean_of_the_pixel_map(generator: Generator) -> None:
    branch = make_branch(generator.config, norm="layer", members=3).requires_grad_(False)
    torch.manual_seed(2)
    ws = generator.mapping(torch.randn(5, 32))
    calls: list[tuple[int, int, float]] = []
    scores = image_uncertainty(generator, branch, ws, batch_size=2, progress=lambda *c: calls.append(c))
    assert [call[:2] for call in calls] == [(2, 5), (4, 5), (5, 5)]
    assert calls[-1][2] == pytest.approx(float(scores.mean()))
    with pytest.raises(Cancelled):
        image_uncertainty(generator, branch, ws, batch_size=2, should_cancel=lambda: True)
    expected = torch.stack([segment(generator, branch, ws[i : i + 1]).uncertainty.mean() for i in range(5)])
    assert scores.shape == (5,)
    torch.testing.assert_close(scores, expected, rtol=1e-4, atol=1e-6)
    assert len(set(scores.tolist())) == 5
    with pytest.raises(BranchError, match="non-empty"):
        image_uncertainty(generator, branch, ws[:0])


def synthetic_annotations(generator: Generator, count: int) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """Label pixels by thresholding a fixed projection of the features: a learnable target."""
    torch.manual_seed(5)
    annotations = []
    for _ in range(count):
        ws = generator.mapping(torch.randn(1, generator.config.z_dim))
        img = generator.synthesis(ws)
        brightness = img.mean(dim=1)[0]
        labels = torch.bucketize(brightness, torch.quantile(brightness, torch.tensor([0.33, 0.66])))
        annotations.append((ws, labels))
    return annotations


def test_training_reaches_high_train_accuracy(generator: Generator) -> None:
    annotations = synthetic_annotations(generator, 4)
    config = BranchConfig.for_generator(generator.config, num_labels=3, num_members=2, hidden_widths=(32, 16))
    calls: list[tuple[int, int, float]] = []
    branch = train_branch(
        generator,
        config,
        annotations,
        steps=150,
        pixels_per_step=256,
        progress=lambda s, t, loss: calls.append((s, t, loss)),
    )
    assert not branch.training
    assert len(calls) == 150 and calls[-1][:2] == (150, 150)
    assert calls[-1][2] < calls[0][2]
    ws = torch.cat([a[0] for a in annotations])
    labels = torch.stack([a[1] for a in annotations])
    accuracy = (segment(generator, branch, ws).labels == labels).float().mean().item()
    assert accuracy > 0.9


def test_pixel_table_gather_equals_grid_sample(generator: Generator) -> None:
    cache = build_feature_cache(generator, synthetic_annotations(generator, 3), 16)
    table = pixel_feature_table(cache.features, 16, max_bytes=2**30)
    assert table is not None
    naive = naive_pixel_features(cache.features, 16)
    torch.testing.assert_close(table, naive.permute(0, 2, 3, 1).reshape(-1, naive.shape[1]))
    rows = torch.randint(0, 16, (3, 2 * 5), generator=torch.Generator().manual_seed(0))
    cols = torch.randint(0, 16, (3, 2 * 5), generator=torch.Generator().manual_seed(1))
    gathered, gathered_labels = sample_member_pixels(cache, table, rows, cols, members=2)
    sampled, sampled_labels = sample_member_pixels(cache, None, rows, cols, members=2)
    assert gathered.shape == (2, 15, sum(s[0] for s in generator.config.feature_shapes()))
    torch.testing.assert_close(gathered, sampled)
    assert torch.equal(gathered_labels, sampled_labels)
    buffer = torch.full((2 * 15, gathered.shape[2]), float("nan"))
    into_buffer, _ = sample_member_pixels(cache, table, rows, cols, members=2, out=buffer)
    assert torch.equal(into_buffer, gathered) and into_buffer.data_ptr() == buffer.data_ptr()
    # Member 1's first pixel of image 0 is column 5 of image 0's draws.
    assert int(gathered_labels[1, 0]) == int(cache.labels[0, rows[0, 5], cols[0, 5]])


def test_pixel_table_respects_its_byte_limit(generator: Generator) -> None:
    cache = build_feature_cache(generator, synthetic_annotations(generator, 2), 16)
    channels = sum(s[0] for s in generator.config.feature_shapes())
    exact = 2 * 16 * 16 * channels * 4
    assert pixel_feature_table(cache.features, 16, max_bytes=exact) is not None
    assert pixel_feature_table(cache.features, 16, max_bytes=exact - 1) is None


def test_training_with_and_without_pixel_table_agrees(generator: Generator) -> None:
    annotations = synthetic_annotations(generator, 2)
    config = BranchConfig.for_generator(generator.config, num_labels=3, num_members=2, hidden_widths=(8,))
    losses: dict[int, list[float]] = {0: [], 2**30: []}
    for limit, record in losses.items():
        train_branch(generator, config, annotations, steps=5, pixels_per_step=32, pixel_table_bytes=limit,
                     progress=lambda s, t, loss, record=record: record.append(loss))
    assert losses[0] == pytest.approx(losses[2**30], rel=1e-4)


def test_cosine_schedule_decays_the_learning_rate(
    generator: Generator, monkeypatch: pytest.MonkeyPatch
) -> None:
    rates: list[float] = []
    original = torch.optim.Adam.step

    def spy(self: torch.optim.Adam, *args: object, **kwargs: object) -> object:
        rates.append(self.param_groups[0]["lr"])
        return original(self, *args, **kwargs)

    monkeypatch.setattr(torch.optim.Adam, "step", spy)
    config = BranchConfig.for_generator(generator.config, num_labels=3, num_members=1, hidden_widths=(8,))
    train_branch(generator, config, synthetic_annotations(generator, 1), steps=4, pixels_per_step=8,
                 learning_rate=0.01, schedule="cosine")
    assert rates == pytest.approx([0.01, 0.01 * (1 + 0.5**0.5) / 2, 0.005, 0.01 * (1 - 0.5**0.5) / 2])


def test_training_cancel_is_honoured(generator: Generator) -> None:
    annotations = synthetic_annotations(generator, 1)
    config = BranchConfig.for_generator(generator.config, num_labels=3, num_members=1, hidden_widths=(8,))
    steps: list[int] = []
    with pytest.raises(Cancelled):
        train_branch(
            generator,
            config,
            annotations,
            steps=50,
            pixels_per_step=16,
            progress=lambda s, t, loss: steps.append(s),
            should_cancel=lambda: len(steps) >= 3,
        )
    assert steps == [1, 2, 3]


def test_training_refuses_bad_labels(generator: Generator) -> None:
    ws = generator.mapping(torch.randn(1, 32))
    config = BranchConfig.for_generator(generator.config, num_labels=3, num_members=1, hidden_widths=(8,))
    with pytest.raises(BranchError, match="labels must lie"):
        train_branch(generator, config, [(ws, torch.full((16, 16), 3))], steps=1, pixels_per_step=4)
    with pytest.raises(BranchError, match="label map"):
        train_branch(
            generator, config, [(ws, torch.zeros(8, 8, dtype=torch.long))], steps=1, pixels_per_step=4
        )


def test_save_load_round_trip(tmp_path: Path, generator: Generator) -> None:
    branch = make_branch(generator.config)
    save_branch(tmp_path / "branch", branch, {"labels": ["a", "b", "c", "d"]})
    loaded = load_branch(tmp_path / "branch", generator.config)
    assert loaded.config == branch.config
    assert not loaded.training
    _, features = features_for(generator)
    torch.testing.assert_close(loaded.logits(features), branch.logits(features))


def test_load_refuses_other_generator(tmp_path: Path, generator: Generator) -> None:
    save_branch(tmp_path / "branch", make_branch(generator.config))
    other = GeneratorConfig(
        resolution=16, z_dim=32, w_dim=32, mapping_layers=2, channel_base=512, channel_max=64
    )
    with pytest.raises(BranchError, match="trained on features"):
        load_branch(tmp_path / "branch", other)
    with pytest.raises(BranchError, match="cannot read"):
        load_branch(tmp_path / "missing")


def test_config_dict_round_trip() -> None:
    config = BranchConfig.for_generator(tiny_config(), num_labels=5, num_members=2, norm="layer")
    assert BranchConfig.from_dict(config.to_dict()) == config
    with pytest.raises(BranchError, match="unknown"):
        BranchConfig.from_dict({**config.to_dict(), "extra": 1})


def test_cli_train_branch_and_segment(tmp_path: Path, generator: Generator) -> None:
    import numpy as np
    from PIL import Image

    from editing_engine.checkpoints import load_generator, save_model
    from editing_engine.cli import main
    from editing_engine.vectors import save_latent

    save_model(tmp_path / "model", generator)
    model = load_generator(tmp_path / "model")
    (tmp_path / "ann").mkdir()
    for index, (ws, labels) in enumerate(synthetic_annotations(model.generator, 2)):
        save_latent(tmp_path / "ann" / f"a{index}.safetensors", ws, model.weights_hash)
        Image.fromarray(labels.numpy().astype(np.uint8), mode="L").save(tmp_path / "ann" / f"a{index}.png")
    common = ["--model", str(tmp_path / "model")]
    assert (
        main(
            [
                "train-branch",
                *common,
                "--annotations",
                str(tmp_path / "ann"),
                "--num-labels",
                "3",
                "--members",
                "2",
                "--hidden",
                "8",
                "--steps",
                "5",
                "--pixels-per-step",
                "16",
            ]
        )
        == 0
    )
    assert load_branch(tmp_path / "model" / "branch", model.config).config.num_labels == 3
    out = tmp_path / "seg.png"
    assert (
        main(["segment", *common, "--seed", "3", "-o", str(out), "--uncertainty", str(tmp_path / "u.png")])
        == 0
    )
    assert Image.open(out).size == (16, 16) and Image.open(tmp_path / "u.png").mode == "L"
    (tmp_path / "ann" / "a1.png").unlink()
    assert main(["train-branch", *common, "--annotations", str(tmp_path / "ann"), "--num-labels", "3"]) == 2
