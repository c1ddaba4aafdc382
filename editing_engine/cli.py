"""The ``partedit-engine`` console command; each subcommand lives in its own function."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from .checkpoints import CheckpointError, load_generator
from .models_path import default_model_path

Command = Callable[[argparse.Namespace], int]


def command_render(args: argparse.Namespace) -> int:
    """Render the image for a seed to a PNG file."""
    from .rendering import render_seed, save_png

    model = load_generator(args.model)
    save_png(render_seed(model.generator, args.seed, args.psi), args.output)
    print(f"wrote {args.output}")
    return 0


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
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the console command."""
    args = build_parser().parse_args(argv)
    handler: Command = args.handler
    try:
        return handler(args)
    except CheckpointError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
