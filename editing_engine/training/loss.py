"""StyleGAN2 losses: non-saturating logistic loss, style mixing and lazy R1 regularisation."""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from ..discriminator import Discriminator
from ..generator import Generator
from .augment import diff_augment


@dataclass
class LossSettings:
    """Loss hyper-parameters."""

    r1_gamma: float = 0.1
    style_mixing_prob: float = 0.9
    augment: str = ""


class StyleGAN2Loss:
    """The three training phases: generator main, discriminator main, discriminator R1."""

    def __init__(self, generator: Generator, discriminator: Discriminator, settings: LossSettings) -> None:
        self.G = generator
        self.D = discriminator
        self.settings = settings

    def generate(self, z: torch.Tensor, update_w_avg: bool) -> torch.Tensor:
        """Images for latents ``z``, mixing two latents' styles with probability ``style_mixing_prob``."""
        ws = self.G.mapping(z, update_w_avg=update_w_avg)
        if self.settings.style_mixing_prob > 0:
            num_ws = ws.shape[1]
            cutoff = torch.randint(1, num_ws, (), device=ws.device)
            use_mix = torch.rand((), device=ws.device) < self.settings.style_mixing_prob
            cutoff = torch.where(use_mix, cutoff, torch.full_like(cutoff, num_ws))
            mixed = self.G.mapping(torch.randn_like(z), update_w_avg=False)
            layer = torch.arange(num_ws, device=ws.device)[None, :, None]
            ws = torch.where(layer < cutoff, ws, mixed)
        return self.G.synthesis(ws, noise_mode="random")

    def run_discriminator(self, img: torch.Tensor) -> torch.Tensor:
        """Discriminator logits for ``img`` after the augmentation policy."""
        if self.settings.augment:
            img = diff_augment(img, self.settings.augment)
        return self.D(img)

    def generator_loss(self, z: torch.Tensor) -> torch.Tensor:
        """Non-saturating loss ``softplus(-D(G(z)))``; also updates the running mean w."""
        return F.softplus(-self.run_discriminator(self.generate(z, update_w_avg=True))).mean()

    def discriminator_loss(self, z: torch.Tensor, real: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Logistic loss on fakes and reals: ``(softplus(D(fake)) mean, softplus(-D(real)) mean)``."""
        with torch.no_grad():
            fake = self.generate(z, update_w_avg=False)
        fake_loss = F.softplus(self.run_discriminator(fake)).mean()
        real_loss = F.softplus(-self.run_discriminator(real)).mean()
        return fake_loss, real_loss

    def r1_penalty(self, real: torch.Tensor) -> torch.Tensor:
        """Mean squared gradient norm of D's real logits w.r.t. the real images (R1)."""
        real = real.detach().requires_grad_(True)
        logits = self.run_discriminator(real)
        (grad,) = torch.autograd.grad(logits.sum(), real, create_graph=True)
        return grad.square().sum(dim=[1, 2, 3]).mean()
