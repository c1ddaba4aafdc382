"""Training throughput (images/s) of the StyleGAN2 loop with 1 against 2 torch threads, same run.

Builds a fresh run of the default demo network (``default_generator_config``) at ``--resolution``
on procedural faces, then times whole training steps (G phase, D phase, lazy R1 every 16 steps,
EMA, rendering of the real batch included). The thread counts are timed in alternating blocks of
``--steps`` steps so that load from other processes on a shared machine hits both alike. On a
machine whose cores are already busy, OpenMP's spinning threads make 2 threads slower than 1;
on an idle machine 2 threads win. Set ``OMP_WAIT_POLICY=PASSIVE`` to see the passive variant.

Run: ``nice -n 10 .venv/bin/python bench/train_throughput.py [--blocks 2]``.
"""

from __future__ import annotations

import argparse
import tempfile
import time
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


def main() -> None:
    """Parse arguments, warm up, time alternating blocks per thread count and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--resolution", type=int, default=64)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--steps", type=int, default=8, help="steps per timed block")
    parser.add_argument("--blocks", type=int, default=2, help="timed blocks per variant")
    args = parser.parse_args()
    trainer = make_trainer(args.resolution, args.batch)
    print(describe_hardware(torch.device("cpu")).rsplit(",", 1)[0])
    time_steps(trainer, 2)
    rates: dict[int, list[float]] = {1: [], 2: []}
    for _ in range(args.blocks):
        for threads, values in rates.items():
            torch.set_num_threads(threads)
            values.append(time_steps(trainer, args.steps))
            print(f"{threads} thread(s): {values[-1]:.2f} img/s", flush=True)
    mean = {threads: sum(values) / len(values) for threads, values in rates.items()}
    print(f"1 thread {mean[1]:.2f} img/s, 2 threads {mean[2]:.2f} img/s, ratio 2/1 {mean[2] / mean[1]:.2f}")


if __name__ == "__main__":
    main()
