"""Seed a database for the annotation page's browser tests, benchmark and screenshots.

Run with the stack's environment (DATABASE_URL, MEDIA_ROOT, PARTEDIT_MODEL_PATH ...) after
``manage.py migrate``: ``python -m scripts.annotation_fixture [--resolution N ...] [--photo P]
[--mask M] [--images K] [--samples S]``. Creates users alice (owner), bob (annotator) and vic
(viewer), the team "Annotate lab" (which gets the server's model and shipped branch), K
uploaded images per resolution (the server model's, or each ``--resolution`` given: a
page-only copy of the model at that size),
optionally a first annotation version of the first image and ``--samples`` rendered generator
samples (with latents: what Predict needs), and prints the ids and passwords as JSON.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from scripts.local_stack import REPO_ROOT, Stack

PASSWORDS = {"alice": "alice-e2e-pass", "bob": "bob-e2e-pass", "vic": "vic-e2e-pass"}
ROLES = {"alice": "owner", "bob": "annotator", "vic": "viewer"}


def synthetic_photo(size: int = 256) -> bytes:
    """A smooth test picture (PNG) with a few shapes, so the image under the mask is visible."""
    import numpy as np
    from PIL import Image, ImageDraw

    ramp = np.linspace(0, 1, size)
    red, green = np.meshgrid(ramp, ramp)
    pixels = np.stack([80 + 120 * red, 90 + 100 * green, 160 - 60 * red], axis=-1).astype(np.uint8)
    image = Image.fromarray(pixels, "RGB")
    draw = ImageDraw.Draw(image)
    draw.ellipse((size * 0.25, size * 0.18, size * 0.75, size * 0.82), fill=(222, 184, 150))
    draw.ellipse((size * 0.36, size * 0.38, size * 0.45, size * 0.45), fill=(60, 40, 30))
    draw.ellipse((size * 0.55, size * 0.38, size * 0.64, size * 0.45), fill=(60, 40, 30))
    draw.rectangle((size * 0.42, size * 0.62, size * 0.58, size * 0.66), fill=(170, 60, 70))
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def bench_model(model: Any, resolution: int) -> Any:
    """A copy of ``model``'s row at another resolution (page and benchmark only; never rendered)."""
    from webapp.assets.models import GeneratorModel, PartLabel

    copy = GeneratorModel.objects.create(
        team=model.team, name=f"{model.name} at {resolution} px", path=model.path, config=model.config,
        resolution=resolution, num_ws=model.num_ws, w_dim=model.w_dim,
        weights_hash=f"{resolution:x}".rjust(64, "0"), metadata=model.metadata,
    )
    PartLabel.objects.bulk_create(
        PartLabel(model=copy, index=label.index, name=label.name, colour=label.colour,
                  is_context=label.is_context)
        for label in model.labels.order_by("index")
    )
    return copy


def sampled_images(user: Any, model: Any, count: int) -> list[int]:
    """``count`` generator samples (seeds 1, 2, ...) rendered here, with their W+ latents."""
    from editing_engine.jobs import render_sample
    from webapp.assets.services import create_sampled_image, store_sample
    from webapp.assets.worker_inputs import checked_model

    loaded = checked_model(model)
    ids = []
    for seed in range(1, count + 1):
        image = create_sampled_image(user, model, seed, 0.7)
        sample = render_sample(loaded, seed, 0.7, {"seed": seed, "truncation_psi": 0.7})
        ids.append(store_sample(image, sample.png, sample.latent).pk)
    return ids


def seed(resolutions: list[int], photo: bytes, mask: bytes | None, images: int,
         samples: int = 0) -> dict[str, Any]:
    """Create the users, team, models, images (and samples) and optional first version; their ids."""
    from django.contrib.auth import get_user_model

    from webapp.annotations.bundled import register_server_model
    from webapp.annotations.services import save_annotation_version
    from webapp.assets.services import create_uploaded_image
    from webapp.teams.models import Membership
    from webapp.teams.services import create_team

    users = {}
    for name, password in PASSWORDS.items():
        users[name] = get_user_model().objects.create_user(name, password=password)
    team = create_team(users["alice"], "Annotate lab")
    for name in ("bob", "vic"):
        Membership.objects.create(team=team, user=users[name], role=ROLES[name])
    server_model = team.generator_models.filter(is_active=True).first() or register_server_model(team)
    models = [server_model if size == server_model.resolution else bench_model(server_model, size)
              for size in resolutions] or [server_model]
    created = {model.resolution: [create_uploaded_image(users["alice"], model, photo, f"photo {i + 1}")
                                  for i in range(images)] for model in models}
    first = created[models[0].resolution]
    if mask is not None:
        save_annotation_version(users["alice"], first[0], mask, None, "seeded")
    labels = list(models[0].labels.order_by("index").values("index", "name", "colour"))
    return {"team": team.pk, "model": models[0].pk, "resolution": models[0].resolution,
            "samples": sampled_images(users["alice"], server_model, samples) if samples else [],
            "images": [image.pk for image in first], "labels": labels,
            "by_resolution": {str(size): [image.pk for image in group] for size, group in created.items()},
            "users": {name: {"password": PASSWORDS[name], "role": ROLES[name]} for name in PASSWORDS}}


def seed_stack(stack: Stack, *args: str) -> dict[str, Any]:
    """Migrate the stack's database and seed it (arguments as on the command line); the ids."""
    stack.manage("migrate", "--noinput")
    result = subprocess.run([sys.executable, "-m", "scripts.annotation_fixture", *args], env=stack.env,
                            cwd=REPO_ROOT, capture_output=True, text=True, timeout=120)
    if result.returncode:
        raise RuntimeError(f"seeding failed:\n{result.stdout}\n{result.stderr}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def main() -> None:
    """Parse the arguments, set Django up and print the seeded ids as JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--resolution", type=int, action="append", default=[],
                        help="mask size, repeatable (default: the server model's)")
    parser.add_argument("--photo", type=Path, default=None, help="photo to upload (default: a synthetic one)")
    parser.add_argument("--mask", type=Path, default=None, help="label PNG saved as the first image's v1")
    parser.add_argument("--images", type=int, default=2)
    parser.add_argument("--samples", type=int, default=0,
                        help="generator samples with latents, rendered here (needs torch)")
    args = parser.parse_args()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "webapp.settings")
    import django

    django.setup()
    photo = args.photo.read_bytes() if args.photo else synthetic_photo()
    mask = args.mask.read_bytes() if args.mask else None
    print(json.dumps(seed(args.resolution, photo, mask, args.images, args.samples)))


if __name__ == "__main__":
    main()
