"""The ``partedit-engine train-gan`` subcommand: parser registration and handler."""

from __future__ import annotations

import argparse
import signal
import sys
from pathlib import Path
from types import FrameType

from ..checkpoints import CheckpointError
from .dataset import DatasetError
from .training_loop import TrainingConfig, TrainingError, train_gan


def command_train_gan(args: argparse.Namespace) -> int:
    """Train or resume a StyleGAN2 run; SIGTERM/SIGINT stop it after a final snapshot."""
    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    config = TrainingConfig(
        data=args.data, resolution=args.resolution, batch=args.batch, kimg=args.kimg, lr=args.lr,
        r1_gamma=args.gamma, r1_interval=args.r1_interval, style_mixing_prob=args.mixing,
        augment=args.augment, seed=args.seed, snapshot_minutes=args.snapshot_every,
        sample_minutes=args.sample_every, log_seconds=args.log_every,
    )
    stop_requested: list[int] = []

    def request_stop(signum: int, _frame: FrameType | None) -> None:
        print(f"signal {signum}: stopping after this step", flush=True)
        stop_requested.append(signum)

    previous = {sig: signal.signal(sig, request_stop) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        result = train_gan(args.out, config, should_cancel=lambda: bool(stop_requested),
                           log=lambda line: print(line, flush=True), init_from=args.init_from)
    except (TrainingError, DatasetError, CheckpointError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    print(f"model export: {result.model_dir}", flush=True)
    return 0


def add_train_gan_parser(sub: argparse._SubParsersAction) -> None:
    """Register ``train-gan``."""
    parser = sub.add_parser("train-gan", help="train or resume a StyleGAN2 on images or procedural faces")
    parser.add_argument("--data", default="procedural",
                        help="'procedural', 'procedural:out_of_domain' or a folder of images")
    parser.add_argument("--out", type=Path, required=True, help="run directory; an existing run resumes")
    parser.add_argument("--init-from", type=Path, default=None,
                        help="model directory (G_ema + D) that seeds a new run; ignored when resuming")
    parser.add_argument("--resolution", type=int, default=64)
    parser.add_argument("--kimg", type=float, default=1000.0, help="train until this many thousand images")
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--lr", type=float, default=0.002)
    parser.add_argument("--gamma", type=float, default=0.1, help="R1 weight")
    parser.add_argument("--r1-interval", type=int, default=16, help="lazy R1 every N steps")
    parser.add_argument("--mixing", type=float, default=0.9, help="style mixing probability")
    parser.add_argument("--augment", default="auto",
                        help="DiffAugment policy, e.g. 'color,translation,cutout', 'none' or 'auto' "
                             "(none for procedural data, all three for folders)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--snapshot-every", type=float, default=5.0, help="minutes between snapshots")
    parser.add_argument("--sample-every", type=float, default=10.0, help="minutes between sample grids")
    parser.add_argument("--log-every", type=float, default=30.0, help="seconds between progress lines")
    parser.add_argument("--threads", type=int, default=0, help="torch CPU threads (0 = torch default)")
    parser.set_defaults(handler=command_train_gan)
