"""The evaluation oracle: a small supervised U-Net part segmenter.

The oracle is trained on procedural renders with exact label maps and is used for
evaluation only (never by editing): a generated image's "true" parts are what the oracle
says, and its encoder features are the embedding for the FID/KID quality figures.

Architecture: ``depth`` max-pool stages; stage ``i`` has ``min(base_channels * 2**i,
channel_max)`` channels and two 3x3 conv + BatchNorm + ReLU layers; the decoder upsamples
bilinearly, concatenates the skip and applies the same double conv; a 1x1 conv gives the
label logits. Inputs are ``[B, 3, H, W]`` floats in [-1, 1] (the generator's range) with H
and W multiples of ``2**depth``.

On disk: a directory with ``config.json`` (format ``partedit-oracle/v1``, the config and
metadata) and ``weights.safetensors``.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file
from torch import nn

from editing_engine.errors import EngineError
from editing_engine.shapes import assert_shape

from .checkpoints import CheckpointError, fill_module
from .progress import CancelCheck, ProgressCallback, check_cancel, report

CONFIG_FILE = "config.json"
WEIGHTS_FILE = "weights.safetensors"
FORMAT_NAME = "partedit-oracle/v1"
BUNDLED_ORACLE_DIR = Path(__file__).resolve().parent.parent / "models" / "oracle"

BatchSource = Callable[[int], tuple[np.ndarray, np.ndarray]]
"""step -> (images ``[B, H, W, 3]`` uint8, label maps ``[B, H, W]`` integer)."""


class OracleError(EngineError):
    """Input the oracle cannot process (wrong shape, type or size)."""


@dataclass(frozen=True)
class OracleConfig:
    """Everything needed to rebuild an oracle; stored as JSON beside the weights."""

    num_labels: int
    base_channels: int = 16
    channel_max: int = 128
    depth: int = 4
    label_names: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.num_labels < 2:
            raise ValueError(f"num_labels must be >= 2, got {self.num_labels}")
        if self.depth < 1 or self.base_channels < 1 or self.channel_max < 1:
            raise ValueError("depth, base_channels and channel_max must be positive")
        if self.label_names and len(self.label_names) != self.num_labels:
            raise ValueError(f"{len(self.label_names)} label names for {self.num_labels} labels")

    def channels(self, stage: int) -> int:
        """Feature channels of encoder stage ``stage`` (0 = full resolution)."""
        return min(self.base_channels * 2**stage, self.channel_max)

    @property
    def size_multiple(self) -> int:
        """Image height and width must be multiples of this."""
        return int(2**self.depth)

    @property
    def feature_dim(self) -> int:
        """Length of the pooled encoder feature vector (see ``Oracle.pooled_features``)."""
        return sum(self.channels(stage) for stage in range(self.depth + 1))

    def to_dict(self) -> dict[str, object]:
        """Plain-dict form for JSON."""
        data = asdict(self)
        data["label_names"] = list(self.label_names)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, object]) -> OracleConfig:
        """Rebuild from ``to_dict`` output."""
        names = data.get("label_names") or []
        if not isinstance(names, list):
            raise ValueError("label_names must be a list")
        return cls(**{**data, "label_names": tuple(str(name) for name in names)})  # type: ignore[arg-type]


class DoubleConv(nn.Sequential):
    """Two 3x3 conv + BatchNorm + ReLU layers."""

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__(
            nn.Conv2d(in_channels, out_channels, 3, padding=1, bias=False),
            nn.BatchNorm2d(out_channels),
            nn.ReLU(inplace=True),
            nn.Conv2d(out_channels, out_channels, 3, padding=1, bias=False),
            nn.BatchNorm2d(out_channels),
            nn.ReLU(inplace=True),
        )


class Oracle(nn.Module):
    """U-Net part segmenter: ``forward`` maps ``[B, 3, H, W]`` in [-1, 1] to label logits."""

    def __init__(self, config: OracleConfig) -> None:
        super().__init__()
        self.config = config
        stages = range(config.depth + 1)
        self.encoder = nn.ModuleList(
            DoubleConv(3 if s == 0 else config.channels(s - 1), config.channels(s)) for s in stages
        )
        self.decoder = nn.ModuleList(
            DoubleConv(config.channels(s + 1) + config.channels(s), config.channels(s))
            for s in range(config.depth)
        )
        self.head = nn.Conv2d(config.channels(0), config.num_labels, 1)

    def check_input(self, x: torch.Tensor) -> None:
        """Raise ``OracleError`` unless ``x`` is ``[B, 3, H, W]`` with H, W multiples of 2**depth."""
        multiple = self.config.size_multiple
        assert_shape(x, ("B", 3, "H", "W"), "oracle input", OracleError)
        if x.shape[2] % multiple or x.shape[3] % multiple or x.shape[2] == 0 or x.shape[3] == 0:
            raise OracleError(f"image height and width must be positive multiples of {multiple}, "
                              f"got {x.shape[2]}x{x.shape[3]}")

    def encode(self, x: torch.Tensor) -> list[torch.Tensor]:
        """Encoder activations, one map per stage, full resolution first, bottleneck last."""
        self.check_input(x)
        skips = [self.encoder[0](x)]
        for block in self.encoder[1:]:
            skips.append(block(F.max_pool2d(skips[-1], 2)))
        return skips

    def decode(self, skips: list[torch.Tensor]) -> torch.Tensor:
        """Label logits ``[B, num_labels, H, W]`` from the encoder activations."""
        y = skips[-1]
        for stage in reversed(range(self.config.depth)):
            y = F.interpolate(y, scale_factor=2.0, mode="bilinear", align_corners=False)
            y = self.decoder[stage](torch.cat([y, skips[stage]], dim=1))
        return self.head(y)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Label logits ``[B, num_labels, H, W]`` for images ``[B, 3, H, W]`` in [-1, 1]."""
        return self.decode(self.encode(x))

    def pooled_features(self, x: torch.Tensor) -> torch.Tensor:
        """Global-average-pooled encoder activations of every stage, concatenated: ``[B, feature_dim]``."""
        return torch.cat([skip.mean(dim=(2, 3)) for skip in self.encode(x)], dim=1)


def images_to_input(images: np.ndarray | torch.Tensor) -> torch.Tensor:
    """Oracle input ``[B, 3, H, W]`` float in [-1, 1] from uint8 images or a float tensor.

    Accepts uint8 ``HxWx3`` / ``BxHxWx3`` (numpy or torch) or a float tensor ``[B, 3, H, W]``
    already in [-1, 1] (generator output).
    """
    if isinstance(images, np.ndarray):
        if images.dtype != np.uint8:
            raise OracleError(f"numpy images must be uint8, got {images.dtype}")
        images = torch.from_numpy(np.ascontiguousarray(images))
    if images.dtype == torch.uint8:
        if images.ndim == 3:
            images = images[None]
        if images.ndim != 4 or images.shape[-1] != 3:
            raise OracleError(f"uint8 images must be HxWx3 or BxHxWx3, got {list(images.shape)}")
        return images.permute(0, 3, 1, 2).float() / 127.5 - 1.0
    if not images.is_floating_point() or images.ndim != 4 or images.shape[1] != 3:
        raise OracleError(f"float images must be a [B, 3, H, W] tensor in [-1, 1], got "
                          f"{images.dtype} {list(images.shape)}")
    return images.float()


@torch.no_grad()
def predict(oracle: Oracle, images: np.ndarray | torch.Tensor, batch_size: int = 64) -> np.ndarray:
    """The oracle's label maps (uint8 ``[B, H, W]``) for a batch of images (see ``images_to_input``)."""
    x = images_to_input(images)
    oracle.check_input(x)
    device = next(oracle.parameters()).device
    was_training = oracle.training
    oracle.eval()
    maps = [oracle(chunk.to(device)).argmax(dim=1).to(torch.uint8).cpu() for chunk in x.split(batch_size)]
    oracle.train(was_training)
    return torch.cat(maps).numpy()


@dataclass
class OracleTrainingConfig:
    """Optimisation settings of ``train_oracle``."""

    steps: int = 3000
    batch_size: int = 16
    learning_rate: float = 2e-3
    dice_weight: float = 0.5
    warmup_steps: int = 100
    seed: int = 0
    # Off by default: the domain labels each pixel by the sub-pixel right of and below its
    # centre, so a mirrored label map is a quarter pixel off at every boundary.
    flip_probability: float = 0.0


@dataclass
class TrainingReport:
    """What a training run did."""

    steps_done: int
    images_seen: int
    wall_seconds: float
    losses: list[float] = field(default_factory=list)


def augment(
    images: torch.Tensor, labels: torch.Tensor, rng: torch.Generator, flip_probability: float = 0.0
) -> tuple[torch.Tensor, torch.Tensor]:
    """Light photometric and flip augmentation of a batch (labels move with flips only).

    Per image: horizontal flip (``flip_probability``; the face domain's label set has no
    left/right parts), brightness/contrast/saturation jitter, mild blur (p=0.3, GAN outputs
    are soft) and Gaussian pixel noise. ``images`` are ``[B, 3, H, W]`` in [-1, 1].
    """
    batch = images.shape[0]

    def uniform(low: float, high: float) -> torch.Tensor:
        return (low + (high - low) * torch.rand(batch, 1, 1, 1, generator=rng)).to(images.device)

    flip = torch.rand(batch, generator=rng) < flip_probability
    images = torch.where(flip.view(-1, 1, 1, 1).to(images.device), images.flip(3), images)
    labels = torch.where(flip.view(-1, 1, 1).to(labels.device), labels.flip(2), labels)
    grey = images.mean(dim=1, keepdim=True)
    images = grey + (images - grey) * uniform(0.6, 1.4)
    mean = images.mean(dim=(1, 2, 3), keepdim=True)
    images = mean + (images - mean) * uniform(0.7, 1.3) + uniform(-0.2, 0.2)
    kernel = torch.tensor([1.0, 2.0, 1.0], device=images.device)
    kernel = (kernel[:, None] * kernel[None, :] / 16).expand(3, 1, 3, 3)
    blurred = F.conv2d(F.pad(images, (1, 1, 1, 1), mode="replicate"), kernel, groups=3)
    blur = (torch.rand(batch, 1, 1, 1, generator=rng) < 0.3).to(images.device)
    images = torch.where(blur, blurred, images)
    noise = torch.randn(images.shape, generator=rng).to(images.device) * uniform(0.0, 0.06)
    return (images + noise).clamp(-1.0, 1.0), labels


def soft_dice_loss(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """1 - mean soft Dice over the labels present in the batch's targets."""
    probs = logits.softmax(dim=1)
    one_hot = F.one_hot(labels, logits.shape[1]).permute(0, 3, 1, 2).to(probs.dtype)
    intersection = (probs * one_hot).sum(dim=(0, 2, 3))
    total = probs.sum(dim=(0, 2, 3)) + one_hot.sum(dim=(0, 2, 3))
    present = one_hot.sum(dim=(0, 2, 3)) > 0
    dice = (2 * intersection + 1.0) / (total + 1.0)
    return 1.0 - dice[present].mean()


def learning_rate_at(step: int, config: OracleTrainingConfig) -> float:
    """Linear warm-up then cosine decay to zero over ``config.steps``."""
    if step < config.warmup_steps:
        return config.learning_rate * (step + 1) / config.warmup_steps
    progress = (step - config.warmup_steps) / max(config.steps - config.warmup_steps, 1)
    return config.learning_rate * 0.5 * (1 + math.cos(math.pi * min(progress, 1.0)))


def train_oracle(
    oracle: Oracle,
    batches: BatchSource,
    config: OracleTrainingConfig,
    progress: ProgressCallback | None = None,
    should_cancel: CancelCheck | None = None,
) -> TrainingReport:
    """Train ``oracle`` in place with cross-entropy + soft Dice on ``batches(step)`` for ``config.steps``.

    Raises ``progress.Cancelled`` when ``should_cancel()`` turns True (checked before each step).
    """
    device = next(oracle.parameters()).device
    optimizer = torch.optim.Adam(oracle.parameters(), lr=config.learning_rate)
    rng = torch.Generator().manual_seed(config.seed)
    oracle.train()
    summary = TrainingReport(steps_done=0, images_seen=0, wall_seconds=0.0)
    start = time.perf_counter()
    for step in range(config.steps):
        check_cancel(should_cancel, "oracle training")
        images_np, labels_np = batches(step)
        images = images_to_input(images_np).to(device)
        labels = torch.from_numpy(np.ascontiguousarray(labels_np)).long().to(device)
        if labels.shape != (images.shape[0], *images.shape[2:]):
            raise OracleError(f"label maps {list(labels.shape)} do not match images {list(images.shape)}")
        images, labels = augment(images, labels, rng, config.flip_probability)
        for group in optimizer.param_groups:
            group["lr"] = learning_rate_at(step, config)
        logits = oracle(images)
        loss = F.cross_entropy(logits, labels) + config.dice_weight * soft_dice_loss(logits, labels)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        summary.steps_done = step + 1
        summary.images_seen += images.shape[0]
        summary.losses.append(float(loss.detach()))
        report(progress, step + 1, config.steps, summary.losses[-1])
    summary.wall_seconds = time.perf_counter() - start
    oracle.eval()
    return summary


def save_oracle(directory: str | Path, oracle: Oracle, metadata: dict[str, object] | None = None) -> Path:
    """Write an oracle as ``config.json`` + ``weights.safetensors`` in ``directory``."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    tensors = {name: value.detach().cpu().contiguous() for name, value in oracle.state_dict().items()}
    tmp_weights = directory / (WEIGHTS_FILE + ".tmp")
    save_file(tensors, str(tmp_weights))
    tmp_weights.replace(directory / WEIGHTS_FILE)
    document = {"format": FORMAT_NAME, "oracle": oracle.config.to_dict(), "metadata": metadata or {}}
    tmp_config = directory / (CONFIG_FILE + ".tmp")
    tmp_config.write_text(json.dumps(document, indent=2, sort_keys=True))
    tmp_config.replace(directory / CONFIG_FILE)
    return directory


def load_oracle(directory: str | Path) -> Oracle:
    """Load an oracle written by ``save_oracle`` (eval mode, no gradients); ``CheckpointError`` if bad."""
    directory = Path(directory)
    try:
        document = json.loads((directory / CONFIG_FILE).read_text())
    except (OSError, json.JSONDecodeError) as error:
        raise CheckpointError(f"cannot read {directory / CONFIG_FILE}: {error}") from error
    if not isinstance(document, dict) or document.get("format") != FORMAT_NAME:
        found = document.get("format") if isinstance(document, dict) else None
        raise CheckpointError(f"{directory / CONFIG_FILE} has format {found!r}, expected {FORMAT_NAME!r}")
    try:
        config = OracleConfig.from_dict(document["oracle"])
        tensors = load_file(str(directory / WEIGHTS_FILE))
    except (KeyError, ValueError, TypeError, OSError, SafetensorError) as error:
        raise CheckpointError(f"cannot load oracle from {directory}: {error}") from error
    oracle = Oracle(config)
    fill_module(oracle, tensors, "oracle")
    return oracle.eval().requires_grad_(False)


def oracle_metadata(path: str | Path) -> dict[str, object]:
    """The metadata dict stored with a saved oracle."""
    try:
        document = json.loads((Path(path) / CONFIG_FILE).read_text())
    except (OSError, json.JSONDecodeError) as error:
        raise CheckpointError(f"cannot read {Path(path) / CONFIG_FILE}: {error}") from error
    return dict(document.get("metadata") or {})


def training_stages(path: str | Path) -> list[dict[str, Any]]:
    """The training stages recorded in a saved oracle's metadata, oldest first (``train-oracle --init``)."""
    stages = oracle_metadata(path).get("stages") or []
    if not isinstance(stages, list) or not all(isinstance(stage, dict) for stage in stages):
        raise CheckpointError(f"{Path(path) / CONFIG_FILE}: metadata 'stages' must be a list of objects")
    return stages


def label_names(oracle: Oracle) -> Sequence[str]:
    """The oracle's label names, or ``label_<i>`` when it was saved without them."""
    return oracle.config.label_names or tuple(f"label_{i}" for i in range(oracle.config.num_labels))
