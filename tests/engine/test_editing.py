"""Conditional optimisation and refinement on a tiny generator with a briefly trained branch."""

from dataclasses import replace

import pytest
import torch

from editing_engine.editing import (
    DEFAULT_EDIT,
    DEFAULT_REFINE,
    RELEASE_RECIPE,
    EditConfig,
    EditError,
    optimize_edit,
    refine_edit,
    render_and_segment,
    result_to_vector,
)
from editing_engine.generator import Generator, GeneratorConfig
from editing_engine.losses import pixel_mse
from editing_engine.progress import Cancelled
from editing_engine.regions import RegionError
from editing_engine.segmentation import BranchConfig, SegmentationBranch, train_branch
from editing_engine.vectors import apply_vectors, vector_from_bytes, vector_to_bytes

RES = 16
TIGHT = EditConfig(dilation=0)


def brightness_labels(image: torch.Tensor) -> torch.Tensor:
    """Label 1 on the brightest and 2 on the darkest pixels, 0 elsewhere: sparse, image-following parts."""
    gray = image.mean(dim=0)
    low, high = gray.flatten().quantile(torch.tensor([0.12, 0.88]))
    return (gray > high).long() + 2 * (gray < low).long()


def with_steps(config: EditConfig, steps: int, **changes: object) -> EditConfig:
    return replace(config, steps=steps, **changes)


@pytest.fixture(scope="module")
def setup() -> tuple[Generator, SegmentationBranch, torch.Tensor]:
    torch.manual_seed(0)
    config = GeneratorConfig(resolution=RES, z_dim=32, w_dim=32, mapping_layers=2,
                             channel_base=256, channel_max=32)
    generator = Generator(config).eval().requires_grad_(False)
    annotations = []
    with torch.no_grad():
        for seed in range(4):
            ws = generator.mapping(torch.randn(1, 32, generator=torch.Generator().manual_seed(seed)))
            annotations.append((ws, brightness_labels(generator.synthesis(ws)[0])))
    branch_config = BranchConfig.for_generator(config, num_labels=3, num_members=2, hidden_widths=(32, 16),
                                               norm="batch")
    branch = train_branch(generator, branch_config, annotations, steps=80, pixels_per_step=256, seed=0)
    branch.requires_grad_(False)
    ws = generator.mapping(torch.randn(1, 32, generator=torch.Generator().manual_seed(99)))
    return generator, branch, ws


def square_edit(branch: SegmentationBranch, generator: Generator, ws: torch.Tensor) -> torch.Tensor:
    """Relabel the bright part in the left half as dark (involves labels 1 and 2 only)."""
    _, labels = render_and_segment(generator, branch, ws)
    edited = labels.clone()
    left = torch.zeros_like(labels, dtype=torch.bool)
    left[:, : RES // 2] = True
    edited[(labels == 1) & left] = 2
    assert int((edited != labels).sum()) > 10
    return edited


def outside_mse(a: torch.Tensor, b: torch.Tensor, region: torch.Tensor) -> float:
    return float(pixel_mse(a[None], b[None], (~region).float()[None]))


def test_loss_decreases_and_result_is_consistent(setup) -> None:
    generator, branch, ws = setup
    edited = square_edit(branch, generator, ws)
    result = optimize_edit(generator, branch, ws, edited, perceptual=None, config=with_steps(TIGHT, 25))
    totals = [step["total"] for step in result.losses]
    assert len(totals) == 25
    assert min(totals) < 0.8 * totals[0]
    assert result.losses[result.best_step]["ce"] < result.losses[0]["ce"]
    assert result.best_step == totals.index(min(totals))
    assert result.involved_labels == [1, 2] and result.painted_labels == [2]  # 1 was only painted over
    assert torch.allclose(result.ws_result[0], ws[0] + result.delta, atol=1e-6)
    image, segmentation = render_and_segment(generator, branch, result.ws_result)
    assert torch.equal(segmentation, result.segmentation)
    assert torch.allclose(image, result.image)
    inside = result.region
    before = (render_and_segment(generator, branch, ws)[1][inside] == edited[inside]).float().mean()
    after = (result.segmentation[inside] == edited[inside]).float().mean()
    assert after > before


def test_previews_get_every_steps_image(setup) -> None:
    generator, branch, ws = setup
    edited = square_edit(branch, generator, ws)
    seen: list[tuple[int, torch.Tensor]] = []
    result = optimize_edit(generator, branch, ws, edited, perceptual=None, config=with_steps(TIGHT, 4),
                           preview=lambda step, image: seen.append((step, image)))
    assert [step for step, _ in seen] == [1, 2, 3, 4]
    size = generator.config.resolution
    assert all(image.shape == (1, 3, size, size) and not image.requires_grad for _, image in seen)
    # The image of the best step is the one the result re-renders from the best latent.
    assert torch.allclose(seen[result.best_step][1][0], result.image, atol=1e-5)


def test_best_latent_is_kept_not_the_last(setup) -> None:
    generator, branch, ws = setup
    edited = square_edit(branch, generator, ws)
    seen: list[torch.Tensor] = []

    def recording_distance(a: torch.Tensor, b: torch.Tensor, mask: torch.Tensor | None = None
                           ) -> torch.Tensor:
        seen.append(a.detach().clone())
        return pixel_mse(a, b, mask)

    # A learning rate this large overshoots, so the last latent is not the best one.
    config = with_steps(TIGHT, 12, learning_rate=1.5)
    result = optimize_edit(generator, branch, ws, edited, perceptual=recording_distance, config=config)
    totals = [step["total"] for step in result.losses]
    assert result.best_step == totals.index(min(totals))
    assert result.best_step < len(totals) - 1
    assert torch.allclose(seen[result.best_step][0], result.image, atol=1e-5)


def test_outside_region_is_preserved_compared_to_unconstrained(setup) -> None:
    generator, branch, ws = setup
    edited = square_edit(branch, generator, ws)
    original, _ = render_and_segment(generator, branch, ws)
    kept = optimize_edit(generator, branch, ws, edited, perceptual=None, config=with_steps(TIGHT, 20))
    free_config = with_steps(TIGHT, 20, perceptual_weight=0.0, mse_weight=0.0, encoder_weight=0.0)
    free = optimize_edit(generator, branch, ws, edited, perceptual=None, config=free_config)
    assert torch.equal(kept.region, free.region)
    kept_error = outside_mse(kept.image, original, kept.region)
    assert kept_error < 0.5 * outside_mse(free.image, original, free.region)


def test_cancel_is_honoured_and_progress_reported(setup) -> None:
    generator, branch, ws = setup
    edited = square_edit(branch, generator, ws)
    calls: list[tuple[int, int, float]] = []
    checks = iter([False, False, False, True])
    with pytest.raises(Cancelled):
        optimize_edit(generator, branch, ws, edited, perceptual=None, config=with_steps(TIGHT, 10),
                      progress=lambda step, total, loss: calls.append((step, total, loss)),
                      should_cancel=lambda: next(checks))
    assert [c[:2] for c in calls] == [(1, 10), (2, 10), (3, 10)]
    assert all(isinstance(c[2], float) for c in calls)


def test_encoder_regulariser_is_used_when_given(setup) -> None:
    generator, branch, ws = setup
    edited = square_edit(branch, generator, ws)

    class ConstantEncoder(torch.nn.Module):
        def forward(self, images: torch.Tensor) -> torch.Tensor:
            return ws.expand(images.shape[0], -1, -1)

    result = optimize_edit(generator, branch, ws, edited, perceptual=None, encoder=ConstantEncoder(),
                           config=with_steps(TIGHT, 3))
    assert result.losses[0]["encoder"] == 0.0
    assert result.losses[2]["encoder"] > 0.0
    without = optimize_edit(generator, branch, ws, edited, perceptual=None, config=with_steps(TIGHT, 3))
    assert "encoder" not in without.losses[0]


def test_release_recipe_uses_only_the_brush(setup) -> None:
    generator, branch, ws = setup
    edited = square_edit(branch, generator, ws)
    with pytest.raises(EditError, match="brush"):
        optimize_edit(generator, branch, ws, edited, perceptual=None, config=RELEASE_RECIPE)
    brush = torch.zeros(RES, RES, dtype=torch.bool)
    brush[6, 6] = True
    result = optimize_edit(generator, branch, ws, edited, perceptual=None, brush_mask=brush,
                           config=with_steps(RELEASE_RECIPE, 3))
    assert int(result.region.sum()) == 49
    ours = optimize_edit(generator, branch, ws, edited, perceptual=None, config=with_steps(DEFAULT_EDIT, 3))
    assert bool(ours.region[edited != render_and_segment(generator, branch, ws)[1]].all())


def test_release_recipe_measures_preservation_on_unit_images(setup) -> None:
    generator, branch, ws = setup
    edited = square_edit(branch, generator, ws)
    brush = torch.zeros(RES, RES, dtype=torch.bool)
    brush[4:8, 4:8] = True
    seen: dict[str, torch.Tensor] = {}

    def recording_distance(a: torch.Tensor, b: torch.Tensor, mask: torch.Tensor | None = None
                           ) -> torch.Tensor:
        seen.setdefault(range_name, a.detach().clone())
        return pixel_mse(a, b, mask)

    results = {}
    for range_name in ("unit", "signed"):
        config = with_steps(RELEASE_RECIPE, 1, image_range=range_name)
        results[range_name] = optimize_edit(generator, branch, ws, edited, perceptual=recording_distance,
                                            brush_mask=brush, config=config)
    unit, signed = results["unit"].losses[0], results["signed"].losses[0]
    # Step 0 renders the same image both ways: [0, 1] differences are half the [-1, 1] ones.
    assert unit["mse"] == pytest.approx(signed["mse"] / 4, rel=1e-5)
    region = results["unit"].region
    assert RELEASE_RECIPE.image_range == "unit" and DEFAULT_EDIT.image_range == "signed"
    # Masked-out pixels reach the perceptual distance as black (-1) on the release's scale, 0 otherwise.
    assert bool((seen["unit"][0][:, region] == -1).all()) and bool((seen["signed"][0][:, region] == 0).all())
    with pytest.raises(EditError, match="image_range"):
        EditConfig(image_range="percent")  # type: ignore[arg-type]


def test_bad_requests_are_refused(setup) -> None:
    generator, branch, ws = setup
    _, labels = render_and_segment(generator, branch, ws)
    with pytest.raises(RegionError, match="identical"):
        optimize_edit(generator, branch, ws, labels, perceptual=None)
    with pytest.raises(EditError, match="branch works at"):
        optimize_edit(generator, branch, ws, torch.zeros(8, 8, dtype=torch.long), perceptual=None)
    with pytest.raises(RegionError, match="3 labels"):
        optimize_edit(generator, branch, ws, torch.full((RES, RES), 5), perceptual=None)
    with pytest.raises(EditError, match=r"ws must be"):
        optimize_edit(generator, branch, ws[:, :3], labels, perceptual=None)
    with pytest.raises(EditError, match="steps"):
        EditConfig(steps=0)


def test_refinement_pulls_the_outside_back(setup) -> None:
    generator, branch, ws = setup
    edited = square_edit(branch, generator, ws)
    edit = optimize_edit(generator, branch, ws, edited, perceptual=None, config=with_steps(TIGHT, 15))
    other = generator.mapping(torch.randn(1, 32, generator=torch.Generator().manual_seed(7)))
    transferred = apply_vectors(other, [edit.delta], [1.5])
    original, _ = render_and_segment(generator, branch, other)
    vector_image, _ = render_and_segment(generator, branch, transferred)
    calls: list[int] = []
    refined = refine_edit(generator, branch, other, transferred, edit.involved_labels, perceptual=None,
                          config=replace(DEFAULT_REFINE, dilation=0),
                          progress=lambda step, total, loss: calls.append(step))
    assert calls == list(range(1, 11))
    assert torch.allclose(refined.ws_result[0], other[0] + refined.delta, atol=1e-6)
    region = refined.region
    assert outside_mse(refined.image, original, region) < outside_mse(vector_image, original, region)
    with pytest.raises(RegionError, match="at least one"):
        refine_edit(generator, branch, other, transferred, [], perceptual=None)


def test_refinement_refuses_labels_absent_from_both_segmentations(setup, monkeypatch) -> None:
    import editing_engine.editing as editing

    generator, branch, ws = setup
    image, _ = render_and_segment(generator, branch, ws)
    monkeypatch.setattr(editing, "render_and_segment",
                        lambda *args: (image, torch.zeros(RES, RES, dtype=torch.long)))
    with pytest.raises(EditError, match="nothing to refine"):
        refine_edit(generator, branch, ws, ws + 0.1, [2], perceptual=None)


def test_result_becomes_a_vector(setup) -> None:
    generator, branch, ws = setup
    edited = square_edit(branch, generator, ws)
    result = optimize_edit(generator, branch, ws, edited, perceptual=None, config=with_steps(TIGHT, 2))
    vector = result_to_vector(result, "f" * 64, name="brighten", label_names=["mid", "light", "dark"],
                              source={"kind": "test"})
    loaded = vector_from_bytes(vector_to_bytes(vector), expected_model_hash="f" * 64,
                               expected_shape=(generator.num_ws, 32))
    assert loaded.labels == result.involved_labels
    assert loaded.label_names == [["mid", "light", "dark"][i] for i in result.involved_labels]
    assert loaded.settings["steps"] == 2 and loaded.region["pixels"] == int(result.region.sum())
    assert torch.equal(loaded.delta, result.delta)


def test_cli_edit_then_apply(setup, tmp_path, capsys) -> None:
    import numpy as np
    from PIL import Image

    from editing_engine.checkpoints import load_generator, save_model
    from editing_engine.cli import main
    from editing_engine.label_maps import read_label_png, write_label_png
    from editing_engine.segmentation import save_branch
    from editing_engine.vectors import load_latent, load_vector

    generator, branch, _ = setup
    model_dir = save_model(tmp_path / "model", generator)
    branch_dir = save_branch(tmp_path / "branch", branch)
    colours = [(0, 0, 0), (255, 255, 255), (255, 0, 0)]
    (model_dir / "labels.json").write_text(
        '{"labels": [{"name": "mid", "colour": "#000000", "context": true},'
        ' {"name": "bright", "colour": "#ffffff"}, {"name": "dark", "colour": "#ff0000"}]}'
    )
    from editing_engine.generator import seed_to_z

    start = generator.mapping(seed_to_z(5, 32), truncation_psi=0.7)
    edited = square_edit(branch, generator, start)
    mask_path = tmp_path / "edited.png"
    Image.fromarray(np.array(colours, dtype=np.uint8)[edited.numpy()]).save(mask_path)  # an RGB label map
    assert torch.equal(read_label_png(mask_path, colours), edited)
    out = tmp_path / "out"
    code = main(["edit", "--model", str(model_dir), "--branch", str(branch_dir), "--seed", "5",
                 "--edited-mask", str(mask_path), "--steps", "4", "--dilation", "0", "--out", str(out)])
    assert code == 0, capsys.readouterr().err
    model_hash = load_generator(model_dir).weights_hash
    vector = load_vector(out / "vector.safetensors", model_hash, (generator.num_ws, 32))
    assert vector.label_names == ["bright", "dark"] and vector.source["seed"] == 5
    assert vector.settings["context_labels"] == [0]  # the taxonomy's context label by default
    result_ws = load_latent(out / "latent.safetensors", model_hash)
    assert torch.allclose(result_ws[0], start[0] + vector.delta, atol=1e-5)
    assert read_label_png(out / "segmentation.png", colours).shape == (RES, RES)
    image = tmp_path / "applied.png"
    vector_file = out / "vector.safetensors"
    code = main(["apply", "--model", str(model_dir), "--latent", str(out / "source_latent.safetensors"),
                 "--vector", f"{vector_file}:1", "--vector", f"{vector_file}:-0.5",
                 "--refine-steps", "2", "--branch", str(branch_dir), "-o", str(image)])
    assert code == 0, capsys.readouterr().err
    assert Image.open(image).size == (RES, RES)
    # a vector for another model is refused with a message, not a traceback
    other_dir = save_model(tmp_path / "other", Generator(generator.config))
    code = main(["apply", "--model", str(other_dir), "--seed", "1", "--vector", str(vector_file),
                 "-o", str(image)])
    assert code == 2 and "not for this model" in capsys.readouterr().err
    write_label_png(tmp_path / "p.png", edited, colours)
    assert torch.equal(read_label_png(tmp_path / "p.png", colours), edited)


def test_cli_context_labels_follow_the_taxonomy_unless_given(setup, tmp_path, capsys) -> None:
    from editing_engine.checkpoints import load_generator, save_model
    from editing_engine.cli import main
    from editing_engine.generator import seed_to_z
    from editing_engine.label_maps import write_label_png
    from editing_engine.segmentation import save_branch
    from editing_engine.taxonomy import TaxonomyError, model_taxonomy
    from editing_engine.vectors import load_vector

    generator, branch, _ = setup
    model_dir = save_model(tmp_path / "model", generator)
    branch_dir = save_branch(tmp_path / "branch", branch)
    labels = '{"labels": [{"name": "mid", "colour": "#000000"%s}, {"name": "bright", "colour": "#ffffff"},' \
             ' {"name": "dark", "colour": "#ff0000", "context": true}]}'
    (model_dir / "labels.json").write_text(labels % "")
    assert model_taxonomy(model_dir, 3).context == (2,)
    edited = square_edit(branch, generator, generator.mapping(seed_to_z(5, 32), truncation_psi=0.7))
    write_label_png(tmp_path / "edited.png", edited, model_taxonomy(model_dir, 3).colours)
    model_hash = load_generator(model_dir).weights_hash
    for extra, expected in (([], [2]), (["--context-labels"], []), (["--context-labels", "0", "1"], [0, 1])):
        out = tmp_path / f"out{len(extra)}"
        code = main(["edit", "--model", str(model_dir), "--branch", str(branch_dir), "--seed", "5",
                     "--steps", "1", "--edited-mask", str(tmp_path / "edited.png"), "--out", str(out),
                     *extra])
        assert code == 0, capsys.readouterr().err
        vector = load_vector(out / "vector.safetensors", model_hash, (generator.num_ws, 32))
        assert vector.settings["context_labels"] == expected
    (model_dir / "labels.json").write_text(labels % ', "context": "yes"')
    with pytest.raises(TaxonomyError, match="Label 0 has a context flag that is not true or false"):
        model_taxonomy(model_dir, 3)


def test_masked_discriminator_distance_keeps_the_edit_finite(setup) -> None:
    from editing_engine.discriminator import Discriminator, DiscriminatorConfig
    from editing_engine.losses import DiscriminatorFeatureDistance

    generator, branch, ws = setup
    torch.manual_seed(1)
    # A fresh discriminator has zero biases, so masked-out positions give all-zero features.
    perceptual = DiscriminatorFeatureDistance(Discriminator(DiscriminatorConfig(resolution=RES)))
    result = optimize_edit(generator, branch, ws, square_edit(branch, generator, ws), perceptual=perceptual,
                           config=with_steps(TIGHT, 3))
    assert all(torch.isfinite(torch.tensor(step["total"])) for step in result.losses)
    assert result.losses[0]["perceptual"] == 0.0
