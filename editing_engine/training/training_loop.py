"""The StyleGAN2 training loop: one explicit loop, resumable, with snapshots, samples and exports.

Each step runs the generator phase, the discriminator phase and, every ``r1_interval`` steps,
the lazy R1 phase (NVIDIA's lazy regularisation: the penalty is scaled by the interval and
D's Adam learning rate and beta2 are adjusted by ``interval / (interval + 1)``). G_ema follows
G with a half-life of ``ema_kimg`` thousand images (ramped up over the first images).

Output directory layout: ``state.safetensors`` + ``state.json`` (full resumable state),
``model/`` (G_ema + D in the engine's native format, loadable by ``load_generator``),
``samples/reals.png`` and ``samples/fakes{kimg:06d}.png`` (fixed seeds), ``log.jsonl``.
"""

from __future__ import annotations

import json
import math
import os
import platform
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image

from editing_engine.errors import EngineError

from ..checkpoints import fill_module, load_native, save_model
from ..discriminator import Discriminator, DiscriminatorConfig
from ..generator import Generator, GeneratorConfig, seed_to_z, to_uint8_image
from .augment import parse_policy
from .dataset import ImageSource, open_source
from .loss import LossSettings, StyleGAN2Loss
from .snapshot import TrainingState, load_state_into, read_state_info, save_state

ProgressCallback = Callable[[int, int, float], None]
CancelCallback = Callable[[], bool]
LogCallback = Callable[[str], None]

DEFAULT_AUGMENT = "color,translation,cutout"
SAMPLE_GRID = (4, 8)


class TrainingError(EngineError):
    """A training run that cannot start or resume as asked."""


@dataclass
class TrainingConfig:
    """What to train on and how; stored in ``state.json`` so a resumed run can check it."""

    data: str = "procedural"
    resolution: int = 64
    batch: int = 16
    kimg: float = 1000.0
    lr: float = 0.002
    beta2: float = 0.99
    r1_gamma: float = 0.1
    r1_interval: int = 16
    ema_kimg: float | None = None
    ema_rampup: float = 0.05
    style_mixing_prob: float = 0.9
    augment: str = "auto"
    seed: int = 0
    snapshot_minutes: float = 5.0
    sample_minutes: float = 10.0
    log_seconds: float = 30.0

    def resolved_augment(self) -> str:
        """The augmentation policy; ``auto`` = none for the unlimited procedural data, else DiffAugment."""
        if self.augment == "auto":
            return "" if self.data.startswith("procedural") else DEFAULT_AUGMENT
        return ",".join(parse_policy(self.augment))

    def resolved_ema_kimg(self) -> float:
        """EMA half-life in kimg (default ``batch * 10 / 32``, as stylegan2-ada's auto config)."""
        return self.ema_kimg if self.ema_kimg is not None else self.batch * 10 / 32


# Settings that may change when a run is resumed; everything else must match the saved run.
RESUMABLE_CHANGES = {"kimg", "snapshot_minutes", "sample_minutes", "log_seconds"}


@dataclass
class TrainingResult:
    """Where a run stopped."""

    step: int
    images_seen: int
    wall_time: float
    model_dir: Path
    cancelled: bool
    images_per_second: float = float("nan")
    history: list[dict[str, float]] = field(default_factory=list)


def default_generator_config(resolution: int) -> GeneratorConfig:
    """The CPU-friendly network: channels halve as resolution doubles (128 at 4..8 px, 16 at 64 px)."""
    return GeneratorConfig(resolution=resolution, z_dim=256, w_dim=256, mapping_layers=4,
                           channel_base=1024, channel_max=128)


def default_discriminator_config(resolution: int) -> DiscriminatorConfig:
    """The discriminator matching ``default_generator_config``."""
    return DiscriminatorConfig(resolution=resolution, channel_base=1024, channel_max=128)


def describe_hardware(device: torch.device) -> str:
    """A one-line description of what trains (CPU model and thread count, or the GPU)."""
    if device.type == "cuda":
        return f"CUDA {torch.cuda.get_device_name(device)}"
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"CPU {cpu}, {os.cpu_count()} cores visible, {torch.get_num_threads()} torch threads"


def save_grid(images: torch.Tensor, rows: int, cols: int, path: Path) -> None:
    """Tile ``rows * cols`` images ``[N, 3, H, W]`` in [-1, 1] into one PNG."""
    tiles = [to_uint8_image(img) for img in images[: rows * cols]]
    strips = [np.concatenate(tiles[r * cols:(r + 1) * cols], axis=1) for r in range(rows)]
    grid = np.concatenate(strips, axis=0)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp.png")
    Image.fromarray(grid).save(tmp)
    tmp.replace(path)


class Trainer:
    """Owns the networks, optimisers and counters of one run directory."""

    def __init__(self, out_dir: Path, config: TrainingConfig, generator_config: GeneratorConfig,
                 discriminator_config: DiscriminatorConfig, device: torch.device) -> None:
        self.out_dir = out_dir
        self.config = config
        self.device = device
        self.G_config = generator_config
        self.D_config = discriminator_config
        torch.manual_seed(config.seed)
        self.G = Generator(generator_config).to(device).train()
        self.D = Discriminator(discriminator_config).to(device).train()
        self.G_ema = Generator(generator_config).to(device).eval().requires_grad_(False)
        self.G_ema.load_state_dict(self.G.state_dict())
        ratio = config.r1_interval / (config.r1_interval + 1)
        self.opt_G = torch.optim.Adam(self.G.parameters(), lr=config.lr, betas=(0.0, config.beta2), eps=1e-8)
        self.opt_D = torch.optim.Adam(self.D.parameters(), lr=config.lr * ratio,
                                      betas=(0.0, config.beta2**ratio), eps=1e-8)
        self.loss = StyleGAN2Loss(self.G, self.D, LossSettings(
            r1_gamma=config.r1_gamma, style_mixing_prob=config.style_mixing_prob,
            augment=config.resolved_augment()))
        self.rng = np.random.default_rng(config.seed)
        self.step = 0
        self.images_seen = 0
        self.wall_time = 0.0

    def info(self) -> dict[str, Any]:
        """Configs stored beside the state."""
        return {"generator": self.G_config.to_dict(), "discriminator": self.D_config.to_dict(),
                "training": asdict(self.config)}

    def state(self) -> TrainingState:
        """The current resumable state."""
        return TrainingState(
            modules={"G": self.G, "G_ema": self.G_ema, "D": self.D},
            optimizers={"opt_G": self.opt_G, "opt_D": self.opt_D},
            step=self.step, images_seen=self.images_seen, wall_time=self.wall_time,
            numpy_rng_state=dict(self.rng.bit_generator.state), info=self.info(),
        )

    def initialise_from(self, model_dir: Path) -> None:
        """Start a new run from an exported model: G and G_ema from its G_ema, D from its D.

        The image count continues from the model's metadata so the EMA horizon stays full;
        the optimisers start fresh.
        """
        loaded = load_native(model_dir)
        if loaded.config.to_dict() != self.G_config.to_dict():
            raise TrainingError(f"{model_dir} holds generator config {loaded.config.to_dict()}, "
                                f"this run trains {self.G_config.to_dict()}")
        if not loaded.discriminator_state:
            raise TrainingError(f"{model_dir} holds no discriminator; a run cannot continue from it")
        state = loaded.generator.state_dict()
        fill_module(self.G, state, "generator")
        fill_module(self.G_ema, state, "generator")
        fill_module(self.D, loaded.discriminator_state, "discriminator")
        self.images_seen = int(loaded.metadata.get("images_seen", 0))  # type: ignore[call-overload]

    def resume(self) -> None:
        """Load the run directory's saved state into this trainer."""
        state = self.state()
        info = load_state_into(self.out_dir, state.modules, state.optimizers)
        self.step = int(info["step"])
        self.images_seen = int(info["images_seen"])
        self.wall_time = float(info["wall_time"])
        self.rng.bit_generator.state = info["numpy_rng"]

    def train_step(self, source: ImageSource) -> dict[str, float]:
        """One iteration of every phase; returns the losses."""
        batch, z_dim = self.config.batch, self.G_config.z_dim
        self.G.requires_grad_(True)
        self.D.requires_grad_(False)
        self.opt_G.zero_grad(set_to_none=True)
        g_loss = self.loss.generator_loss(torch.randn(batch, z_dim, device=self.device))
        g_loss.backward()
        self.opt_G.step()

        self.G.requires_grad_(False)
        self.D.requires_grad_(True)
        real = source.sample(batch, self.rng).to(self.device)
        self.opt_D.zero_grad(set_to_none=True)
        z = torch.randn(batch, z_dim, device=self.device)
        fake_loss, real_loss = self.loss.discriminator_loss(z, real)
        (fake_loss + real_loss).backward()
        self.opt_D.step()
        losses = {"G": g_loss.item(), "D_fake": fake_loss.item(), "D_real": real_loss.item()}

        if self.step % self.config.r1_interval == 0:
            self.opt_D.zero_grad(set_to_none=True)
            penalty = self.loss.r1_penalty(real)
            (penalty * (self.config.r1_gamma / 2) * self.config.r1_interval).backward()
            self.opt_D.step()
            losses["R1"] = penalty.item()

        self.images_seen += batch
        self.step += 1
        self.update_ema()
        return losses

    @torch.no_grad()
    def update_ema(self) -> None:
        """Move G_ema towards G and copy G's buffers (w_avg, noise constants)."""
        ema_images = self.config.resolved_ema_kimg() * 1000
        if self.config.ema_rampup > 0:
            ema_images = min(ema_images, self.images_seen * self.config.ema_rampup)
        beta = 0.5 ** (self.config.batch / max(ema_images, 1e-8))
        for p_ema, p in zip(self.G_ema.parameters(), self.G.parameters(), strict=True):
            p_ema.copy_(p.detach().lerp(p_ema, beta))
        for b_ema, b in zip(self.G_ema.buffers(), self.G.buffers(), strict=True):
            b_ema.copy_(b)

    def save_snapshot(self) -> None:
        """Write the resumable state and the native-format export of G_ema + D."""
        save_state(self.out_dir, self.state())
        save_model(self.out_dir / "model", self.G_ema, self.D, dict(self.D_config.to_dict()), metadata={
            "kimg": round(self.images_seen / 1000, 3),
            "images_seen": self.images_seen,
            "steps": self.step,
            "wall_time_s": round(self.wall_time, 1),
            "hardware": describe_hardware(self.device),
            "data": self.config.data,
            "training": asdict(self.config),
            "torch": torch.__version__,
        })

    @torch.no_grad()
    def save_samples(self) -> Path:
        """Render the fixed-seed sample grid of G_ema for the current kimg."""
        rows, cols = SAMPLE_GRID
        z = torch.cat([seed_to_z(seed, self.G_config.z_dim) for seed in range(rows * cols)]).to(self.device)
        images = self.G_ema.synthesis(self.G_ema.mapping(z), noise_mode="const")
        path = self.out_dir / "samples" / f"fakes{self.images_seen // 1000:06d}.png"
        save_grid(images.cpu(), rows, cols, path)
        return path


def check_resumable(saved: dict[str, Any], trainer: Trainer) -> None:
    """Refuse to resume a run whose data, networks or hyper-parameters differ from the command's."""
    current = trainer.info()
    for key in ("generator", "discriminator"):
        if saved.get(key) != current[key]:
            raise TrainingError(f"the run in {trainer.out_dir} was trained with {key} config "
                                f"{saved.get(key)}, not {current[key]}; use another --out directory")
    saved_training = {k: v for k, v in saved.get("training", {}).items() if k not in RESUMABLE_CHANGES}
    wanted = {k: v for k, v in current["training"].items() if k not in RESUMABLE_CHANGES}
    if saved_training != wanted:
        changed = sorted(k for k in wanted if saved_training.get(k) != wanted[k])
        raise TrainingError(f"the run in {trainer.out_dir} used different settings for {changed}; "
                            "use the same settings or another --out directory")


def pick_device() -> torch.device:
    """CUDA when present, otherwise the CPU."""
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def train_gan(
    out_dir: str | Path,
    config: TrainingConfig,
    generator_config: GeneratorConfig | None = None,
    discriminator_config: DiscriminatorConfig | None = None,
    progress: ProgressCallback | None = None,
    should_cancel: CancelCallback | None = None,
    log: LogCallback | None = None,
    device: torch.device | None = None,
    init_from: str | Path | None = None,
) -> TrainingResult:
    """Train (or resume, when ``out_dir`` holds a state) until ``config.kimg`` thousand images.

    ``init_from`` (a model directory) seeds a new run's networks; a resumed run ignores it.
    """
    out_dir = Path(out_dir)
    generator_config = generator_config or default_generator_config(config.resolution)
    discriminator_config = discriminator_config or default_discriminator_config(config.resolution)
    if config.resolution not in (generator_config.resolution, discriminator_config.resolution) or \
            generator_config.resolution != discriminator_config.resolution:
        raise TrainingError("generator, discriminator and training resolutions differ")
    if config.batch < 1 or config.kimg <= 0:
        raise TrainingError("batch must be >= 1 and kimg > 0")
    emit = log or (lambda _line: None)
    source = open_source(config.data, config.resolution)
    trainer = Trainer(out_dir, config, generator_config, discriminator_config, device or pick_device())
    saved = read_state_info(out_dir)
    if saved is not None:
        check_resumable(saved, trainer)
        trainer.resume()
        emit(f"resumed {out_dir} at step {trainer.step}, {trainer.images_seen / 1000:.1f} kimg")
    else:
        if init_from is not None:
            trainer.initialise_from(Path(init_from))
            emit(f"initialised from {init_from} at {trainer.images_seen / 1000:.1f} kimg")
        out_dir.mkdir(parents=True, exist_ok=True)
        save_grid(source.sample(SAMPLE_GRID[0] * SAMPLE_GRID[1], np.random.default_rng(12345)),
                  *SAMPLE_GRID, out_dir / "samples" / "reals.png")
        emit(f"new run in {out_dir}: data {source.description}, {describe_hardware(trainer.device)}, "
             f"G {sum(p.numel() for p in trainer.G.parameters()):,} params, "
             f"D {sum(p.numel() for p in trainer.D.parameters()):,} params, "
             f"augment {config.resolved_augment() or 'none'}")
    return run_loop(trainer, source, progress, should_cancel, emit)


def run_loop(trainer: Trainer, source: ImageSource, progress: ProgressCallback | None,
             should_cancel: CancelCallback | None, emit: LogCallback) -> TrainingResult:
    """Step until the image budget is spent or cancelled, snapshotting and sampling on the way."""
    config = trainer.config
    target = math.ceil(config.kimg * 1000)
    total_steps = trainer.step + max(0, math.ceil((target - trainer.images_seen) / config.batch))
    last_snapshot = last_sample = last_log = time.monotonic()
    window_images, window_start = 0, time.monotonic()
    history: list[dict[str, float]] = []
    totals: dict[str, float] = {}
    counts: dict[str, int] = {}
    cancelled = False
    rate = float("nan")
    log_path = trainer.out_dir / "log.jsonl"
    while trainer.images_seen < target:
        if should_cancel is not None and should_cancel():
            cancelled = True
            break
        started = time.monotonic()
        losses = trainer.train_step(source)
        trainer.wall_time += time.monotonic() - started
        window_images += config.batch
        for key, value in losses.items():
            if not math.isfinite(value):
                trainer.save_snapshot()
                raise TrainingError(f"loss {key} became {value} at step {trainer.step}")
            totals[key] = totals.get(key, 0.0) + value
            counts[key] = counts.get(key, 0) + 1
        if progress is not None:
            progress(trainer.step, total_steps, losses["G"])
        now = time.monotonic()
        if now - last_log >= config.log_seconds:
            rate = window_images / (now - window_start)
            entry = {"step": trainer.step, "kimg": trainer.images_seen / 1000, "images_per_s": rate,
                     "wall_time": trainer.wall_time, **{k: totals[k] / counts[k] for k in totals}}
            history.append(entry)
            with log_path.open("a") as handle:
                handle.write(json.dumps(entry) + "\n")
            emit(" ".join([f"step {trainer.step}", f"kimg {entry['kimg']:.2f}/{config.kimg:g}",
                           *[f"{k} {totals[k] / counts[k]:.3f}" for k in totals],
                           f"img/s {rate:.1f}", f"time {trainer.wall_time / 60:.1f} min"]))
            totals, counts = {}, {}
            window_images, window_start, last_log = 0, now, now
        if now - last_sample >= config.sample_minutes * 60:
            emit(f"samples: {trainer.save_samples()}")
            last_sample = now
        if now - last_snapshot >= config.snapshot_minutes * 60:
            trainer.save_snapshot()
            emit(f"snapshot at step {trainer.step} ({trainer.images_seen / 1000:.2f} kimg)")
            last_snapshot = now
    trainer.save_snapshot()
    sample_path = trainer.save_samples()
    emit(f"{'cancelled' if cancelled else 'finished'} at step {trainer.step} "
         f"({trainer.images_seen / 1000:.2f} kimg); snapshot and {sample_path} written")
    return TrainingResult(step=trainer.step, images_seen=trainer.images_seen, wall_time=trainer.wall_time,
                          model_dir=trainer.out_dir / "model", cancelled=cancelled,
                          images_per_second=rate, history=history)

