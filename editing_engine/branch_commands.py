"""The ``train-branch``, ``segment``, ``train-encoder`` and ``embed`` subcommands of ``partedit-engine``.

``train-branch``: annotated latents -> a segmentation branch directory. Annotations come from a
directory of ``NAME.safetensors`` latents (the engine's latent format) with ``NAME.png`` label
maps, or, for the demo domain, from the oracle's labels of sampled images (``--oracle-samples``).
``segment``: a latent -> label-map PNG (+ optional uncertainty PNG and the rendered image).
``train-encoder``: generator samples (+ optional procedural renders as real images) -> encoder.
``embed``: an image -> W+ latent file, its rendering and PSNR.

By default the branch and encoder live beside the model: ``<model>/branch`` and ``<model>/encoder``.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from PIL import Image

from .annotation_sources import (
    ORACLE_SAMPLE_SEED_BASE,
    annotations_from_directory,
    oracle_annotations,
    procedural_real_images,
)
from .checkpoints import LoadedModel, load_generator
from .edit_commands import handled
from .label_maps import write_label_png
from .models_path import default_model_path
from .oracle import BUNDLED_ORACLE_DIR
from .perceptual_options import add_lpips_arguments, perceptual_from_args
from .progress import ProgressCallback
from .segmentation import (
    DEFAULT_LEARNING_RATE,
    DEFAULT_PIXELS_PER_STEP,
    DEFAULT_SCHEDULE,
    DEFAULT_TRAIN_STEPS,
    BranchConfig,
)
from .taxonomy import label_count, model_taxonomy

if TYPE_CHECKING:
    from .encoder import Encoder, EncoderConfig

BRANCH_DIR = "branch"
ENCODER_DIR = "encoder"


def _default_dir(args: argparse.Namespace, attribute: str, name: str) -> Path:
    value = getattr(args, attribute)
    return Path(value) if value is not None else Path(args.model) / name


def _timed_progress(what: str, every: int) -> ProgressCallback:
    start = time.perf_counter()

    def progress(step: int, total: int, loss: float) -> None:
        if step % every == 0 or step == total:
            print(
                f"{what} step {step}/{total} loss {loss:.4f} ({time.perf_counter() - start:.0f} s)",
                flush=True,
            )

    return progress


def _start_latent(args: argparse.Namespace, model: LoadedModel) -> torch.Tensor:
    """The latent named by ``--seed`` (with ``--psi``) or ``--latent``."""
    from .generator import seed_to_z
    from .vectors import load_latent

    if args.latent is not None:
        return load_latent(args.latent, model.weights_hash, (model.config.num_ws, model.config.w_dim))
    with torch.no_grad():
        return model.generator.mapping(seed_to_z(args.seed, model.config.z_dim), truncation_psi=args.psi)


def command_train_branch(args: argparse.Namespace) -> int:
    """Train a segmentation branch on annotated latents and save it."""
    from .segmentation import save_branch, train_branch

    if args.threads:
        torch.set_num_threads(args.threads)
    model = load_generator(args.model)
    if args.annotations is not None:
        num_labels = args.num_labels or label_count(Path(args.model))
        taxonomy = model_taxonomy(Path(args.model), num_labels)
        names, colours = taxonomy.names, taxonomy.colours
        annotations = annotations_from_directory(args.annotations, model, colours)
        source: dict[str, Any] = {"kind": "directory", "path": str(args.annotations)}
    else:
        from .oracle import label_names, load_oracle

        names = list(label_names(load_oracle(args.oracle)))
        num_labels = len(names)
        annotations = oracle_annotations(model, args.oracle, args.oracle_samples, args.psi)
        source = {
            "kind": "oracle",
            "oracle": str(args.oracle),
            "samples": args.oracle_samples,
            "seed_base": ORACLE_SAMPLE_SEED_BASE,
            "psi": args.psi,
        }
    config = BranchConfig.for_generator(
        model.config, num_labels, num_members=args.members, hidden_widths=tuple(args.hidden), norm=args.norm
    )
    start = time.perf_counter()
    branch = train_branch(
        model.generator,
        config,
        annotations,
        steps=args.steps,
        pixels_per_step=args.pixels_per_step,
        seed=args.seed,
        learning_rate=args.lr,
        schedule=args.schedule,
        progress=_timed_progress("train-branch", args.log_every),
    )
    output = _default_dir(args, "output", BRANCH_DIR)
    save_branch(
        output,
        branch,
        {
            "label_names": list(names),
            "model_hash": model.weights_hash,
            "annotations": source,
            "num_annotations": len(annotations),
            "steps": args.steps,
            "pixels_per_step": args.pixels_per_step,
            "learning_rate": args.lr,
            "schedule": args.schedule,
            "seed": args.seed,
            "wall_seconds": round(time.perf_counter() - start, 1),
        },
    )
    print(f"wrote {output} ({len(annotations)} annotations)")
    return 0


def command_segment(args: argparse.Namespace) -> int:
    """Segment the image of a latent with a branch; write the label map (and uncertainty, image) PNGs."""
    from .generator import to_uint8_image
    from .segmentation import load_branch, segment

    model = load_generator(args.model)
    branch = load_branch(_default_dir(args, "branch", BRANCH_DIR), model.config)
    ws = _start_latent(args, model)
    output = segment(model.generator, branch, ws)
    colours = model_taxonomy(Path(args.model), branch.config.num_labels).colours
    write_label_png(args.output, output.labels[0], colours)
    print(f"wrote {args.output}")
    if args.uncertainty is not None:
        scale = float(np.log(branch.config.num_members)) if branch.config.num_members > 1 else 1.0
        grey = (output.uncertainty[0] / scale).clamp(0, 1).mul(255).round().to(torch.uint8).numpy()
        Image.fromarray(grey, mode="L").save(args.uncertainty)
        print(
            f"wrote {args.uncertainty} (Jensen-Shannon divergence / log(members), mean "
            f"{float(output.uncertainty.mean()):.4f} nats)"
        )
    if args.image_output is not None:
        with torch.no_grad():
            image = model.generator.synthesis(ws, noise_mode="const")[0]
        Image.fromarray(to_uint8_image(image)).save(args.image_output)
        print(f"wrote {args.image_output}")
    return 0


def command_train_encoder(args: argparse.Namespace) -> int:
    """Train the W+ encoder on generator samples (and optional procedural renders) and save it."""
    from .encoder import EncoderLossWeights, save_encoder, train_encoder

    if args.threads:
        torch.set_num_threads(args.threads)
    model = load_generator(args.model)
    encoder, init_metadata = _encoder_to_train(args, model)
    perceptual = perceptual_from_args(model, args) if args.perceptual else None
    real = procedural_real_images(args.real_renders, model.config.resolution) if args.real_renders else None
    weights = EncoderLossWeights(
        latent=args.latent_weight, pixel=args.pixel_weight, perceptual=args.perceptual_weight
    )
    start = time.perf_counter()
    encoder = train_encoder(
        model.generator,
        encoder,
        steps=args.steps,
        batch_size=args.batch_size,
        learning_rate=args.lr,
        truncation_psi=args.psi,
        perceptual=perceptual,
        weights=weights,
        real_images=real,
        real_start_step=args.real_start_step,
        progress=_timed_progress("train-encoder", args.log_every),
        seed=args.seed,
    )
    output = _default_dir(args, "output", ENCODER_DIR)
    save_encoder(
        output,
        encoder,
        {
            "model_hash": model.weights_hash,
            "steps": args.steps,
            "batch_size": args.batch_size,
            "lr": args.lr,
            "psi": args.psi,
            "perceptual": type(perceptual).__name__ if perceptual is not None else None,
            "weights": {"latent": weights.latent, "pixel": weights.pixel, "perceptual": weights.perceptual},
            "real_renders": args.real_renders,
            "real_start_step": args.real_start_step,
            "seed": args.seed,
            "wall_seconds": round(time.perf_counter() - start, 1),
            **init_metadata,
        },
    )
    print(f"wrote {output}")
    return 0


def _encoder_to_train(
    args: argparse.Namespace, model: LoadedModel
) -> tuple[Encoder | EncoderConfig, dict[str, object]]:
    """A new encoder config, or the ``--init-from`` encoder, and the metadata recording the start."""
    from .encoder import EncoderConfig, encoder_for_fine_tuning, read_encoder_metadata

    architecture = {
        key: value
        for key, value in (("channel_base", args.channel_base), ("channel_max", args.channel_max))
        if value is not None
    }
    if args.init_from is None:
        config = EncoderConfig.for_generator(model.config, **architecture)
        return config, {"init_from": None, "total_steps": args.steps}
    encoder = encoder_for_fine_tuning(args.init_from, model.generator, architecture)
    previous = read_encoder_metadata(args.init_from)
    done = previous.get("total_steps", previous.get("steps"))
    print(f"train-encoder: continuing from {args.init_from} ({done} steps)", flush=True)
    return encoder, {
        "init_from": str(args.init_from),
        "init_model_hash": previous.get("model_hash"),
        "total_steps": done + args.steps if isinstance(done, int) else None,
    }


def command_embed(args: argparse.Namespace) -> int:
    """Embed an image into W+; write the latent file and the reconstruction PNG."""
    from .embedding import embed_image
    from .encoder import load_encoder
    from .vectors import save_latent

    model = load_generator(args.model)
    encoder_dir = _default_dir(args, "encoder", ENCODER_DIR)
    encoder = None if args.no_encoder else load_encoder(encoder_dir, model.config)
    perceptual = perceptual_from_args(model, args)
    result = embed_image(
        model.generator,
        encoder,
        Image.open(args.image),
        steps=args.steps,
        perceptual=perceptual,
        progress=_timed_progress("embed", 20),
    )
    save_latent(
        args.output,
        result.ws,
        model.weights_hash,
        {"kind": "embedded", "image": str(args.image), "steps": args.steps, "psnr": round(result.psnr, 3)},
    )
    print(f"wrote {args.output}: PSNR {result.psnr:.2f} dB (best step {result.best_step}/{args.steps})")
    if args.render is not None:
        Image.fromarray(result.image).save(args.render)
        print(f"wrote {args.render}")
    return 0


def _add_latent_source(parser: argparse.ArgumentParser) -> None:
    group = parser.add_mutually_exclusive_group(required=True)
    group.add_argument("--seed", type=int, help="segment the sample for this seed")
    group.add_argument("--latent", type=Path, help="segment this W+ latent file")
    parser.add_argument("--psi", type=float, default=0.7, help="truncation psi for --seed")


def add_branch_parsers(sub: argparse._SubParsersAction) -> None:
    """Register ``train-branch``, ``segment``, ``train-encoder`` and ``embed``."""
    train = sub.add_parser("train-branch", help="train the segmentation branch from annotated latents")
    train.add_argument("--model", type=Path, default=default_model_path())
    source = train.add_mutually_exclusive_group(required=True)
    source.add_argument("--annotations", type=Path, help="directory of NAME.safetensors + NAME.png pairs")
    source.add_argument("--oracle-samples", type=int, help="label this many sampled images with --oracle")
    train.add_argument("--oracle", type=Path, default=BUNDLED_ORACLE_DIR)
    train.add_argument("--psi", type=float, default=0.7, help="truncation psi for --oracle-samples")
    train.add_argument("--num-labels", type=int, help="label count (default: the model's taxonomy)")
    train.add_argument("--members", type=int, default=10)
    train.add_argument("--hidden", type=int, nargs="+", default=[128, 32], help="hidden widths")
    train.add_argument("--norm", choices=["batch", "layer", "none"], default="layer")
    train.add_argument("--steps", type=int, default=DEFAULT_TRAIN_STEPS)
    train.add_argument("--pixels-per-step", type=int, default=DEFAULT_PIXELS_PER_STEP,
                       help="pixels per member per step")
    train.add_argument("--lr", type=float, default=DEFAULT_LEARNING_RATE, help="peak Adam learning rate")
    train.add_argument("--schedule", choices=["constant", "cosine"], default=DEFAULT_SCHEDULE)
    train.add_argument("--seed", type=int, default=0)
    train.add_argument("--threads", type=int, default=0, help="torch CPU threads (0 = torch default)")
    train.add_argument("--log-every", type=int, default=100)
    train.add_argument("--output", "-o", type=Path, help="branch directory (default: <model>/branch)")
    train.set_defaults(handler=handled(command_train_branch))

    seg = sub.add_parser("segment", help="segment the image of a latent with the branch")
    seg.add_argument("--model", type=Path, default=default_model_path())
    seg.add_argument("--branch", type=Path, help="branch directory (default: <model>/branch)")
    _add_latent_source(seg)
    seg.add_argument("--output", "-o", type=Path, required=True, help="label-map PNG (model colours)")
    seg.add_argument("--uncertainty", type=Path, help="also write the per-pixel uncertainty as a grey PNG")
    seg.add_argument("--image-output", type=Path, help="also write the rendered image")
    seg.set_defaults(handler=handled(command_segment))

    enc = sub.add_parser("train-encoder", help="train the image -> W+ encoder on generator samples")
    enc.add_argument("--model", type=Path, default=default_model_path())
    enc.add_argument("--steps", type=int, default=3000)
    enc.add_argument("--batch-size", type=int, default=8)
    enc.add_argument("--lr", type=float, default=2e-4)
    enc.add_argument("--psi", type=float, default=0.7, help="truncation psi of the synthetic samples")
    enc.add_argument("--channel-base", type=int, help="backbone width (default 2048, or the --init-from's)")
    enc.add_argument("--channel-max", type=int, help="channel cap (default 128, or the --init-from's)")
    enc.add_argument(
        "--init-from", type=Path, help="encoder directory to fine-tune from (may be the output directory)"
    )
    enc.add_argument("--perceptual", action="store_true", help="add the perceptual distance to the losses")
    add_lpips_arguments(enc)
    enc.add_argument("--latent-weight", type=float, default=5.0)
    enc.add_argument("--pixel-weight", type=float, default=1.0)
    enc.add_argument("--perceptual-weight", type=float, default=1.0)
    enc.add_argument("--real-renders", type=int, default=0, help="procedural renders used as real images")
    enc.add_argument("--real-start-step", type=int, default=0)
    enc.add_argument("--seed", type=int, default=0)
    enc.add_argument("--threads", type=int, default=0, help="torch CPU threads (0 = torch default)")
    enc.add_argument("--log-every", type=int, default=100)
    enc.add_argument("--output", "-o", type=Path, help="encoder directory (default: <model>/encoder)")
    enc.set_defaults(handler=handled(command_train_encoder))

    embed = sub.add_parser("embed", help="embed an image into W+ (encoder init + optimisation)")
    embed.add_argument("--model", type=Path, default=default_model_path())
    embed.add_argument("--image", type=Path, required=True)
    embed.add_argument("--encoder", type=Path, help="encoder directory (default: <model>/encoder)")
    embed.add_argument("--no-encoder", action="store_true", help="start from w_avg, no consistency term")
    embed.add_argument("--steps", type=int, default=100)
    add_lpips_arguments(embed)
    embed.add_argument("--output", "-o", type=Path, required=True, help="W+ latent file (.safetensors)")
    embed.add_argument("--render", type=Path, help="also write the reconstruction PNG")
    embed.set_defaults(handler=handled(command_embed))
