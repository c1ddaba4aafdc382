"""The ``partedit-engine`` console command; each subcommand lives in its own function."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from .branch_commands import add_branch_parsers
from .checkpoints import CheckpointError, load_generator
from .edit_commands import add_edit_parsers
from .models_path import default_model_path
from .threads import ThreadSettingError, apply_thread_setting
from .training.cli import add_train_gan_parser

Command = Callable[[argparse.Namespace], int]


def command_render(args: argparse.Namespace) -> int:
    """Render the image for a seed to a PNG file."""
    from .rendering import render_seed, save_png

    model = load_generator(args.model)
    save_png(render_seed(model.generator, args.seed, args.psi), args.output)
    print(f"wrote {args.output}")
    return 0


def command_train_oracle(args: argparse.Namespace) -> int:
    """Train the evaluation oracle on procedural renders, measure it on held-out renders, save it."""
    import time

    import torch

    from .domain import LABELS, STYLES
    from .evaluation import ORACLE_TRAIN_SEED_BASE, evaluate_oracle, format_accuracy_table, procedural_batches
    from .oracle import (
        Oracle,
        OracleConfig,
        OracleTrainingConfig,
        load_oracle,
        save_oracle,
        train_oracle,
        training_stages,
    )

    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    stages: list[dict[str, Any]] = []
    if args.init:
        oracle = load_oracle(args.init).requires_grad_(True)
        stages = training_stages(args.init)
    else:
        oracle = Oracle(OracleConfig(num_labels=len(LABELS), base_channels=args.base_channels,
                                     channel_max=args.channel_max, label_names=tuple(LABELS)))
    # Each stage renders fresh seeds, following on from the images earlier stages saw (or from
    # --seed-base: a second oracle trained on other renders than the first).
    seed_base = (ORACLE_TRAIN_SEED_BASE + sum(int(stage["training"]["images_seen"]) for stage in stages)
                 if args.seed_base is None else args.seed_base)
    config = OracleTrainingConfig(steps=args.steps, batch_size=args.batch_size, learning_rate=args.lr,
                                  seed=args.seed, flip_probability=args.flip_probability)
    start = time.perf_counter()

    def progress(step: int, total: int, loss: float) -> None:
        if step % args.log_every == 0 or step == total:
            rate = step * args.batch_size / (time.perf_counter() - start)
            print(f"step {step}/{total} loss {loss:.4f} ({rate:.1f} img/s)", flush=True)

    batches = procedural_batches(args.batch_size, args.size, args.out_of_domain_fraction, seed_base)
    summary = train_oracle(oracle, batches, config, progress)
    accuracies = [evaluate_oracle(oracle, style, args.eval_count, args.size) for style in STYLES]
    print(format_accuracy_table(accuracies))
    arguments = {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items() if k != "handler"}
    stages.append({
        "arguments": arguments,
        "seed_base": seed_base,
        "training": {"steps": summary.steps_done, "images_seen": summary.images_seen,
                     "wall_seconds": round(summary.wall_seconds, 1), "threads": torch.get_num_threads(),
                     "final_loss": summary.losses[-1] if summary.losses else None},
    })
    save_oracle(args.output, oracle, metadata={
        "stages": stages, "held_out": [accuracy.to_dict() for accuracy in accuracies],
    })
    print(f"wrote {args.output}")
    return 0


def add_train_oracle_parser(sub: argparse._SubParsersAction) -> None:
    """Register ``train-oracle``."""
    from .oracle import BUNDLED_ORACLE_DIR

    parser = sub.add_parser("train-oracle", help="train the evaluation oracle (U-Net) on procedural renders")
    parser.add_argument("--output", "-o", type=Path, default=BUNDLED_ORACLE_DIR)
    parser.add_argument("--init", type=Path, help="continue from this saved oracle (its channel sizes win)")
    parser.add_argument("--steps", type=int, default=4500)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--lr", type=float, default=2e-3)
    parser.add_argument("--size", type=int, default=64, help="render size (multiple of 16)")
    parser.add_argument("--out-of-domain-fraction", type=float, default=0.3)
    parser.add_argument("--flip-probability", type=float, default=0.0, help="horizontal flip augmentation")
    parser.add_argument("--base-channels", type=int, default=16)
    parser.add_argument("--channel-max", type=int, default=128)
    parser.add_argument("--eval-count", type=int, default=500, help="held-out renders per style")
    parser.add_argument("--threads", type=int, default=0, help="torch CPU threads (0 = torch default)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--seed-base", type=int,
                        help="first training render seed (default: after those earlier stages saw)")
    parser.add_argument("--log-every", type=int, default=100)
    parser.set_defaults(handler=command_train_oracle)


def command_evaluate_generator(args: argparse.Namespace) -> int:
    """FID/KID of a generator vs held-out renders on the oracle's encoder features; prints and writes JSON."""
    import json

    import torch

    from .evaluation import evaluate_generator
    from .oracle import load_oracle

    if args.threads:
        torch.set_num_threads(args.threads)
    model = load_generator(args.model)
    quality = evaluate_generator(model.generator, load_oracle(args.oracle), args.n, args.psi,
                                 with_floor=not args.no_floor)
    for name, figures in (("generated", quality.generated), ("floor", quality.floor)):
        if figures is not None:
            print(f"{name:>9}: FID {figures.fid:.4f}  KID {figures.kid:.5f} +- {figures.kid_std:.5f}")
    result = {**quality.to_dict(), "model": str(args.model), "weights_hash": model.weights_hash,
              "oracle": str(args.oracle)}
    args.output.write_text(json.dumps(result, indent=2))
    print(f"wrote {args.output}")
    return 0


def add_evaluate_generator_parser(sub: argparse._SubParsersAction) -> None:
    """Register ``evaluate-generator``."""
    from .oracle import BUNDLED_ORACLE_DIR

    parser = sub.add_parser("evaluate-generator", help="FID/KID of a generator on oracle features")
    parser.add_argument("--model", type=Path, default=default_model_path())
    parser.add_argument("--oracle", type=Path, default=BUNDLED_ORACLE_DIR)
    parser.add_argument("--n", type=int, default=2000, help="generated and reference images each")
    parser.add_argument("--psi", type=float, default=1.0, help="truncation psi")
    parser.add_argument("--no-floor", action="store_true", help="skip the render-vs-render floor")
    parser.add_argument("--threads", type=int, default=0, help="torch CPU threads (0 = torch default)")
    parser.add_argument("--output", "-o", type=Path, default=Path("generator_quality.json"))
    parser.set_defaults(handler=command_evaluate_generator)


def command_import_checkpoint(args: argparse.Namespace) -> int:
    """Convert a rosinality .pt, NVIDIA network pickle or PartEdit model into a PartEdit model directory."""
    from .checkpoints import detect_format, import_checkpoint

    source_format = detect_format(args.src)
    model = import_checkpoint(args.src, args.dest, overwrite=args.overwrite)
    config = model.config
    print(f"imported {args.src} ({source_format}) -> {args.dest} (partedit): {config.resolution}px, "
          f"z {config.z_dim}, w {config.w_dim}, weights {model.weights_hash[:12]}")
    return 0


def add_import_checkpoint_parser(sub: argparse._SubParsersAction) -> None:
    """Register ``import-checkpoint``."""
    parser = sub.add_parser("import-checkpoint", help="convert a StyleGAN2 checkpoint to a PartEdit model")
    parser.add_argument("src", type=Path, help="rosinality .pt, NVIDIA .pkl or PartEdit model directory")
    parser.add_argument("dest", type=Path, help="output PartEdit model directory")
    parser.add_argument("--overwrite", action="store_true", help="replace a non-empty DEST")
    parser.set_defaults(handler=command_import_checkpoint)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every subcommand registered."""
    parser = argparse.ArgumentParser(prog="partedit-engine", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    render = sub.add_parser("render", help="render a PNG for a seed")
    render.add_argument("--model", type=Path, default=default_model_path())
    render.add_argument("--seed", type=int, required=True)
    render.add_argument("--psi", type=float, default=0.7, help="truncation psi")
    render.add_argument("--output", "-o", type=Path, required=True)
    render.set_defaults(handler=command_render)
    add_train_oracle_parser(sub)
    add_evaluate_generator_parser(sub)
    add_train_gan_parser(sub)
    add_import_checkpoint_parser(sub)
    add_edit_parsers(sub)
    add_branch_parsers(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the console command."""
    args = build_parser().parse_args(argv)
    handler: Command = args.handler
    try:
        apply_thread_setting(getattr(args, "threads", 0) or 0)
        return handler(args)
    except (CheckpointError, ThreadSettingError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
