"""GPU memory a worker needs for 256, 512 and 1024 px StyleGAN2 models: computed, not measured.

Builds each generator and discriminator on torch's ``meta`` device (no memory, no compute) in
the StyleGAN2 config-F layout an imported checkpoint has (z/w 512, 8 mapping layers, channel
base 32768, at most 512 channels) and prints, per resolution: the fp32 weights of G and D, the
elements of every synthesis layer's output (what the branch reads and what backpropagation
through synthesis keeps), and an estimate of one worker's peak for an embedding or edit
(batch 1, gradients through G and D): CUDA context + weights + ``keep`` copies of the layer
outputs for each of G and D (the discriminator mirrors the generator's layout) + the branch's
chunk budget. ``keep`` = 5 to 8 tensors per layer output (input, modulated input, pre-noise,
post-bias and post-activation, plus the 2x upsampled input of the first conv of a block).
docs/operations.md ("Sizing") quotes the output.

Run: ``.venv/bin/python bench/gpu_sizing.py``.
"""

from __future__ import annotations

import torch

from editing_engine.discriminator import Discriminator, DiscriminatorConfig
from editing_engine.generator import Generator, GeneratorConfig
from editing_engine.segmentation import DEFAULT_CHUNK_BYTES

CUDA_CONTEXT_GIB = 0.75  # CUDA context, cuDNN/cuBLAS workspaces and allocator slack on a current GPU
KEEP = (5, 8)
GIB = 2**30


def main() -> None:
    """Print the computed figures per resolution."""
    print("res  G weights  D weights  layer outputs  worker peak (computed, GiB)")
    for resolution in (256, 512, 1024):
        config = GeneratorConfig(resolution=resolution, z_dim=512, w_dim=512, mapping_layers=8,
                                 channel_base=32768, channel_max=512)
        with torch.device("meta"):
            generator = Generator(config)
            discriminator = Discriminator(DiscriminatorConfig(resolution=resolution, channel_base=32768,
                                                              channel_max=512))
        tensors = [*generator.parameters(), *generator.buffers()]
        g_bytes = 4 * sum(t.numel() for t in tensors)
        d_bytes = 4 * sum(p.numel() for p in discriminator.parameters())
        outputs = 4 * sum(c * h * w for c, h, w in config.feature_shapes())
        low, high = (CUDA_CONTEXT_GIB + (g_bytes + d_bytes + 2 * keep * outputs + DEFAULT_CHUNK_BYTES) / GIB
                     for keep in KEEP)
        mib = [value / 2**20 for value in (g_bytes, d_bytes, outputs)]
        print(f"{resolution:4d}  {mib[0]:6.0f} MiB {mib[1]:6.0f} MiB {mib[2]:9.0f} MiB"
              f"      {low:4.1f} to {high:4.1f}")


if __name__ == "__main__":
    main()
