"""Timing of editing: conditional-optimisation steps per second and edit-vector application latency.

Configurations:

* ``demo``: the bundled model (``--model``, default models/demo) with its branch when
  ``--branch`` is given (else a random branch of the same shape), its discriminator as the
  perceptual distance when it holds one;
* ``256`` and ``512``: random weights with the EditGAN release's channel widths (512 channels up
  to 64 px, then 256, 128, 64; W 512, 8 mapping layers), a random 10-member branch (128-32
  MLPs, 32 labels) and a random discriminator of the same widths as the perceptual distance.

Edit workload (same everywhere): the original label map is background with a centred square
part (10% of the image); the request grows the square by 1/20 of the side; background is a
context label, so the region is the grown square dilated 3 px (about 15% of the image).
Steps/s is measured between progress reports (the first step is warm-up and not counted).
Peak memory is the rise of the process's peak RSS (VmHWM, reset before each measurement) over
the RSS before it, or ``torch.cuda.max_memory_allocated`` on a GPU.

Vector application: 3 random vectors, S scale settings (``--previews``, default 8). The batch
path renders all S in one ``render_with_vectors`` call; the baseline loops over the S settings
one image at a time. Both are timed in the same run (best of ``--repeats``), and so is the batch
path with the fused (grouped) modulated convolution forced on every layer, the generator's only
path before the automatic per-layer choice (``SynthesisNetwork.fused_modconv``). For these three
the process CPU time (user + system, best of the repeats) is reported beside the wall time: on a
shared machine wall time also counts waiting for a core.

Run: ``nice -n 10 .venv/bin/python bench/edit_timing.py [--configs demo,256,512]``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from editing_engine.checkpoints import load_generator
from editing_engine.discriminator import Discriminator, DiscriminatorConfig
from editing_engine.editing import DEFAULT_EDIT, optimize_edit
from editing_engine.generator import Generator, GeneratorConfig
from editing_engine.losses import DiscriminatorFeatureDistance, PerceptualDistance, build_perceptual_distance
from editing_engine.regions import dilate
from editing_engine.segmentation import BranchConfig, SegmentationBranch, load_branch
from editing_engine.vectors import apply_vectors, render_with_vectors

RELEASE_CHANNEL_BASE = 32768


def status_kib(field: str) -> int:
    """A ``/proc/self/status`` memory field in KiB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise KeyError(field)


class PeakMemory:
    """Peak memory rise of a block: GPU allocator peak, or process peak RSS over the starting RSS."""

    def __init__(self, device: torch.device) -> None:
        self.device = device
        self.mib = 0.0

    def __enter__(self) -> PeakMemory:
        if self.device.type == "cuda":
            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
            self.start = torch.cuda.memory_allocated()
        else:
            Path("/proc/self/clear_refs").write_text("5")
            self.start = status_kib("VmRSS") * 1024
        return self

    def __exit__(self, *exc: object) -> None:
        if self.device.type == "cuda":
            torch.cuda.synchronize()
            peak = torch.cuda.max_memory_allocated()
        else:
            peak = status_kib("VmHWM") * 1024
        self.mib = (peak - self.start) / 2**20


def cpu_name() -> str:
    """The CPU model and core count, from /proc/cpuinfo."""
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return f"{line.split(':', 1)[1].strip()} x{os.cpu_count()}"
    return f"{platform.machine()} x{os.cpu_count()}"


def release_like(resolution: int) -> GeneratorConfig:
    """Release widths at ``resolution`` (W 512, 8 mapping layers)."""
    return GeneratorConfig(resolution=resolution, z_dim=512, w_dim=512, mapping_layers=8,
                           channel_base=RELEASE_CHANNEL_BASE, channel_max=512)


def build(name: str, args: argparse.Namespace, device: torch.device
          ) -> tuple[Generator, SegmentationBranch, PerceptualDistance | None, str]:
    """Generator, branch and perceptual distance for one configuration, plus a description."""
    torch.manual_seed(0)
    if name == "demo":
        model = load_generator(args.model)
        generator = model.generator
        if args.branch:
            branch = load_branch(args.branch, model.config)
            what = f"{args.model} + branch {args.branch}"
        else:
            branch = SegmentationBranch(BranchConfig.for_generator(model.config, num_labels=15), seed=0)
            what = f"{args.model} + random branch"
        perceptual = build_perceptual_distance(model)
    else:
        config = release_like(int(name))
        generator = Generator(config)
        branch = SegmentationBranch(BranchConfig.for_generator(config, num_labels=32), seed=0)
        d_config = DiscriminatorConfig(resolution=config.resolution, channel_base=RELEASE_CHANNEL_BASE,
                                       channel_max=512)
        perceptual = DiscriminatorFeatureDistance(Discriminator(d_config))
        what = f"random {name}px, release widths"
    generator = generator.to(device).eval().requires_grad_(False)
    branch = branch.to(device).eval().requires_grad_(False)
    if isinstance(perceptual, torch.nn.Module):
        perceptual = perceptual.to(device)
    return generator, branch, perceptual, what


def square_request(resolution: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Original map (background + centred square of 10% area) and the request growing it."""
    original = torch.zeros(resolution, resolution, dtype=torch.int64)
    side = round(resolution * 0.316)
    start = (resolution - side) // 2
    original[start:start + side, start:start + side] = 1
    edited = original.clone()
    edited[dilate(original == 1, max(1, side // 20))] = 1
    return original, edited


def sync(device: torch.device) -> None:
    """Wait for the GPU (no-op on CPU)."""
    if device.type == "cuda":
        torch.cuda.synchronize()


def time_optimisation(generator: Generator, branch: SegmentationBranch, perceptual: PerceptualDistance | None,
                      steps: int, device: torch.device) -> dict[str, float]:
    """Steps/s of ``optimize_edit`` on the square request and its peak memory."""
    original, edited = square_request(generator.config.resolution)
    ws = generator.mapping(torch.randn(1, generator.config.z_dim, device=device), truncation_psi=0.7)
    stamps: list[float] = []

    def progress(step: int, total: int, loss: float) -> None:
        sync(device)
        stamps.append(time.perf_counter())

    config = replace(DEFAULT_EDIT, steps=steps, context_labels=(0,))
    with PeakMemory(device) as memory:
        result = optimize_edit(generator, branch, ws, edited, perceptual=perceptual, config=config,
                               original_labels=original, progress=progress)
    seconds_per_step = (stamps[-1] - stamps[0]) / (len(stamps) - 1)
    return {"steps_per_s": 1.0 / seconds_per_step, "s_per_step": seconds_per_step,
            "peak_mib": memory.mib, "region_fraction": float(result.region.float().mean())}


def best_time(fn: object, repeats: int, device: torch.device) -> float:
    """Best wall time of ``fn()`` over ``repeats`` runs (after one warm-up)."""
    return best_times(fn, repeats, device)[0]


def best_times(fn: object, repeats: int, device: torch.device) -> tuple[float, float]:
    """Best wall time and best process CPU time (user + system) of ``fn()`` over ``repeats`` runs."""
    assert callable(fn)
    fn()
    walls, cpus = [], []
    for _ in range(repeats):
        sync(device)
        start, start_cpu = time.perf_counter(), time.process_time()
        fn()
        sync(device)
        walls.append(time.perf_counter() - start)
        cpus.append(time.process_time() - start_cpu)
    return min(walls), min(cpus)


def time_application(
    generator: Generator, previews: int, repeats: int, device: torch.device
) -> dict[str, float]:
    """Latency of applying 3 vectors at ``previews`` scale settings: batched render vs a per-image loop."""
    config = generator.config
    ws = generator.mapping(torch.randn(1, config.z_dim, device=device), truncation_psi=0.7)
    vectors = [torch.randn(config.num_ws, config.w_dim, device=device) * 0.2 for _ in range(3)]
    scales = torch.linspace(-2, 2, previews)[:, None].repeat(1, 3) * torch.tensor([1.0, 0.5, -0.5])

    def render_batch() -> torch.Tensor:
        return render_with_vectors(generator, ws, vectors, scales, batch_size=previews)

    add_only = best_time(lambda: apply_vectors(ws, vectors, scales), repeats, device)
    single = best_time(lambda: render_with_vectors(generator, ws, vectors, scales[:1]), repeats, device)
    batch, batch_cpu = best_times(render_batch, repeats, device)
    generator.synthesis.fused_modconv = True
    batch_fused, batch_fused_cpu = best_times(render_batch, repeats, device)
    generator.synthesis.fused_modconv = None
    loop, loop_cpu = best_times(lambda: [render_with_vectors(generator, ws, vectors, row) for row in scales],
                                repeats, device)
    return {"apply_only_ms": add_only * 1e3, "one_image_ms": single * 1e3, "batch_ms": batch * 1e3,
            "batch_fused_ms": batch_fused * 1e3, "loop_ms": loop * 1e3, "loop_over_batch": loop / batch,
            "batch_cpu_ms": batch_cpu * 1e3, "batch_fused_cpu_ms": batch_fused_cpu * 1e3,
            "loop_cpu_ms": loop_cpu * 1e3, "previews": previews}


def main() -> None:
    """Run the configured measurements and print a table (and JSON with ``--json``)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--configs", default="demo,256,512")
    parser.add_argument("--model", type=Path, default=Path("models/demo"))
    parser.add_argument("--branch", type=Path)
    parser.add_argument("--steps", type=int, default=6, help="optimisation steps (first is warm-up)")
    parser.add_argument("--previews", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--threads", type=int, default=0, help="torch CPU threads (0 = default)")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    hardware = torch.cuda.get_device_name(device) if device.type == "cuda" else cpu_name()
    load = Path("/proc/loadavg").read_text().split()[0]
    print(f"# {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {hardware}, torch {torch.__version__}, "
          f"{torch.get_num_threads()} threads, load average {load} at start")
    rows = []
    for name in args.configs.split(","):
        generator, branch, perceptual, what = build(name, args, device)
        optimisation = time_optimisation(generator, branch, perceptual, args.steps, device)
        application = time_application(generator, args.previews, args.repeats, device)
        row = {"config": name, "what": what, "resolution": generator.config.resolution,
               **optimisation, **application}
        rows.append(row)
        print(f"{name:>5} ({what}): {row['steps_per_s']:.3f} steps/s ({row['s_per_step']:.2f} s/step), "
              f"peak +{row['peak_mib']:.0f} MiB, region {row['region_fraction']:.0%} | "
              f"apply {row['apply_only_ms']:.3f} ms, 1 image {row['one_image_ms']:.1f} ms, "
              f"{args.previews} previews batched {row['batch_ms']:.1f} ms vs loop {row['loop_ms']:.1f} ms "
              f"(loop/batch {row['loop_over_batch']:.2f}x; batched with fused modconv "
              f"{row['batch_fused_ms']:.1f} ms; CPU time batched {row['batch_cpu_ms']:.1f}, fused "
              f"{row['batch_fused_cpu_ms']:.1f}, loop {row['loop_cpu_ms']:.1f} ms)", flush=True)
        del generator, branch, perceptual
    if args.json:
        args.json.write_text(json.dumps({"device": hardware, "rows": rows}, indent=2))


if __name__ == "__main__":
    main()
