"""How far an imported rosinality generator's output is from rosinality's own forward pass.

The only difference is the 1-pixel border of every upsampling conv (docs/checkpoints.md). The
script builds random-weight generators in rosinality's layout at 8, 16 and 32 px with the test
suite's builder, imports them, and compares PartEdit's synthesis with the test suite's
re-implementation of rosinality's forward pass on 16 seeded latents. The results are
deterministic (seeded) and do not depend on the machine. Run it from the repository root:
``.venv/bin/python bench/checkpoint_border_difference.py``.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from editing_engine.checkpoints import load_generator
from tests.engine.test_checkpoints import (
    ros_generate,
    ros_mapping,
    rosinality_g_ema,
    save_rosinality,
)


def main() -> None:
    """Print output std and difference statistics per resolution."""
    torch.manual_seed(0)
    print("res  out_std  mean_abs_diff  max_abs_diff  frac_over_1_level  interior_max_diff")
    with tempfile.TemporaryDirectory() as tmp:
        for res in (8, 16, 32):
            g_ema = rosinality_g_ema(res, seed=7)
            model = load_generator(save_rosinality(Path(tmp) / f"r{res}.pt", g_ema))
            z = torch.randn(16, 24)
            with torch.no_grad():
                ours = model.generator.synthesis(model.generator.mapping(z), noise_mode="const")
                reference = ros_generate(g_ema, ros_mapping(g_ema, z, 3), res)
            diff = (ours - reference).abs()
            print(f"{res:>3}  {reference.std().item():7.3f}  {diff.mean().item():13.4f}  "
                  f"{diff.max().item():12.3f}  {(diff > 1 / 127.5).float().mean().item():17.3f}  "
                  f"{diff[..., 2:-2, 2:-2].max().item():17.2e}")


if __name__ == "__main__":
    main()
