"""Image -> W+ encoder, trained on generator samples, that initialises embedding and regularises edits.

Architecture (sized for the 64 px demo model, works for any power-of-two resolution >= 8):

* a residual conv backbone like the discriminator's: a 1x1 stem, then per resolution two
  3x3 convs and a 2x downsampling (with a 1x1 skip), ``channels(res) = min(channel_base //
  res, channel_max)``, keeping the maps at every resolution down to 4x4;
* a pyramid of heads: W+ row ``r`` drives generator layers at ``row_resolution(r)``; rows are
  grouped by ``min(row_resolution, max_level)`` and each group reads the backbone map at that
  resolution, brings it to 4x4 with strided convs, flattens it and regresses its rows with a
  two-layer MLP (coarse rows from coarse maps, fine rows from finer maps, as in the release's FPN);
* the output is an offset from the generator's ``w_avg`` (stored in the encoder).

Training (``train_encoder``) follows the release's synthetic loss: z -> w (truncated) -> image
G(w) without gradients; loss = latent regression MSE(E(G(w)), w) + reconstruction (pixel MSE and,
when given, a perceptual distance) between G(E(G(w))) and G(w). Optional real images add the
reconstruction loss on them after ``real_start_step``. ``encoder_for_fine_tuning`` loads a saved
encoder to continue training it on a generator that trained further.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file
from torch import nn

from editing_engine.errors import EngineError
from editing_engine.shapes import assert_shape

from .checkpoints import CheckpointError, fill_module
from .discriminator import Conv2dLayer
from .generator import Generator, GeneratorConfig
from .losses import PerceptualDistance, pixel_mse
from .progress import CancelCheck, ProgressCallback, check_cancel, report

ENCODER_CONFIG_FILE = "encoder.json"
ENCODER_WEIGHTS_FILE = "encoder.safetensors"
ENCODER_FORMAT = "partedit-encoder/v1"


class EncoderError(EngineError):
    """An encoder file or input does not fit the generator or the encoder."""


@dataclass(frozen=True)
class EncoderConfig:
    """Everything needed to rebuild an encoder; stored as JSON beside the weights."""

    resolution: int
    num_ws: int
    w_dim: int
    channel_base: int = 2048
    channel_max: int = 128
    max_level: int = 16
    head_hidden: int = 256

    def __post_init__(self) -> None:
        log2 = math.log2(self.resolution)
        if self.resolution < 8 or log2 != int(log2):
            raise EncoderError(f"encoder resolution must be a power of two >= 8, got {self.resolution}")
        if self.num_ws < 1 or self.w_dim < 1 or self.head_hidden < 1:
            raise EncoderError("num_ws, w_dim and head_hidden must be positive")
        if self.max_level < 4 or math.log2(self.max_level) != int(math.log2(self.max_level)):
            raise EncoderError(f"max_level must be a power of two >= 4, got {self.max_level}")

    @classmethod
    def for_generator(cls, config: GeneratorConfig, **options: int) -> EncoderConfig:
        """An encoder config producing W+ for generator ``config``."""
        return cls(resolution=config.resolution, num_ws=config.num_ws, w_dim=config.w_dim, **options)

    def channels(self, res: int) -> int:
        """Backbone channels at resolution ``res``."""
        return min(self.channel_base // res, self.channel_max)

    def row_resolution(self, row: int) -> int:
        """The generator resolution W+ row ``row`` mostly drives (4 for row 0, then two rows per octave)."""
        return min(4 * 2 ** math.ceil(row / 2), self.resolution)

    def row_levels(self) -> dict[int, list[int]]:
        """W+ rows grouped by the backbone resolution their head reads."""
        top = min(self.max_level, self.resolution // 2)
        groups: dict[int, list[int]] = {}
        for row in range(self.num_ws):
            groups.setdefault(min(self.row_resolution(row), top), []).append(row)
        return groups

    def to_dict(self) -> dict[str, int]:
        """Plain-dict form for JSON."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, object]) -> EncoderConfig:
        """Build from a JSON dict, refusing unknown keys with a clear error."""
        unknown = set(data) - set(cls.__dataclass_fields__)
        if unknown:
            raise EncoderError(f"unknown encoder config keys: {sorted(unknown)}")
        try:
            return cls(**data)  # type: ignore[arg-type]
        except TypeError as error:
            raise EncoderError(f"malformed encoder config: {error}") from error


class EncoderBlock(nn.Module):
    """Two 3x3 convs, the second downsampling by 2, plus a downsampling 1x1 skip."""

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.conv0 = Conv2dLayer(in_channels, in_channels, 3)
        self.conv1 = Conv2dLayer(in_channels, out_channels, 3, down=True)
        self.skip = Conv2dLayer(in_channels, out_channels, 1, bias=False, activation=False, down=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Halve the resolution of ``x``."""
        return self.skip(x, gain=math.sqrt(0.5)) + self.conv1(self.conv0(x), gain=math.sqrt(0.5))


class StyleHead(nn.Module):
    """Strided convs down to 4x4, flatten, then an MLP regressing ``rows`` W+ rows."""

    def __init__(self, channels: int, level: int, rows: int, w_dim: int, hidden: int) -> None:
        super().__init__()
        self.rows = rows
        self.w_dim = w_dim
        self.downs = nn.ModuleList(
            Conv2dLayer(channels, channels, 3, down=True) for _ in range(int(math.log2(level // 4)))
        )
        self.fc = nn.Linear(channels * 16, hidden)
        self.out = nn.Linear(hidden, rows * w_dim)
        nn.init.zeros_(self.out.weight)
        nn.init.zeros_(self.out.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Rows ``[B, rows, w_dim]`` from the map ``x``."""
        for down in self.downs:
            x = down(x)
        hidden = F.leaky_relu(self.fc(x.flatten(1)), 0.2)
        return self.out(hidden).reshape(-1, self.rows, self.w_dim)


class Encoder(nn.Module):
    """Images ``[B, 3, R, R]`` in [-1, 1] -> W+ ``[B, num_ws, w_dim]`` (see the module docstring)."""

    w_avg: torch.Tensor

    def __init__(self, config: EncoderConfig, w_avg: torch.Tensor | None = None) -> None:
        super().__init__()
        self.config = config
        self.stem = Conv2dLayer(3, config.channels(config.resolution), 1)
        self.blocks = nn.ModuleDict()
        res = config.resolution
        while res > 4:
            self.blocks[str(res)] = EncoderBlock(config.channels(res), config.channels(res // 2))
            res //= 2
        self.levels = config.row_levels()
        self.heads = nn.ModuleDict(
            {
                str(level): StyleHead(
                    config.channels(level), level, len(rows), config.w_dim, config.head_hidden
                )
                for level, rows in self.levels.items()
            }
        )
        self.register_buffer("w_avg", torch.zeros(config.w_dim) if w_avg is None else w_avg.detach().clone())

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """Encode images to W+."""
        size = self.config.resolution
        assert_shape(images, ("B", 3, size, size), "encoder input", EncoderError)
        maps: dict[int, torch.Tensor] = {}
        x = self.stem(images)
        res = self.config.resolution
        while res > 4:
            x = self.blocks[str(res)](x)
            res //= 2
            maps[res] = x
        ws = self.w_avg.expand(images.shape[0], self.config.num_ws, -1).clone()
        for level, rows in self.levels.items():
            ws[:, rows] = ws[:, rows] + self.heads[str(level)](maps[level])
        return ws


def sample_training_ws(
    generator: Generator, batch: int, truncation_psi: float, rng: torch.Generator
) -> torch.Tensor:
    """Random W+ latents (one w per sample, repeated over rows, truncated) for encoder training."""
    z = torch.randn(batch, generator.config.z_dim, generator=rng).to(generator.w_avg.device)
    with torch.no_grad():
        return generator.mapping(z, truncation_psi=truncation_psi)


@dataclass(frozen=True)
class EncoderLossWeights:
    """Weights of the encoder training terms (the release uses 5 / 1 / 10 with LPIPS on [0, 1] images)."""

    latent: float = 5.0
    pixel: float = 1.0
    perceptual: float = 1.0


def reconstruction_loss(
    generator: Generator,
    ws: torch.Tensor,
    target: torch.Tensor,
    perceptual: PerceptualDistance | None,
    weights: EncoderLossWeights,
) -> torch.Tensor:
    """Mean pixel MSE (+ perceptual distance) between G(ws) and ``target``."""
    recon = generator.synthesis(ws, noise_mode="const")
    loss = weights.pixel * pixel_mse(recon, target).mean()
    if perceptual is not None:
        loss = loss + weights.perceptual * perceptual(recon, target).mean()
    return loss


def train_encoder(
    generator: Generator,
    encoder_or_config: Encoder | EncoderConfig | None = None,
    steps: int = 2000,
    batch_size: int = 8,
    learning_rate: float = 2e-4,
    truncation_psi: float = 0.7,
    perceptual: PerceptualDistance | None = None,
    weights: EncoderLossWeights | None = None,
    real_images: torch.Tensor | None = None,
    real_start_step: int = 0,
    progress: ProgressCallback | None = None,
    should_cancel: CancelCheck | None = None,
    seed: int = 0,
) -> Encoder:
    """Train an encoder on generator samples (latent regression + reconstruction); returns it in eval mode.

    ``real_images`` (``[N, 3, R, R]`` in [-1, 1], optional) add a reconstruction term on real
    images from step ``real_start_step`` on. The generator is not modified (its parameters'
    ``requires_grad`` flags are restored); the encoder is moved to the generator's device. A given
    ``Encoder`` (e.g. from ``encoder_for_fine_tuning``) is trained further, gradients switched on.
    """
    config = EncoderConfig.for_generator(generator.config) if encoder_or_config is None else encoder_or_config
    if isinstance(config, Encoder):
        encoder = config
    else:
        torch.manual_seed(seed)
        encoder = Encoder(config, generator.w_avg)
    check_encoder_fits(encoder, generator.config)
    if steps < 1 or batch_size < 1:
        raise EncoderError("steps and batch_size must be positive")
    resolution = generator.config.resolution
    if real_images is not None and (
        real_images.ndim != 4 or tuple(real_images.shape[1:]) != (3, resolution, resolution)
    ):
        raise EncoderError(
            f"real_images must be [N, 3, {generator.config.resolution}, "
            f"{generator.config.resolution}], got {list(real_images.shape)}"
        )
    weights = weights or EncoderLossWeights()
    rng = torch.Generator().manual_seed(seed)
    device = next(generator.parameters()).device
    encoder.to(device)
    encoder.requires_grad_(True)
    optimizer = torch.optim.Adam(encoder.parameters(), lr=learning_rate, betas=(0.9, 0.99))
    flags = [parameter.requires_grad for parameter in generator.parameters()]
    generator.requires_grad_(False)
    encoder.train()
    try:
        for step in range(steps):
            check_cancel(should_cancel, "encoder training")
            ws = sample_training_ws(generator, batch_size, truncation_psi, rng)
            with torch.no_grad():
                images = generator.synthesis(ws, noise_mode="const")
            predicted = encoder(images)
            loss = weights.latent * F.mse_loss(predicted, ws)
            loss = loss + reconstruction_loss(generator, predicted, images, perceptual, weights)
            if real_images is not None and step >= real_start_step:
                index = torch.randint(0, real_images.shape[0], (batch_size,), generator=rng)
                real = real_images[index].to(device)
                loss = loss + reconstruction_loss(generator, encoder(real), real, perceptual, weights)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            report(progress, step + 1, steps, loss.item())
    finally:
        for parameter, flag in zip(generator.parameters(), flags, strict=True):
            parameter.requires_grad_(flag)
    return encoder.eval()


def check_encoder_fits(encoder: Encoder, config: GeneratorConfig) -> None:
    """Raise ``EncoderError`` unless ``encoder`` produces W+ for generator ``config``."""
    mine = encoder.config
    if (mine.resolution, mine.num_ws, mine.w_dim) != (config.resolution, config.num_ws, config.w_dim):
        raise EncoderError(
            f"encoder maps {mine.resolution}px images to W+ [{mine.num_ws}, {mine.w_dim}], "
            f"the generator needs {config.resolution}px and [{config.num_ws}, {config.w_dim}]"
        )


def save_encoder(path: str | Path, encoder: Encoder, metadata: dict[str, object] | None = None) -> Path:
    """Write ``encoder.json`` and ``encoder.safetensors`` into ``path`` (temporary names, then renames)."""
    directory = Path(path)
    directory.mkdir(parents=True, exist_ok=True)
    tensors = {k: v.detach().cpu().contiguous() for k, v in encoder.state_dict().items()}
    document = {"format": ENCODER_FORMAT, "encoder": encoder.config.to_dict(), "metadata": metadata or {}}
    tmp_weights = directory / (ENCODER_WEIGHTS_FILE + ".tmp")
    tmp_config = directory / (ENCODER_CONFIG_FILE + ".tmp")
    save_file(tensors, str(tmp_weights))
    tmp_config.write_text(json.dumps(document, indent=2, sort_keys=True))
    tmp_weights.replace(directory / ENCODER_WEIGHTS_FILE)
    tmp_config.replace(directory / ENCODER_CONFIG_FILE)
    return directory


def _read_document(directory: Path) -> dict[str, object]:
    """The parsed ``encoder.json`` of ``directory``, checked for the format tag."""
    try:
        document = json.loads((directory / ENCODER_CONFIG_FILE).read_text())
    except (OSError, json.JSONDecodeError) as error:
        raise EncoderError(f"cannot read {directory / ENCODER_CONFIG_FILE}: {error}") from error
    if not isinstance(document, dict) or document.get("format") != ENCODER_FORMAT:
        raise EncoderError(f"{directory / ENCODER_CONFIG_FILE} is not a {ENCODER_FORMAT} file")
    return document


def read_encoder_metadata(path: str | Path) -> dict[str, object]:
    """The metadata dict saved with the encoder in ``path`` (empty when none was saved)."""
    metadata = _read_document(Path(path)).get("metadata")
    return metadata if isinstance(metadata, dict) else {}


def load_encoder(path: str | Path, expected: GeneratorConfig | None = None) -> Encoder:
    """Load an encoder saved by ``save_encoder`` (eval mode, gradients off); refuse a mismatched one."""
    directory = Path(path)
    config_data = _read_document(directory).get("encoder")
    if not isinstance(config_data, dict):
        raise EncoderError(f"{directory / ENCODER_CONFIG_FILE} holds no encoder config")
    encoder = Encoder(EncoderConfig.from_dict(config_data))
    if expected is not None:
        check_encoder_fits(encoder, expected)
    try:
        state = load_file(str(directory / ENCODER_WEIGHTS_FILE))
        fill_module(encoder, state, "encoder")
    except (OSError, SafetensorError, CheckpointError) as error:
        raise EncoderError(f"cannot load encoder from {directory}: {error}") from error
    return encoder.eval().requires_grad_(False)


def encoder_for_fine_tuning(
    path: str | Path, generator: Generator, architecture: dict[str, int] | None = None
) -> Encoder:
    """Load the encoder in ``path`` (fully, into memory) to train it further on ``generator``.

    Refuses (``EncoderError``) an encoder whose W+ shape or resolution does not fit the generator,
    or whose config differs from the ``architecture`` fields given (e.g. ``{"channel_base": 2048}``).
    The encoder's ``w_avg`` is set to the generator's, as for a new encoder.
    """
    encoder = load_encoder(path, generator.config)
    loaded = encoder.config.to_dict()
    unknown = set(architecture or {}) - set(loaded)
    if unknown:
        raise EncoderError(f"unknown encoder config keys: {sorted(unknown)}")
    differing = [
        f"{key} {loaded[key]} (requested {value})"
        for key, value in sorted((architecture or {}).items())
        if loaded[key] != value
    ]
    if differing:
        raise EncoderError(f"the encoder in {path} has another architecture: {', '.join(differing)}")
    with torch.no_grad():
        encoder.w_avg.copy_(generator.w_avg)
    return encoder
