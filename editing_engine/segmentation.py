"""DatasetGAN-style segmentation branch: an ensemble of per-pixel MLPs on all synthesis features.

Every member is an MLP ``Linear(C -> h1), ReLU, Norm, Linear(h1 -> h2), ReLU, Norm, ...,
Linear(-> num_labels)`` applied to each pixel's feature vector: the concatenation of every
synthesis feature map (``GeneratorConfig.feature_shapes()``) resampled to the branch
resolution with **bilinear, align_corners=False** interpolation. That one resampling rule is
used everywhere (training, display, editing).

The release materialises that concatenation (6016 channels at 512x512, 5.9 GiB per image).
This module never does: the first layer is linear and bilinear resampling is linear, so for
a tap smaller than the output the first layer is applied at native size (taps sharing a size
are summed first) and only that projection is resampled — the same numbers up to float
rounding. Whole images are evaluated by groups of members and bands of rows, so the peak is
bounded by ``chunk_bytes``; ``pixel_mask`` evaluates only the pixels editing needs, reading
features and projections at those pixels with ``grid_sample``. ``naive_pixel_features`` is the
release's way, kept as the reference the tests compare against.

Members are combined by averaging their softmax probabilities; the per-pixel uncertainty is
the Jensen-Shannon divergence across members (natural log; 0 when all members agree, at most
``log(num_members)``).
"""

from __future__ import annotations

import itertools
import json
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
import torch.nn.functional as F
from safetensors import SafetensorError
from safetensors.torch import load_file, save
from torch import nn

from editing_engine import formats
from editing_engine.errors import EngineError
from editing_engine.shapes import assert_shape

from .checkpoints import CheckpointError, fill_module
from .generator import Generator, GeneratorConfig
from .progress import CancelCheck, ProgressCallback, check_cancel, report

NormKind = Literal["batch", "layer", "none"]
Schedule = Literal["constant", "cosine"]
FeatureShape = tuple[int, int, int]

BRANCH_CONFIG_FILE = formats.BRANCH_CONFIG_FILE
BRANCH_WEIGHTS_FILE = formats.BRANCH_WEIGHTS_FILE
BRANCH_FORMAT = formats.BRANCH_FORMAT
DEFAULT_CHUNK_PIXELS = 4096
DEFAULT_CHUNK_BYTES = 32 * 2**20
DENSE_RESAMPLE_WIDTH = 32
DEFAULT_PIXEL_TABLE_BYTES = 512 * 2**20
# Training defaults, shared by the CLI and the web app's train_branch job (docs/engine.md, "Training").
DEFAULT_TRAIN_STEPS = 2000
DEFAULT_PIXELS_PER_STEP = 2048
DEFAULT_LEARNING_RATE = 1e-3
DEFAULT_SCHEDULE: Schedule = "constant"


class BranchError(EngineError):
    """A branch file, its input features or its training data do not fit together."""


@dataclass(frozen=True)
class BranchConfig:
    """Everything needed to rebuild a segmentation branch; stored as JSON beside the weights."""

    feature_shapes: tuple[FeatureShape, ...]
    num_labels: int
    resolution: int
    num_members: int = 10
    hidden_widths: tuple[int, ...] = (128, 32)
    norm: NormKind = "layer"

    def __post_init__(self) -> None:
        object.__setattr__(
            self, "feature_shapes", tuple(tuple(int(v) for v in s) for s in self.feature_shapes)
        )
        object.__setattr__(self, "hidden_widths", tuple(int(v) for v in self.hidden_widths))
        if not self.feature_shapes or any(len(s) != 3 or min(s) < 1 for s in self.feature_shapes):
            raise BranchError(
                f"feature_shapes must be non-empty (channels, h, w) triples, got {self.feature_shapes}"
            )
        if self.num_labels < 2:
            raise BranchError(f"num_labels must be at least 2, got {self.num_labels}")
        if self.resolution < 1 or self.num_members < 1:
            raise BranchError("resolution and num_members must be positive")
        if not self.hidden_widths or min(self.hidden_widths) < 1:
            raise BranchError(f"hidden_widths must be positive, got {self.hidden_widths}")
        if self.norm not in ("batch", "layer", "none"):
            raise BranchError(f"norm must be 'batch', 'layer' or 'none', got {self.norm!r}")

    @classmethod
    def for_generator(
        cls,
        config: GeneratorConfig,
        num_labels: int,
        num_members: int = 10,
        hidden_widths: tuple[int, ...] = (128, 32),
        norm: NormKind = "layer",
    ) -> BranchConfig:
        """A branch config reading every feature tap of ``config`` at its output resolution."""
        return cls(
            feature_shapes=tuple(config.feature_shapes()),
            num_labels=num_labels,
            resolution=config.resolution,
            num_members=num_members,
            hidden_widths=hidden_widths,
            norm=norm,
        )

    @property
    def feature_channels(self) -> int:
        """Length of the (virtual) per-pixel feature vector: the sum of all tap channels."""
        return sum(shape[0] for shape in self.feature_shapes)

    def to_dict(self) -> dict[str, object]:
        """Plain-dict form for JSON."""
        return {
            "feature_shapes": [list(s) for s in self.feature_shapes],
            "num_labels": self.num_labels,
            "resolution": self.resolution,
            "num_members": self.num_members,
            "hidden_widths": list(self.hidden_widths),
            "norm": self.norm,
        }

    @classmethod
    def from_dict(cls, data: dict[str, object]) -> BranchConfig:
        """Build from a JSON dict, refusing unknown or missing keys with a clear error."""
        known = set(cls.__dataclass_fields__)
        unknown = set(data) - known
        if unknown:
            raise BranchError(f"unknown branch config keys: {sorted(unknown)}")
        values: dict[str, Any] = dict(data)
        try:
            values["feature_shapes"] = tuple(tuple(s) for s in values["feature_shapes"])
            if "hidden_widths" in values:
                values["hidden_widths"] = tuple(values["hidden_widths"])
            return cls(**values)
        except (KeyError, TypeError, ValueError) as error:
            raise BranchError(f"malformed branch config: {error}") from error


@dataclass
class BranchOutput:
    """Ensemble prediction for a batch: averaged probabilities, labels and JS uncertainty."""

    probs: torch.Tensor
    labels: torch.Tensor
    uncertainty: torch.Tensor


def naive_pixel_features(features: Sequence[torch.Tensor], resolution: int) -> torch.Tensor:
    """Reference path (the release's): upsample every map to ``resolution`` and concatenate channels."""
    maps = [
        f
        if f.shape[-2:] == (resolution, resolution)
        else F.interpolate(f, size=(resolution, resolution), mode="bilinear", align_corners=False)
        for f in features
    ]
    return torch.cat(maps, dim=1)


@dataclass
class PixelSet:
    """Pixels to evaluate: batch index, row and column per pixel (all ``[P]`` long tensors)."""

    batch: torch.Tensor
    rows: torch.Tensor
    cols: torch.Tensor

    def __len__(self) -> int:
        return int(self.batch.shape[0])

    def slice(self, start: int, stop: int) -> PixelSet:
        """The pixels ``start:stop``."""
        return PixelSet(self.batch[start:stop], self.rows[start:stop], self.cols[start:stop])

    @classmethod
    def from_mask(cls, mask: torch.Tensor) -> PixelSet:
        """The True pixels of a ``[B, H, W]`` bool mask, in row-major (b, y, x) order."""
        batch, rows, cols = mask.nonzero(as_tuple=True)
        return cls(batch, rows, cols)


def sample_points(
    feature: torch.Tensor, rows: torch.Tensor, cols: torch.Tensor, resolution: int
) -> torch.Tensor:
    """Values ``[N, C, K]`` of ``feature [N, C, h, w]`` resampled to ``resolution`` at K pixels per image.

    ``rows`` and ``cols`` are ``[N, K]`` output-pixel coordinates. Equal (up to float rounding)
    to ``F.interpolate(..., mode="bilinear", align_corners=False)`` followed by indexing, without
    building the resampled map: ``grid_sample`` at the output pixel centres with border padding
    uses the same source coordinates and clamping.
    """
    if feature.shape[-2:] == (resolution, resolution):
        images = torch.arange(feature.shape[0], device=feature.device)[:, None]
        return feature[images, :, rows, cols].transpose(1, 2)
    grid = torch.stack([cols, rows], dim=-1).to(feature.dtype).add(0.5).mul(2.0 / resolution).sub(1.0)
    sampled = F.grid_sample(
        feature, grid[:, None], mode="bilinear", padding_mode="border", align_corners=False
    )
    return sampled[:, :, 0]


def sample_at_pixels(feature: torch.Tensor, pixels: PixelSet, resolution: int) -> torch.Tensor:
    """Values ``[P, C]`` of ``feature [B, C, h, w]`` resampled to ``resolution``, read at ``pixels`` only.

    See ``sample_points``. ``pixels`` must be sorted by batch index (``PixelSet.from_mask`` order).
    """
    counts = torch.bincount(pixels.batch, minlength=feature.shape[0]).tolist()
    outputs = []
    offset = 0
    for image, count in enumerate(counts):
        if count == 0:
            continue
        rows, cols = pixels.rows[offset : offset + count], pixels.cols[offset : offset + count]
        offset += count
        outputs.append(sample_points(feature[image : image + 1], rows[None], cols[None], resolution)[0].t())
    if not outputs:
        return feature.new_zeros(0, feature.shape[1])
    return torch.cat(outputs) if len(outputs) > 1 else outputs[0]


@dataclass(frozen=True)
class LinearTaps:
    """Bilinear weights along one axis: ``out[i] = w0[i] * in[i0[i]] + w1[i] * in[i1[i]]``."""

    i0: torch.Tensor
    i1: torch.Tensor
    w0: torch.Tensor
    w1: torch.Tensor


def linear_taps(in_size: int, out_size: int, device: torch.device | None = None) -> LinearTaps:
    """Source indices and weights per output index as ``F.interpolate`` (bilinear, align_corners=False)."""
    scale = in_size / out_size
    src = ((torch.arange(out_size, dtype=torch.float64, device=device) + 0.5) * scale - 0.5).clamp(min=0.0)
    i0 = src.floor().long().clamp(max=in_size - 1)
    i1 = torch.where(i0 < in_size - 1, i0 + 1, i0)
    w1 = (src - i0.double()).float()
    return LinearTaps(i0=i0, i1=i1, w0=1.0 - w1, w1=w1)


def interpolation_matrix(in_size: int, out_size: int, device: torch.device | None = None) -> torch.Tensor:
    """The ``[out, in]`` matrix of ``linear_taps``: multiplying by it resamples one axis bilinearly."""
    taps = linear_taps(in_size, out_size, device)
    matrix = torch.zeros(out_size, in_size, device=device)
    rows = torch.arange(out_size, device=device)
    matrix.index_put_((rows, taps.i0), taps.w0, accumulate=True)
    matrix.index_put_((rows, taps.i1), taps.w1, accumulate=True)
    return matrix


def resample_rows(feature: torch.Tensor, rows: slice, resolution: int) -> torch.Tensor:
    """Rows ``rows`` of ``feature [B, C, h, w]`` resampled bilinearly to ``resolution``: ``[B, C, r, R]``.

    Equal (up to float rounding) to slicing ``F.interpolate(feature, (R, R), mode="bilinear",
    align_corners=False)`` without building the rest of the map. Rows: a product with the band's
    block of the interpolation matrix (only the source rows the band reads). Columns: a product
    with the column interpolation matrix for narrow maps (at most ``DENSE_RESAMPLE_WIDTH``), else
    ``F.interpolate`` on the band (its row mapping is the identity when the row count is unchanged).
    """
    height, width = feature.shape[-2:]
    dtype = feature.dtype
    if height == resolution:
        band = feature[:, :, rows]
    else:
        along_rows = interpolation_matrix(height, resolution, feature.device)[rows].to(dtype)
        used = along_rows.abs().sum(dim=0).nonzero()
        low, high = int(used.min()), int(used.max()) + 1
        band = torch.matmul(along_rows[:, low:high], feature[:, :, low:high])
    if width == resolution:
        return band
    if width <= DENSE_RESAMPLE_WIDTH:
        return torch.matmul(band, interpolation_matrix(width, resolution, feature.device).to(dtype).t())
    return F.interpolate(band, size=(band.shape[2], resolution), mode="bilinear", align_corners=False)


class MemberNorm(nn.Module):
    """Per-member normalisation (BatchNorm, LayerNorm or identity) of pixel lists or image maps."""

    def __init__(self, kind: NormKind, members: int, width: int) -> None:
        super().__init__()
        self.kind = kind
        self.members = members
        self.width = width
        if kind == "batch":
            self.bn = nn.BatchNorm1d(members * width)
        elif kind == "layer":
            self.weight = nn.Parameter(torch.ones(members, width))
            self.bias = nn.Parameter(torch.zeros(members, width))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Normalise ``x [P, M, H]``: each (member, unit) over pixels, or each member's units per pixel."""
        if self.kind == "batch":
            return self.bn(x.reshape(x.shape[0], -1)).reshape(x.shape)
        if self.kind == "layer":
            return F.layer_norm(x, (self.width,)) * self.weight + self.bias
        return x

    def forward_image(self, x: torch.Tensor, members: slice) -> torch.Tensor:
        """Normalise ``x [B, m, H, N]``: the units of the members ``members`` at ``N`` pixels."""
        if self.kind == "batch":
            units = slice(members.start * self.width, members.stop * self.width)
            bn = self.bn
            assert bn.running_mean is not None and bn.running_var is not None
            use_batch = self.training or not bn.track_running_stats
            flat = x.reshape(x.shape[0], -1, x.shape[3])
            normed = F.batch_norm(
                flat,
                bn.running_mean[units],
                bn.running_var[units],
                bn.weight[units],
                bn.bias[units],
                use_batch,
                bn.momentum or 0.0,
                bn.eps,
            )
            return normed.reshape(x.shape)
        if self.kind == "layer":
            mean = x.mean(dim=2, keepdim=True)
            var = x.var(dim=2, unbiased=False, keepdim=True)
            return (x - mean) * torch.rsqrt(var + 1e-5) * self.weight[members, :, None] + self.bias[
                members, :, None
            ]
        return x


class SegmentationBranch(nn.Module):
    """Ensemble of independent per-pixel MLPs over all synthesis features (see module docstring)."""

    def __init__(self, config: BranchConfig, seed: int | None = None) -> None:
        super().__init__()
        self.config = config
        self.chunk_pixels = DEFAULT_CHUNK_PIXELS
        self.chunk_bytes = DEFAULT_CHUNK_BYTES
        members, widths = config.num_members, config.hidden_widths
        rng = torch.Generator().manual_seed(seed) if seed is not None else None
        first = widths[0]
        channels = config.feature_channels
        self.first_weight = nn.Parameter(_init_weight((members * first, channels), channels, rng))
        self.first_bias = nn.Parameter(torch.zeros(members * first))
        self.norms = nn.ModuleList()
        self.weights = nn.ParameterList()
        self.biases = nn.ParameterList()
        outs = [*widths[1:], config.num_labels]
        for width_in, width_out in zip(widths, outs, strict=True):
            self.norms.append(MemberNorm(config.norm, members, width_in))
            self.weights.append(nn.Parameter(_init_weight((members, width_out, width_in), width_in, rng)))
            self.biases.append(nn.Parameter(torch.zeros(members, width_out)))
        offsets = np.cumsum([0] + [s[0] for s in config.feature_shapes]).tolist()
        self._channel_slices = [slice(a, b) for a, b in itertools.pairwise(offsets)]

    # --- building blocks -------------------------------------------------------------------

    def check_features(self, features: Sequence[torch.Tensor]) -> None:
        """Raise ``BranchError`` unless ``features`` match the config's feature shapes."""
        got = [tuple(f.shape[1:]) for f in features]
        if got != list(self.config.feature_shapes):
            raise BranchError(
                f"features have shapes {got}, branch expects {list(self.config.feature_shapes)}"
            )
        if len({f.shape[0] for f in features}) != 1:
            raise BranchError("feature maps disagree on the batch size")

    def first_layer_from_pixel_features(self, pixel_features: torch.Tensor) -> torch.Tensor:
        """First layer on explicit pixel features ``[P, C]`` (or one set per member, ``[M, P, C]``).

        Returns the pre-activation ``[P, M, h1]``.
        """
        members, first = self.config.num_members, self.config.hidden_widths[0]
        if pixel_features.ndim == 2:
            out = F.linear(pixel_features, self.first_weight, self.first_bias)
            return out.reshape(-1, members, first)
        weight = self.first_weight.reshape(members, first, -1)
        out = torch.baddbmm(
            self.first_bias.reshape(members, 1, first), pixel_features, weight.transpose(1, 2)
        )
        return out.transpose(0, 1)

    def tail(self, hidden: torch.Tensor) -> torch.Tensor:
        """Everything after the first linear layer: ``[P, M, h1]`` -> member logits ``[M, P, L]``."""
        x = hidden
        for norm, weight, bias in zip(self.norms, self.weights, self.biases, strict=True):
            x = norm(F.relu(x))
            x = torch.einsum("pmi,moi->pmo", x, weight) + bias
        return x.transpose(0, 1)

    def tail_image(self, hidden: torch.Tensor, members: slice) -> torch.Tensor:
        """``tail`` on image maps: ``[B, m*h1, r, R]`` of ``members`` -> logits ``[B, m, L, r, R]``."""
        batch, _, rows, cols = hidden.shape
        count = members.stop - members.start
        x = hidden.reshape(batch, count, -1, rows * cols)
        for norm, weight, bias in zip(self.norms, self.weights, self.biases, strict=True):
            assert isinstance(norm, MemberNorm)
            x = norm.forward_image(F.relu(x), members)
            x = torch.matmul(weight[members], x) + bias[members, :, None]
        return x.reshape(batch, count, self.config.num_labels, rows, cols)

    def logits_from_pixel_features(self, pixel_features: torch.Tensor) -> torch.Tensor:
        """Member logits ``[M, P, L]`` for explicit pixel features ``[P, C]`` (reference path)."""
        return self.tail(self.first_layer_from_pixel_features(pixel_features))

    def _project(self, feature: torch.Tensor, index: int, units: slice | None = None) -> torch.Tensor:
        """First-layer weights (no bias) of tap ``index`` applied at every position: ``[B, units, h, w]``."""
        weight = self.first_weight[:, self._channel_slices[index]]
        if units is not None:
            weight = weight[units]
        batch, _, height, width = feature.shape
        return torch.matmul(weight, feature.reshape(batch, feature.shape[1], -1)).reshape(
            batch, -1, height, width
        )

    def _image_logits(self, features: Sequence[torch.Tensor]) -> torch.Tensor:
        """Member logits ``[B, M, L, R, R]`` for every pixel (see ``_image_logit_groups``)."""
        groups = list(self._image_logit_groups(features))
        return torch.cat(groups, dim=1) if len(groups) > 1 else groups[0]

    def _image_logit_groups(self, features: Sequence[torch.Tensor]) -> Iterator[torch.Tensor]:
        """Member logits for every pixel, one group of members ``[B, m, L, R, R]`` at a time.

        Taps smaller than the output are projected by the first layer at native size (summed per
        size) and the projection is resampled; larger or equal taps are resampled, then projected.
        Each (member group, row band) holds at most about ``chunk_bytes`` of first-layer output.
        """
        resolution, first, members = (
            self.config.resolution,
            self.config.hidden_widths[0],
            self.config.num_members,
        )
        batch = features[0].shape[0]
        budget = max(1, self.chunk_bytes // features[0].element_size())
        per_member = batch * first * resolution * resolution
        group = max(1, min(members, budget // per_member))
        band = max(1, min(resolution, budget // (batch * group * first * resolution)))
        for start in range(0, members, group):
            chosen = slice(start, min(start + group, members))
            units = slice(chosen.start * first, chosen.stop * first)
            by_size: dict[tuple[int, int], torch.Tensor] = {}
            direct: list[int] = []
            for index, feature in enumerate(features):
                height, width = feature.shape[-2:]
                if height * width < resolution * resolution:
                    projected = self._project(feature, index, units)
                    key = (height, width)
                    by_size[key] = projected if key not in by_size else by_size[key] + projected
                else:
                    direct.append(index)
            bands = []
            for top in range(0, resolution, band):
                rows = slice(top, min(top + band, resolution))
                bias = self.first_bias[units].reshape(1, -1, 1, 1)
                hidden = bias.expand(batch, -1, rows.stop - rows.start, resolution).clone()
                for projected in by_size.values():
                    hidden.add_(resample_rows(projected, rows, resolution))
                for index in direct:
                    hidden.add_(self._project(resample_rows(features[index], rows, resolution), index, units))
                bands.append(self.tail_image(hidden, chosen))
            yield torch.cat(bands, dim=3) if len(bands) > 1 else bands[0]

    def _pixel_logits(self, features: Sequence[torch.Tensor], pixels: PixelSet, batch: int) -> torch.Tensor:
        """Member logits ``[M, P, L]`` at ``pixels`` only.

        Taps with fewer native pixels than are evaluated per image are projected at native size
        (summed per size) and the projection is read at the pixels; the others are read at the
        pixels and projected there.
        """
        resolution = self.config.resolution
        per_image = max(1, math.ceil(len(pixels) / batch))
        by_size: dict[tuple[int, int], torch.Tensor] = {}
        direct: list[int] = []
        for index, feature in enumerate(features):
            height, width = feature.shape[-2:]
            if height * width < per_image and (height, width) != (resolution, resolution):
                projected = self._project(feature, index)
                key = (height, width)
                by_size[key] = projected if key not in by_size else by_size[key] + projected
            else:
                direct.append(index)
        projections = list(by_size.values())
        members, first = self.config.num_members, self.config.hidden_widths[0]
        chunks = []
        for start in range(0, len(pixels), self.chunk_pixels):
            part = pixels.slice(start, start + self.chunk_pixels)
            hidden = self.first_bias.expand(len(part), -1)
            for projected in projections:
                hidden = hidden + sample_at_pixels(projected, part, resolution)
            for index in direct:
                values = sample_at_pixels(features[index], part, resolution)
                hidden = hidden + F.linear(values, self.first_weight[:, self._channel_slices[index]])
            chunks.append(self.tail(hidden.reshape(-1, members, first)))
        if not chunks:
            return features[0].new_zeros(members, 0, self.config.num_labels)
        return torch.cat(chunks, dim=1)

    # --- public evaluation -----------------------------------------------------------------

    def logits(
        self, features: Sequence[torch.Tensor], pixel_mask: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Member logits ``[B, M, L, H, W]``, or ``[M, P, L]`` at the True pixels of ``pixel_mask [B, H, W]``.

        Masked pixels come in row-major (b, y, x) order, i.e. ``pixel_mask.nonzero()`` order.
        """
        self.check_features(features)
        if pixel_mask is None:
            return self._image_logits(features)
        batch = features[0].shape[0]
        resolution = self.config.resolution
        if pixel_mask.shape != (batch, resolution, resolution) or pixel_mask.dtype != torch.bool:
            raise BranchError(
                f"pixel_mask must be a bool [{batch}, {resolution}, {resolution}] tensor, "
                f"got {pixel_mask.dtype} {list(pixel_mask.shape)}"
            )
        return self._pixel_logits(features, PixelSet.from_mask(pixel_mask.to(features[0].device)), batch)

    def log_probs(
        self, features: Sequence[torch.Tensor], pixel_mask: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Log of the member-averaged probabilities: ``[B, L, H, W]``, or ``[P, L]`` with ``pixel_mask``."""
        logits = self.logits(features, pixel_mask)
        member_dim = 1 if pixel_mask is None else 0
        return ensemble_log_probs(logits, member_dim)

    def predict(self, features: Sequence[torch.Tensor]) -> BranchOutput:
        """Averaged probabilities, argmax labels and Jensen-Shannon uncertainty for every pixel.

        Accumulated one member group at a time: all members' logits never exist at once.
        """
        self.check_features(features)
        prob_sum: torch.Tensor | None = None
        entropy_sum: torch.Tensor | None = None
        for logits in self._image_logit_groups(features):
            log_probs = F.log_softmax(logits, dim=2)
            probs = log_probs.exp()
            group_probs = probs.sum(dim=1)
            group_entropy = -(probs * log_probs).sum(dim=(1, 2))
            prob_sum = group_probs if prob_sum is None else prob_sum + group_probs
            entropy_sum = group_entropy if entropy_sum is None else entropy_sum + group_entropy
        assert prob_sum is not None and entropy_sum is not None
        members = self.config.num_members
        mean_probs = prob_sum / members
        mixture_entropy = -torch.xlogy(mean_probs, mean_probs).sum(dim=1)
        uncertainty = (mixture_entropy - entropy_sum / members).clamp(min=0.0)
        return BranchOutput(probs=mean_probs, labels=mean_probs.argmax(dim=1), uncertainty=uncertainty)


def _init_weight(shape: tuple[int, ...], fan_in: int, rng: torch.Generator | None) -> torch.Tensor:
    """He-normal initial weights (independent per member)."""
    return torch.randn(shape, generator=rng) * math.sqrt(2.0 / fan_in)


def ensemble_log_probs(logits: torch.Tensor, member_dim: int) -> torch.Tensor:
    """``log(mean_m softmax(logits_m))`` computed stably; the label axis is the one after ``member_dim``
    for image logits ``[B, M, L, H, W]`` and the last axis for pixel logits ``[M, P, L]``."""
    label_dim = -1 if member_dim == 0 else member_dim + 1
    member_log_probs = F.log_softmax(logits, dim=label_dim)
    return torch.logsumexp(member_log_probs, dim=member_dim) - math.log(logits.shape[member_dim])


@torch.no_grad()
def segment(generator: Generator, branch: SegmentationBranch, ws: torch.Tensor) -> BranchOutput:
    """Render ``ws`` and segment it with ``branch`` in eval mode (no gradients)."""
    was_training = branch.training
    branch.eval()
    try:
        _, features = generator.synthesis(ws, noise_mode="const", return_features=True)
        return branch.predict(features)
    finally:
        branch.train(was_training)


@torch.no_grad()
def image_uncertainty(
    generator: Generator,
    branch: SegmentationBranch,
    ws: torch.Tensor,
    batch_size: int = 16,
    progress: ProgressCallback | None = None,
    should_cancel: CancelCheck | None = None,
) -> torch.Tensor:
    """Per-image mean Jensen-Shannon divergence ``[N]`` (nats) of the ensemble on ``ws [N, num_ws, w_dim]``.

    The active-learning score: the images the members disagree on most are worth annotating first.
    ``progress(images done, N, mean score so far)`` is called after each batch.
    """
    if ws.ndim != 3 or ws.shape[0] == 0:
        raise BranchError(f"ws must be a non-empty [N, num_ws, w_dim] tensor, got {list(ws.shape)}")
    scores: list[torch.Tensor] = []
    for start in range(0, ws.shape[0], batch_size):
        check_cancel(should_cancel, "uncertainty scoring")
        batch = ws[start : start + batch_size]
        scores.append(segment(generator, branch, batch).uncertainty.mean(dim=(1, 2)).cpu())
        done = torch.cat(scores)
        report(progress, done.shape[0], ws.shape[0], float(done.mean()))
    return torch.cat(scores)


# --- training --------------------------------------------------------------------------------


@dataclass
class FeatureCache:
    """Synthesis features of the annotated images at native resolution (``[N, C, h, w]`` per tap)."""

    features: list[torch.Tensor]
    labels: torch.Tensor
    pixel_counts: list[int] = field(default_factory=list)


def build_feature_cache(
    generator: Generator, annotations: Sequence[tuple[torch.Tensor, object]], resolution: int
) -> FeatureCache:
    """Render each annotated latent once and keep its native-resolution features and labels."""
    per_tap: list[list[torch.Tensor]] = []
    labels: list[torch.Tensor] = []
    for index, (ws, label_map) in enumerate(annotations):
        label_tensor = torch.as_tensor(np.asarray(label_map)).long()
        if label_tensor.shape != (resolution, resolution):
            raise BranchError(
                f"annotation {index}: label map is {list(label_tensor.shape)}, "
                f"expected {resolution}x{resolution}"
            )
        if ws.ndim == 2:
            ws = ws.unsqueeze(0)
        assert_shape(ws, (1, "num_ws", "w_dim"), f"annotation {index}: ws", BranchError)
        with torch.no_grad():
            _, features = generator.synthesis(ws.float(), noise_mode="const", return_features=True)
        if not per_tap:
            per_tap = [[] for _ in features]
        for store, feature in zip(per_tap, features, strict=True):
            store.append(feature)
        labels.append(label_tensor)
    if not labels:
        raise BranchError("at least one annotation is needed to train a branch")
    return FeatureCache(features=[torch.cat(store) for store in per_tap], labels=torch.stack(labels))


def pixel_feature_table(
    features: Sequence[torch.Tensor], resolution: int, max_bytes: int
) -> torch.Tensor | None:
    """Every pixel's feature vector ``[N * R * R, C]`` (bilinear to ``resolution``); None above ``max_bytes``.

    Row ``n * R * R + y * R + x`` holds pixel (y, x) of image n, the same values
    ``naive_pixel_features`` gives (and ``sample_points`` up to float rounding).
    """
    count = features[0].shape[0]
    channels = sum(int(feature.shape[1]) for feature in features)
    if count * resolution * resolution * channels * features[0].element_size() > max_bytes:
        return None
    table = features[0].new_empty(count, resolution, resolution, channels)
    offset = 0
    for feature in features:
        width = int(feature.shape[1])
        if feature.shape[-2:] != (resolution, resolution):
            feature = F.interpolate(
                feature, size=(resolution, resolution), mode="bilinear", align_corners=False
            )
        table[..., offset : offset + width] = feature.permute(0, 2, 3, 1)
        offset += width
    return table.reshape(-1, channels)


def sample_member_pixels(
    cache: FeatureCache,
    table: torch.Tensor | None,
    rows: torch.Tensor,
    cols: torch.Tensor,
    members: int,
    out: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Features ``[M, N * K, C]`` and labels ``[M, N * K]`` of each member's pixels.

    ``rows``/``cols`` are ``[N, M * K]``: member m takes columns ``m * K:(m + 1) * K`` of each
    image. Read from ``table`` (one gather) when given, else with ``sample_points`` per tap.
    ``out`` (``[M * N * K, C]``, table path only) receives the gathered rows: reusing one buffer
    every step avoids mapping fresh pages for tens of MiB each time (3x faster gathers measured).
    """
    num_images, resolution = cache.labels.shape[0], cache.labels.shape[-1]
    per_image = rows.shape[1] // members
    if table is not None:
        images = torch.arange(num_images, device=rows.device)[:, None] * (resolution * resolution)
        flat = (images + rows * resolution + cols).reshape(num_images, members, per_image).transpose(0, 1)
        order = flat.reshape(-1)
        gathered = torch.index_select(table, 0, order, out=out) if out is not None else table[order]
        features = gathered.reshape(members, num_images * per_image, -1)
        return features, cache.labels.reshape(-1)[order].reshape(members, -1)
    sampled = torch.cat([sample_points(f, rows, cols, resolution) for f in cache.features], dim=1)
    # [N, C, members * per_image] -> [members, N * per_image, C]: each member its own pixels.
    features = sampled.reshape(num_images, -1, members, per_image).permute(2, 0, 3, 1)
    features = features.reshape(members, num_images * per_image, -1)
    images = torch.arange(num_images, device=rows.device)[:, None]
    targets = cache.labels[images, rows, cols].reshape(num_images, members, per_image)
    return features, targets.transpose(0, 1).reshape(members, -1)


def train_branch(
    generator: Generator,
    branch_config_or_branch: BranchConfig | SegmentationBranch,
    annotations: Sequence[tuple[torch.Tensor, object]],
    steps: int = DEFAULT_TRAIN_STEPS,
    pixels_per_step: int = DEFAULT_PIXELS_PER_STEP,
    progress: ProgressCallback | None = None,
    should_cancel: CancelCheck | None = None,
    seed: int = 0,
    learning_rate: float = DEFAULT_LEARNING_RATE,
    schedule: Schedule = DEFAULT_SCHEDULE,
    pixel_table_bytes: int = DEFAULT_PIXEL_TABLE_BYTES,
) -> SegmentationBranch:
    """Train the ensemble on annotated latents by sampling pixel positions each step.

    ``annotations`` holds ``(ws [1, num_ws, w_dim], labels [H, W] ints)`` pairs at the branch
    resolution. Only native-resolution features are cached; each step every member draws its
    own ``ceil(pixels_per_step / N)`` random pixels from each of the N annotated images, so
    members see different data (bagging) as well as different initialisations, and every image
    weighs the same. Cross-entropy, Adam. Returns the branch in eval mode.
    """
    if isinstance(branch_config_or_branch, SegmentationBranch):
        branch = branch_config_or_branch
    else:
        branch = SegmentationBranch(branch_config_or_branch, seed=seed)
    config = branch.config
    if steps < 1 or pixels_per_step < 1:
        raise BranchError("steps and pixels_per_step must be positive")
    if config.norm == "batch" and pixels_per_step < 2:
        raise BranchError("BatchNorm needs at least 2 pixels per step")
    cache = build_feature_cache(generator, annotations, config.resolution)
    branch.check_features(cache.features)
    if int(cache.labels.min()) < 0 or int(cache.labels.max()) >= config.num_labels:
        raise BranchError(
            f"labels must lie in [0, {config.num_labels}), "
            f"got [{int(cache.labels.min())}, {int(cache.labels.max())}]"
        )
    rng = torch.Generator().manual_seed(seed)
    members, resolution = config.num_members, config.resolution
    num_images = cache.labels.shape[0]
    per_image = max(1, math.ceil(pixels_per_step / num_images))
    device = cache.features[0].device
    cache.labels = cache.labels.to(device)
    table = pixel_feature_table(cache.features, resolution, pixel_table_bytes)
    buffer = None if table is None else table.new_empty(members * num_images * per_image, table.shape[1])
    branch.to(device)
    optimizer = torch.optim.Adam(branch.parameters(), lr=learning_rate)
    branch.train()
    for step in range(steps):
        check_cancel(should_cancel, "branch training")
        if schedule == "cosine":
            for group in optimizer.param_groups:
                group["lr"] = learning_rate * 0.5 * (1.0 + math.cos(math.pi * step / steps))
        rows = torch.randint(0, resolution, (num_images, members * per_image), generator=rng).to(device)
        cols = torch.randint(0, resolution, (num_images, members * per_image), generator=rng).to(device)
        member_features, targets = sample_member_pixels(cache, table, rows, cols, members, buffer)
        logits = branch.tail(branch.first_layer_from_pixel_features(member_features))
        loss = F.cross_entropy(logits.reshape(-1, config.num_labels), targets.reshape(-1)) * members
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        report(progress, step + 1, steps, loss.item() / members)
    return branch.eval()


# --- files -----------------------------------------------------------------------------------


def branch_weights_bytes(branch: SegmentationBranch) -> bytes:
    """The branch's ``branch.safetensors`` file (its state dict on the CPU) as bytes."""
    return save({k: v.detach().cpu().contiguous() for k, v in branch.state_dict().items()})


def save_branch(
    path: str | Path, branch: SegmentationBranch, metadata: dict[str, object] | None = None
) -> Path:
    """Write ``branch.json`` (config + metadata) and ``branch.safetensors`` into directory ``path``."""
    directory = Path(path)
    directory.mkdir(parents=True, exist_ok=True)
    tmp_weights = directory / (BRANCH_WEIGHTS_FILE + ".tmp")
    tmp_weights.write_bytes(branch_weights_bytes(branch))
    tmp_weights.replace(directory / BRANCH_WEIGHTS_FILE)
    document = {"format": BRANCH_FORMAT, "branch": branch.config.to_dict(), "metadata": metadata or {}}
    tmp_config = directory / (BRANCH_CONFIG_FILE + ".tmp")
    tmp_config.write_text(json.dumps(document, indent=2, sort_keys=True))
    tmp_config.replace(directory / BRANCH_CONFIG_FILE)
    return directory


def read_branch_metadata(path: str | Path) -> dict[str, object]:
    """The metadata dict stored with a saved branch."""
    metadata = _read_branch_document(Path(path)).get("metadata")
    return dict(metadata) if isinstance(metadata, dict) else {}


def _read_branch_document(directory: Path) -> dict[str, object]:
    try:
        document = json.loads((directory / BRANCH_CONFIG_FILE).read_text())
    except (OSError, json.JSONDecodeError) as error:
        raise BranchError(f"cannot read {directory / BRANCH_CONFIG_FILE}: {error}") from error
    if not isinstance(document, dict) or document.get("format") != BRANCH_FORMAT:
        raise BranchError(f"{directory / BRANCH_CONFIG_FILE} is not a {BRANCH_FORMAT} file")
    return document


def load_branch(
    path: str | Path,
    expected: GeneratorConfig | Sequence[FeatureShape] | None = None,
) -> SegmentationBranch:
    """Load a branch saved by ``save_branch``; refuse it when it does not fit the expected generator.

    The result is in eval mode with gradients off for its own parameters (gradients still flow
    to the features, hence to w+).
    """
    directory = Path(path)
    document = _read_branch_document(directory)
    branch_dict = document.get("branch")
    if not isinstance(branch_dict, dict):
        raise BranchError(f"{directory / BRANCH_CONFIG_FILE} holds no branch config")
    weights = directory / BRANCH_WEIGHTS_FILE
    return branch_from_config(branch_dict, weights, expected, f"branch at {directory}")


def branch_from_config(
    branch_dict: dict[str, object],
    weights_file: str | Path,
    expected: GeneratorConfig | Sequence[FeatureShape] | None = None,
    what: str = "branch",
) -> SegmentationBranch:
    """A branch from its config (``branch.json``'s ``branch``) and weights file; checks as ``load_branch``."""
    config = BranchConfig.from_dict(branch_dict)
    if expected is not None:
        shapes = expected.feature_shapes() if isinstance(expected, GeneratorConfig) else expected
        wanted = [tuple(int(v) for v in s) for s in shapes]
        if list(config.feature_shapes) != wanted:
            raise BranchError(
                f"{what} was trained on features {list(config.feature_shapes)}, "
                f"this generator produces {wanted}"
            )
        if isinstance(expected, GeneratorConfig) and config.resolution != expected.resolution:
            raise BranchError(
                f"branch resolution {config.resolution} differs from the generator's {expected.resolution}"
            )
    try:
        state = load_file(str(weights_file))
    except (OSError, SafetensorError) as error:
        raise BranchError(f"cannot read {weights_file}: {error}") from error
    branch = SegmentationBranch(config)
    try:
        fill_module(branch, state, "segmentation branch")
    except CheckpointError as error:
        raise BranchError(str(error)) from error
    return branch.eval().requires_grad_(False)
