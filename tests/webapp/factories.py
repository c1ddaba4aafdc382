"""Builders of the webapp tests' data: encoded photos, masks, vector and latent files, model rows.

Plain functions, imported by test modules and by the fixtures in ``conftest.py``; test modules
never import each other.
"""

from __future__ import annotations

import io
import json
import struct
import zlib
from typing import Any

import numpy as np
from PIL import Image as PILImage
from safetensors.numpy import save

from webapp.assets.models import GeneratorModel, Image, PartLabel
from webapp.assets.services import create_uploaded_image
from webapp.assets.uploads import encode_png
from webapp.jobs import services as job_services
from webapp.jobs.models import Job, JobType
from webapp.teams.models import Team

RESOLUTION = 16
LABELS = [("background", "#000000"), ("skin", "#e6b48c"), ("eyes", "#fafafa"), ("mouth", "#5a143c")]


def png_bytes(
    size: tuple[int, int] = (40, 30), colour: tuple[int, int, int] = (200, 30, 30), fmt: str = "PNG"
) -> bytes:
    """An encoded RGB test photo."""
    buffer = io.BytesIO()
    PILImage.new("RGB", size, colour).save(buffer, format=fmt)
    return buffer.getvalue()


def mask_png(values: np.ndarray, mode: str = "L") -> bytes:
    """A label-index mask encoded as PNG (mode L, or P with an arbitrary palette)."""
    image = PILImage.fromarray(values.astype(np.uint8), mode="L")
    if mode == "P":
        image = image.convert("P")
        image.putpalette([v for i in range(256) for v in (i, 255 - i, i // 2)])
    return encode_png(image)


def create_model(team: Team, weights_hash: str = "a" * 64, **fields: Any) -> GeneratorModel:
    """A 16 px generator model row with a four-label taxonomy (no weights needed)."""
    model = GeneratorModel.objects.create(
        team=team,
        name=fields.pop("name", "tiny"),
        path="/nonexistent",
        config={"resolution": RESOLUTION},
        resolution=RESOLUTION,
        num_ws=6,
        w_dim=8,
        weights_hash=weights_hash,
        **fields,
    )
    PartLabel.objects.bulk_create(
        PartLabel(model=model, index=i, name=name, colour=colour) for i, (name, colour) in enumerate(LABELS)
    )
    return model


def vector_bytes(model: Any, labels: list[int] | None = None, **overrides: Any) -> bytes:
    """An edit-vector file in the engine's format for ``model``."""
    meta = {
        "format": "partedit-edit-vector/v1",
        "model_hash": model.weights_hash,
        "labels": labels or [3],
        "w_plus_shape": [model.num_ws, model.w_dim],
        "settings": {"steps": 30},
        "losses": {"total": 0.1},
        "region": {"pixels": 40},
    }
    delta = overrides.pop("delta", np.full((model.num_ws, model.w_dim), 0.5, np.float32))
    meta.update(overrides)
    return save({"delta": delta}, metadata={"partedit": json.dumps(meta)})


def latent_bytes(shape: tuple[int, ...] = (1, 6, 8), dtype: Any = np.float32) -> bytes:
    """A latent file in the engine's format."""
    return save({"ws": np.zeros(shape, dtype)}, metadata={"partedit": "{}"})


def huge_png_header(width: int, height: int) -> bytes:
    """A tiny PNG whose header claims ``width`` x ``height`` pixels (a decompression bomb's shape)."""

    def chunk(kind: bytes, payload: bytes) -> bytes:
        return (
            struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))
        )

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"\0" * 100))
        + chunk(b"IEND", b"")
    )


def uploaded_image(lab: dict[str, Any]) -> Image:
    """A 24x20 photo uploaded by the editor, normalized to the model's 16 px."""
    buffer = io.BytesIO()
    pixels = np.random.default_rng(0).integers(0, 255, (20, 24, 3), dtype=np.uint8)
    PILImage.fromarray(pixels).save(buffer, "PNG")
    return create_uploaded_image(lab["editor"], lab["model"], buffer.getvalue(), "photo")


def embed_job(lab: dict[str, Any], image: Image, steps: int = 6) -> Job:
    """A queued embedding of ``image``."""
    parameters = {"image": image.pk, "steps": steps}
    return job_services.create_job(lab["editor"], lab["team"], JobType.EMBED_IMAGE, parameters)


def render_job(lab: dict[str, Any], seed: int = 5) -> Job:
    """A queued render job of a new sample."""
    return job_services.create_job(lab["editor"], lab["team"], JobType.RENDER,
                                   {"model": lab["model"].pk, "seed": seed, "psi": 0.7})
