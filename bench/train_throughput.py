"""Training throughput (images/s) of the StyleGAN2 loop: two variants timed in the same run.

``--compare threads`` (default) times 1 against 2 torch threads; ``--compare modconv`` times the
generator's fused modulated convolution on every layer against the automatic per-layer choice
(``SynthesisNetwork.fused_modconv``, see docs/engine.md "Timing") at ``--threads`` threads.

Builds a fresh run of the default demo network (``default_generator_config``) at ``--resolution``
on procedural faces, then times whole training steps (G phase, D phase, lazy R1 every 16 steps,
EMA, rendering of the real batch included). The variants are timed in alternating blocks of
``--steps`` steps so that load from other processes on a shared machine hits both alike. On a
machine whose cores are already busy, OpenMP's spinning threads make 2 threads slower than 1;
on an idle machine 2 threads win. Set ``OMP_WAIT_POLICY=PASSIVE`` to see the passive variant.

Run: ``nice -n 10 .venv/bin/python bench/train_throughput.py [--blocks 2] [--compare modconv --threads 1]``.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import torch

from editing_engine.training.dataset import open_source
from editing_engine.training.training_loop import (
    Trainer,
    TrainingConfig,
    default_discriminator_config,
    default_generator_config,
    describe_hardware,
)


def make_trainer(resolution: int, batch: int) -> Trainer:
    """A fresh trainer of the default network in a throwaway directory."""
    config = TrainingConfig(resolution=resolution, batch=batch)
    return Trainer(Path(tempfile.mkdtemp()), config, default_generator_config(resolution),
                   default_discriminator_config(resolution), torch.device("cpu"))


def time_steps(trainer: Trainer, steps: int) -> float:
    """Images per second over ``steps`` training steps."""
    source = open_source("procedural", trainer.config.resolution)
    start = time.perf_counter()
    for _ in range(steps):
        trainer.train_step(source)
    return steps * trainer.config.batch / (time.perf_counter() - start)


def thread_variants(trainer: Trainer, threads: int) -> dict[str, Callable[[], None]]:
    """Baseline 1 torch thread, candidate 2 threads."""
    return {"1 thread": lambda: torch.set_num_threads(1), "2 threads": lambda: torch.set_num_threads(2)}


def modconv_variants(trainer: Trainer, threads: int) -> dict[str, Callable[[], None]]:
    """Baseline fused modulated conv everywhere, candidate the automatic per-layer choice."""

    def use(fused: bool | None) -> Callable[[], None]:
        def apply() -> None:
            torch.set_num_threads(threads)
            for generator in (trainer.G, trainer.G_ema):
                generator.synthesis.fused_modconv = fused
        return apply

    return {"fused modconv": use(True), "automatic modconv": use(None)}


COMPARISONS = {"threads": thread_variants, "modconv": modconv_variants}


def main() -> None:
    """Parse arguments, warm up, time alternating blocks per variant and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--resolution", type=int, default=64)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--steps", type=int, default=8, help="steps per timed block")
    parser.add_argument("--blocks", type=int, default=2, help="timed blocks per variant")
    parser.add_argument("--compare", choices=sorted(COMPARISONS), default="threads")
    parser.add_argument("--threads", type=int, default=1, help="torch threads for --compare modconv")
    args = parser.parse_args()
    trainer = make_trainer(args.resolution, args.batch)
    variants = COMPARISONS[args.compare](trainer, args.threads)
    print(describe_hardware(torch.device("cpu")).rsplit(",", 1)[0])
    for setup in variants.values():
        setup()
        time_steps(trainer, 1)
    rates: dict[str, list[float]] = {name: [] for name in variants}
    for _ in range(args.blocks):
        for name, values in rates.items():
            variants[name]()
            values.append(time_steps(trainer, args.steps))
            print(f"{name}: {values[-1]:.2f} img/s", flush=True)
    mean = {name: sum(values) / len(values) for name, values in rates.items()}
    (base, base_rate), (other, other_rate) = mean.items()
    print(f"{base} {base_rate:.2f} img/s, {other} {other_rate:.2f} img/s, ratio {other_rate / base_rate:.2f}")


if __name__ == "__main__":
    main()
