"""The ``edit`` and ``apply`` subcommands of ``partedit-engine``: the editing method without the web app.

``edit``: a latent (seed, latent file, or an image embedded first) plus an edited label-map PNG
-> an edit-vector file, the result image, its segmentation, the region, and both latents.
``apply``: a latent plus any number of ``vector:scale`` pairs (optionally refined) -> an image.

Label-map PNGs: palette (``P``) or grey (``L``/``I``) images hold label indices directly; RGB
images are matched exactly against the model's label colours (``labels.json`` beside the model,
else the demo domain's palette), and an unknown colour is an error, not background.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import torch
from PIL import Image

from .checkpoints import LoadedModel, load_generator
from .editing import DEFAULT_EDIT, DEFAULT_REFINE, RELEASE_RECIPE, EditConfig, EditError
from .errors import EngineError
from .label_maps import read_label_png, read_mask_png, write_label_png, write_mask_png
from .models_path import default_model_path
from .perceptual_options import add_lpips_arguments, perceptual_from_args
from .progress import Cancelled, ProgressCallback
from .taxonomy import model_taxonomy


def _printing_progress(what: str, every: int = 5) -> ProgressCallback:
    def progress(step: int, total: int, loss: float) -> None:
        if step % every == 0 or step == total:
            print(f"{what} step {step}/{total} loss {loss:.4f}", flush=True)

    return progress


def _load_start_latent(args: argparse.Namespace, model: LoadedModel) -> tuple[torch.Tensor, dict[str, Any]]:
    """The latent to edit and a description of where it came from (seed, latent file or embedded image)."""
    from .generator import seed_to_z
    from .vectors import load_latent

    generator, shape = model.generator, (model.config.num_ws, model.config.w_dim)
    if args.latent is not None:
        ws = load_latent(args.latent, model.weights_hash, shape)
        return ws, {"kind": "latent", "path": str(args.latent)}
    if getattr(args, "image", None) is not None:
        from .embedding import embed_image
        from .encoder import load_encoder

        encoder = load_encoder(args.encoder, model.config) if args.encoder else None
        perceptual = perceptual_from_args(model, args)
        embedded = embed_image(generator, encoder, Image.open(args.image), steps=args.embed_steps,
                               perceptual=perceptual, progress=_printing_progress("embed", 20))
        print(f"embedded {args.image}: PSNR {embedded.psnr:.2f} dB")
        return embedded.ws, {"kind": "image", "path": str(args.image), "embed_psnr": embedded.psnr}
    with torch.no_grad():
        ws = generator.mapping(seed_to_z(args.seed, model.config.z_dim), truncation_psi=args.psi)
    return ws, {"kind": "seed", "seed": args.seed, "psi": args.psi}


def _edit_config(args: argparse.Namespace, context: tuple[int, ...]) -> EditConfig:
    """The recipe's config with the command's overrides; the taxonomy's context labels by default."""
    base = RELEASE_RECIPE if args.recipe == "release" else DEFAULT_EDIT
    changes: dict[str, Any] = {}
    if args.steps is not None:
        changes["steps"] = args.steps
    if args.lr is not None:
        changes["learning_rate"] = args.lr
    if args.dilation is not None:
        changes["dilation"] = args.dilation
    if args.context_labels is not None:
        changes["context_labels"] = tuple(args.context_labels)
    elif args.recipe != "release":
        changes["context_labels"] = context
    return replace(base, **changes)


def command_edit(args: argparse.Namespace) -> int:
    """Optimise an edit from an edited label map; write the vector, images and latents to ``--out``."""
    from .editing import optimize_edit, result_to_vector
    from .encoder import load_encoder
    from .generator import to_uint8_image
    from .rendering import save_png
    from .segmentation import load_branch
    from .vectors import save_latent, save_vector

    model = load_generator(args.model)
    branch = load_branch(args.branch, model.config)
    taxonomy = model_taxonomy(Path(args.model), branch.config.num_labels)
    names, colours = taxonomy.names, taxonomy.colours
    ws, source = _load_start_latent(args, model)
    edited = read_label_png(args.edited_mask, colours)
    original = read_label_png(args.original_mask, colours) if args.original_mask else None
    brush = read_mask_png(args.brush_mask) if args.brush_mask else None
    encoder = load_encoder(args.encoder, model.config) if args.encoder else None
    perceptual = perceptual_from_args(model, args)
    if perceptual is None:
        print("note: the model holds no discriminator and no LPIPS weights were given; pixel MSE only")
    config = _edit_config(args, taxonomy.context)
    result = optimize_edit(model.generator, branch, ws, edited, perceptual=perceptual, encoder=encoder,
                           config=config, original_labels=original, brush_mask=brush,
                           progress=_printing_progress("edit"))
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    source["edited_mask"] = str(args.edited_mask)
    model_id = str(model.metadata.get("name", args.model))
    vector = result_to_vector(result, model.weights_hash, model_id=model_id,
                              name=args.name or f"edit of {source['kind']}", label_names=names, source=source)
    save_vector(out / "vector.safetensors", vector)
    save_png(to_uint8_image(result.image), out / "result.png")
    write_label_png(out / "segmentation.png", result.segmentation, colours)
    write_mask_png(out / "region.png", result.region)
    save_latent(out / "latent.safetensors", result.ws_result, model.weights_hash, {"edit_of": source})
    save_latent(out / "source_latent.safetensors", ws, model.weights_hash, source)
    best = result.best_losses
    print(f"labels involved: {', '.join(vector.label_names)}; region {vector.region['pixels']} px; "
          f"best step {result.best_step}: " + ", ".join(f"{k} {v:.4f}" for k, v in best.items()))
    print(f"wrote {out}/vector.safetensors, result.png, segmentation.png, region.png, latent.safetensors "
          f"({result.seconds:.1f} s)")
    return 0


def parse_vector_argument(text: str) -> tuple[Path, float]:
    """``FILE`` or ``FILE:SCALE`` -> (path, scale); the scale defaults to 1."""
    path, sep, scale = text.rpartition(":")
    if not sep:
        return Path(text), 1.0
    try:
        return Path(path), float(scale)
    except ValueError as error:
        raise argparse.ArgumentTypeError(f"{text!r}: the scale after ':' must be a number") from error


def command_apply(args: argparse.Namespace) -> int:
    """Apply scaled edit vectors to a latent (optionally refine) and write the image."""
    from .editing import refine_edit
    from .generator import to_uint8_image
    from .rendering import save_png
    from .segmentation import load_branch
    from .vectors import apply_vectors, load_vector, save_latent

    model = load_generator(args.model)
    shape = (model.config.num_ws, model.config.w_dim)
    ws, _ = _load_start_latent(args, model)
    vectors = [load_vector(path, model.weights_hash, shape) for path, _ in args.vector]
    scales = [scale for _, scale in args.vector]
    edited = apply_vectors(ws, vectors, scales)
    if args.refine_steps > 0:
        if args.branch is None:
            raise EditError("--refine-steps needs --branch")
        branch = load_branch(args.branch, model.config)
        labels = sorted({label for vector in vectors for label in vector.labels})
        context = model_taxonomy(Path(args.model), branch.config.num_labels).context
        config = replace(DEFAULT_REFINE, steps=args.refine_steps, context_labels=context)
        result = refine_edit(model.generator, branch, ws, edited, labels,
                             perceptual=perceptual_from_args(model, args), config=config,
                             progress=_printing_progress("refine"))
        edited = result.ws_result
    with torch.no_grad():
        image = model.generator.synthesis(edited, noise_mode="const")[0]
    save_png(to_uint8_image(image), args.output)
    if args.latent_out is not None:
        save_latent(args.latent_out, edited, model.weights_hash, {"vectors": [str(p) for p, _ in args.vector],
                                                                 "scales": scales})
    print(f"wrote {args.output}")
    return 0


def handled(command: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
    """Turn the engine's typed errors into a one-line message and exit status 2 (130 when cancelled)."""
    errors = (EngineError, OSError)

    def run(args: argparse.Namespace) -> int:
        try:
            return command(args)
        except errors as error:
            print(f"error: {error}", file=sys.stderr)
            return 2
        except Cancelled as error:
            print(f"cancelled: {error}", file=sys.stderr)
            return 130

    return run


def _add_latent_source(parser: argparse.ArgumentParser, with_image: bool) -> None:
    group = parser.add_mutually_exclusive_group(required=True)
    group.add_argument("--seed", type=int, help="start from the sample for this seed")
    group.add_argument("--latent", type=Path, help="start from a W+ latent file (.safetensors)")
    if with_image:
        group.add_argument("--image", type=Path, help="embed this image first (uses --encoder when given)")
    parser.add_argument("--psi", type=float, default=0.7, help="truncation psi for --seed")
    add_lpips_arguments(parser)


def add_edit_parsers(sub: argparse._SubParsersAction) -> None:
    """Register ``edit`` and ``apply``."""
    edit = sub.add_parser("edit", help="edit by segmentation: edited label map -> edit vector + result")
    edit.add_argument("--model", type=Path, default=default_model_path())
    edit.add_argument("--branch", type=Path, required=True, help="segmentation branch directory")
    _add_latent_source(edit, with_image=True)
    edit.add_argument("--encoder", type=Path, help="encoder directory (embedding and consistency term)")
    edit.add_argument("--embed-steps", type=int, default=100)
    edit.add_argument("--edited-mask", type=Path, required=True, help="the edited label map (PNG)")
    edit.add_argument("--original-mask", type=Path,
                      help="the label map that was edited (default: the branch's segmentation)")
    edit.add_argument("--recipe", choices=("partedit", "release"), default="partedit",
                      help="'release' reproduces the EditGAN release (needs --brush-mask)")
    edit.add_argument("--brush-mask", type=Path, help="brushed pixels (black/white PNG), release recipe only")
    edit.add_argument("--steps", type=int)
    edit.add_argument("--lr", type=float)
    edit.add_argument("--dilation", type=int, help="region dilation radius in pixels (default 3)")
    edit.add_argument("--context-labels", type=int, nargs="*",
                      help="labels whose unchanged pixels stay outside the region (default: the taxonomy's "
                           "context labels; give the option with no index for none)")
    edit.add_argument("--name", help="name stored in the vector file")
    edit.add_argument("--out", type=Path, required=True, help="output directory")
    edit.set_defaults(handler=handled(command_edit))

    apply = sub.add_parser("apply", help="apply edit vectors with scales (and refine) to a latent")
    apply.add_argument("--model", type=Path, default=default_model_path())
    _add_latent_source(apply, with_image=False)
    apply.add_argument("--vector", type=parse_vector_argument, action="append", required=True,
                       metavar="FILE[:SCALE]", help="an edit vector and its scale (repeatable; negative ok)")
    apply.add_argument("--refine-steps", type=int, default=0,
                       help="self-supervised refinement steps (10 or 30; 0 = none)")
    apply.add_argument("--branch", type=Path, help="segmentation branch directory (needed to refine)")
    apply.add_argument("--latent-out", type=Path, help="also write the edited latent here")
    apply.add_argument("--output", "-o", type=Path, required=True)
    apply.set_defaults(handler=handled(command_apply))
