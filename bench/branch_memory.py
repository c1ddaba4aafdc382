"""Peak memory of the segmentation branch: naive concat-and-upsample vs the low-memory exact path.

Configurations: the release's channel widths (512 channels up to 64 px, then 256, 128, 64 at
128, 256, 512 px), feature taps of every synthesis conv, an ensemble of 10 MLPs 256-128 with
32 labels, batch 1, random weights and random features (memory does not depend on values).

Two workloads per resolution:

* ``display``: labels, averaged probabilities and Jensen-Shannon uncertainty of every pixel, no
  gradients (segmenting an image; ``predict`` on the low-memory side);
* ``edit``: logits at the pixels of a square covering 10% of the image, cross-entropy, and the
  backward pass to the feature maps (one step of edit optimisation, generator excluded).

Each measurement runs in its own subprocess. The peak is the rise of the process's peak resident
set size (VmHWM, reset through /proc/self/clear_refs after the inputs are built) over the resident
size before the computation. Linux only. Run with ``nice -n 10 .venv/bin/python bench/branch_memory.py``.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from editing_engine.generator import GeneratorConfig
from editing_engine.segmentation import BranchConfig, SegmentationBranch, naive_pixel_features

RELEASE_CHANNEL_BASE = 32768  # channels(res) = min(32768 // res, 512): 512 up to 64 px, 256, 128, 64
NAIVE_CHUNK_PIXELS = 16384


def release_like_config(resolution: int) -> GeneratorConfig:
    """A generator config with the release's channel widths at ``resolution``."""
    return GeneratorConfig(
        resolution=resolution,
        z_dim=512,
        w_dim=512,
        mapping_layers=8,
        channel_base=RELEASE_CHANNEL_BASE,
        channel_max=512,
    )


def status_kib(field: str) -> int:
    """A ``kB`` field of /proc/self/status."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"{field} not in /proc/self/status")


def naive_logits(
    branch: SegmentationBranch, features: list[torch.Tensor], mask: torch.Tensor | None
) -> torch.Tensor:
    """The release's way: materialise the concatenated upsampled features, then a per-pixel MLP (chunked)."""
    pixel_features = naive_pixel_features(features, branch.config.resolution)
    flat = pixel_features.permute(0, 2, 3, 1).reshape(-1, pixel_features.shape[1])
    if mask is not None:
        flat = flat[mask.reshape(-1)]
    chunks = [
        branch.logits_from_pixel_features(flat[i : i + NAIVE_CHUNK_PIXELS])
        for i in range(0, flat.shape[0], NAIVE_CHUNK_PIXELS)
    ]
    return torch.cat(chunks, dim=1)


def run_workload(
    branch: SegmentationBranch, features: list[torch.Tensor], path: str, mask: torch.Tensor | None
) -> None:
    """One display (``mask`` None, no gradients) or edit (masked logits, CE, backward) evaluation."""
    if mask is not None:
        logits = naive_logits(branch, features, mask) if path == "naive" else branch.logits(features, mask)
        log_probs = torch.logsumexp(F.log_softmax(logits, dim=-1), dim=0) - math.log(logits.shape[0])
        F.nll_loss(log_probs, torch.zeros(log_probs.shape[0], dtype=torch.long)).backward()
        return
    with torch.no_grad():
        if path == "naive":
            probs = naive_logits(branch, features, None).softmax(dim=-1)
            mean = probs.mean(dim=0)
            mean.argmax(dim=-1)
            (torch.xlogy(probs, probs).sum(dim=-1).mean(dim=0) - torch.xlogy(mean, mean).sum(dim=-1)).clamp(
                min=0
            )
        else:
            branch.predict(features)


def build_inputs(
    resolution: int, workload: str
) -> tuple[SegmentationBranch, list[torch.Tensor], torch.Tensor | None, int]:
    """Random branch, features and (for ``edit``) a 10% square mask at ``resolution``."""
    torch.manual_seed(0)
    config = release_like_config(resolution)
    branch_config = BranchConfig.for_generator(
        config, num_labels=32, num_members=10, hidden_widths=(256, 128)
    )
    branch = SegmentationBranch(branch_config).eval().requires_grad_(False)
    edit = workload == "edit"
    features = [torch.randn(1, *shape).requires_grad_(edit) for shape in config.feature_shapes()]
    mask = None
    if edit:
        side = int(resolution * math.sqrt(0.1))
        mask = torch.zeros(1, resolution, resolution, dtype=torch.bool)
        mask[0, :side, :side] = True
    return branch, features, mask, branch_config.feature_channels


def worker(resolution: int, path: str, workload: str, limit_gib: float) -> dict[str, float]:
    """Warm up on a 32 px copy, build inputs, reset the peak RSS, run, report the peak rise (MiB).

    The address space is capped at ``limit_gib`` (a failed allocation raises instead of waking the
    OOM killer) and this process volunteers to be the OOM killer's first choice.
    """
    limit = int(limit_gib * 2**30)
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    Path("/proc/self/oom_score_adj").write_text("1000")
    warm_branch, warm_features, warm_mask, _ = build_inputs(32, workload)
    run_workload(warm_branch, warm_features, path, warm_mask)
    del warm_branch, warm_features, warm_mask
    branch, features, mask, channels = build_inputs(resolution, workload)
    Path("/proc/self/clear_refs").write_text("5")
    before = status_kib("VmRSS")
    start = time.perf_counter()
    run_workload(branch, features, path, mask)
    seconds = time.perf_counter() - start
    peak = status_kib("VmHWM")
    return {"peak_mib": (peak - before) / 1024, "seconds": seconds, "feature_channels": channels}


def run_worker(resolution: int, path: str, workload: str, limit_gib: float) -> dict[str, float] | str:
    """Run ``worker`` in a fresh subprocess; returns its result or the reason it failed."""
    command = [
        sys.executable,
        __file__,
        "--worker",
        str(resolution),
        path,
        workload,
        "--limit-gib",
        str(limit_gib),
    ]
    # A fixed mmap threshold makes glibc return every large freed block to the OS at once, so the
    # resident size follows the live tensors instead of the allocator's high-water mark.
    env = {**os.environ, "MALLOC_MMAP_THRESHOLD_": "131072"}
    done = subprocess.run(command, capture_output=True, text=True, check=False, env=env)
    if done.returncode != 0:
        return f"failed (exit {done.returncode}): {done.stderr.strip().splitlines()[-1:]}"
    result: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def main() -> None:
    """Measure every (resolution, workload) for both paths and print a table with ratios."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--worker", nargs=3, metavar=("RES", "PATH", "WORKLOAD"))
    parser.add_argument("--resolutions", type=int, nargs="+", default=[256, 512])
    parser.add_argument("--limit-gib", type=float, default=14.0, help="address-space cap per measurement")
    args = parser.parse_args()
    if args.worker:
        torch.set_num_threads(2)
        print(json.dumps(worker(int(args.worker[0]), args.worker[1], args.worker[2], args.limit_gib)))
        return
    if os.nice(0) < 10:
        os.nice(10 - os.nice(0))
    print(
        f"machine: {platform.node()} {platform.machine()}, {os.cpu_count()} cpus, "
        f"{os.sysconf('SC_PAGE_SIZE') * os.sysconf('SC_PHYS_PAGES') / 2**30:.1f} GiB RAM, "
        f"torch {torch.__version__}, date {time.strftime('%Y-%m-%d')}"
    )
    print("ensemble 10 x (C-256-128-32), batch 1, bilinear; peak = rise of peak RSS over the inputs (MiB)")
    print(
        f"{'res':>5} {'C':>6} {'C x R x R MiB':>13} {'workload':>8} {'naive MiB':>10} {'low MiB':>9} "
        f"{'ratio':>6} "
        f"{'naive s':>8} {'low s':>7}"
    )
    for resolution in args.resolutions:
        for workload in ("display", "edit"):
            naive = run_worker(resolution, "naive", workload, args.limit_gib)
            low = run_worker(resolution, "low", workload, args.limit_gib)
            if isinstance(naive, str) or isinstance(low, str):
                print(f"{resolution:>5} {workload:>8} naive: {naive} low: {low}")
                continue
            print(
                f"{resolution:>5} {int(low['feature_channels']):>6} "
                f"{low['feature_channels'] * resolution**2 * 4 / 2**20:>13.0f} {workload:>8} "
                f"{naive['peak_mib']:>10.0f} "
                f"{low['peak_mib']:>9.0f} {naive['peak_mib'] / max(low['peak_mib'], 1e-9):>6.1f} "
                f"{naive['seconds']:>8.2f} {low['seconds']:>7.2f}"
            )


if __name__ == "__main__":
    main()
