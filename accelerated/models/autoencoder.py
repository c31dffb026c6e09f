"""KL autoencoder with a patch discriminator (the latent-diffusion first stage; Rombach et al. 2022, SD3's 16-channel
latents): images (3, H, W) → latents (z_channels, H/8, W/8) → images.

    encoder: conv → [ResBlock, ↓2] × levels → ResBlock → GroupNorm, SiLU, conv → (μ, log σ²)
    decoder: conv → ResBlock → [↑2, ResBlock] × levels → GroupNorm, SiLU, conv → x̂
    z = μ + σ ε                                                        (accelerated.vae.reparameterize)
    loss = mean_b Σ |x − x̂|² + β · mean_b KL(N(μ, σ²) ‖ N(0, I)) + λ_adv · L_G(D(x̂))
    KL: accelerated.vae.kl_standard_normal; L_G, L_D: accelerated.gan (non-saturating generator loss, BCE for D).

No perceptual (LPIPS) term: nothing pretrained is downloaded. `AE_CONFIGS` holds the toy 32×32 config of the t2i
job and the notes' 256×256×3 → 32×32×16.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn as nn

from genspec.accelerated.gan import discriminator_bce, generator_loss_non_saturating
from genspec.accelerated.vae import kl_standard_normal, reparameterize
from genspec.spec.vae import LOGVAR_HIGH, LOGVAR_LOW


@dataclass
class AEConfig:
    resolution: int = 32
    in_channels: int = 3
    z_channels: int = 4
    channels: tuple[int, ...] = (32, 64, 128, 128)   # width at each resolution; len − 1 halvings (3 ⇒ 8×)
    groups: int = 8                                  # GroupNorm groups

    @property
    def factor(self) -> int:
        return 2 ** (len(self.channels) - 1)

    @property
    def latent_size(self) -> int:
        return self.resolution // self.factor


AE_CONFIGS: dict[str, AEConfig] = {
    "f8c4-32": AEConfig(32, 3, 4, (16, 32, 64, 64)),                   # the t2i job on CPU: 32×32×3 → 4×4×4
    "f8c4-32-tiny": AEConfig(32, 3, 4, (8, 8, 8, 8), 4),               # tests
    "f8c8-32": AEConfig(32, 3, 8, (32, 64, 128, 128)),                 # the t2i job's gpu preset
    "f8c4-256": AEConfig(256, 3, 4, (128, 256, 512, 512), 32),         # SD 1.x first stage: 256² → 32×32×4
    "f8c16-256": AEConfig(256, 3, 16, (128, 256, 512, 512), 32),       # the notes' 256×256×3 → 32×32×16 (SD3)
}


class ResBlock(nn.Module):
    """x + conv(SiLU(GN(conv(SiLU(GN x))))), a 1×1 conv on the skip when the width changes."""

    def __init__(self, c_in: int, c_out: int, groups: int):
        super().__init__()
        self.net = nn.Sequential(nn.GroupNorm(groups, c_in), nn.SiLU(), nn.Conv2d(c_in, c_out, 3, padding=1),
                                 nn.GroupNorm(groups, c_out), nn.SiLU(), nn.Conv2d(c_out, c_out, 3, padding=1))
        self.skip = nn.Conv2d(c_in, c_out, 1) if c_in != c_out else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.skip(x) + self.net(x)


class Encoder(nn.Module):
    def __init__(self, c: AEConfig):
        super().__init__()
        ch = c.channels
        layers: list[nn.Module] = [nn.Conv2d(c.in_channels, ch[0], 3, padding=1)]
        for i in range(len(ch) - 1):
            layers += [ResBlock(ch[i], ch[i], c.groups), nn.Conv2d(ch[i], ch[i + 1], 3, stride=2, padding=1)]
        layers += [ResBlock(ch[-1], ch[-1], c.groups), nn.GroupNorm(c.groups, ch[-1]), nn.SiLU(),
                   nn.Conv2d(ch[-1], 2 * c.z_channels, 3, padding=1)]
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        mu, logvar = self.net(x).chunk(2, dim=1)
        return mu, logvar.clamp(LOGVAR_LOW, LOGVAR_HIGH)   # the vae clauses' log-variance domain (as SD's clamp)


class Decoder(nn.Module):
    def __init__(self, c: AEConfig):
        super().__init__()
        ch = c.channels[::-1]
        layers: list[nn.Module] = [nn.Conv2d(c.z_channels, ch[0], 3, padding=1), ResBlock(ch[0], ch[0], c.groups)]
        for i in range(len(ch) - 1):
            layers += [nn.Upsample(scale_factor=2, mode="nearest"), nn.Conv2d(ch[i], ch[i + 1], 3, padding=1),
                       ResBlock(ch[i + 1], ch[i + 1], c.groups)]
        layers += [nn.GroupNorm(c.groups, ch[-1]), nn.SiLU(), nn.Conv2d(ch[-1], c.in_channels, 3, padding=1)]
        self.net = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z)


class KLAutoencoder(nn.Module):
    def __init__(self, config: AEConfig | None = None):
        super().__init__()
        self.config = config or AEConfig()
        self.encoder, self.decoder = Encoder(self.config), Decoder(self.config)

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(μ, log σ²), each (B, z_channels, H/f, W/f)."""
        return self.encoder(x)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        return self.decoder(z)

    def forward(self, x: torch.Tensor, eps: torch.Tensor | None = None):
        """(x̂, μ, log σ²) with z = μ + σ ε (ε ~ N(0, I) unless given)."""
        mu, logvar = self.encode(x)
        eps = torch.randn_like(mu) if eps is None else eps
        return self.decode(reparameterize(mu, logvar, eps)), mu, logvar


class PatchDiscriminator(nn.Module):
    """PatchGAN (pix2pix / taming): strided 4×4 convs with LeakyReLU(0.2); one logit per overlapping patch."""

    def __init__(self, in_channels: int = 3, width: int = 64, layers: int = 3):
        super().__init__()
        mods: list[nn.Module] = [nn.Conv2d(in_channels, width, 4, 2, 1), nn.LeakyReLU(0.2)]
        c = width
        for i in range(1, layers):
            c_out = width * min(2 ** i, 8)
            mods += [nn.Conv2d(c, c_out, 4, 2 if i < layers - 1 else 1, 1), nn.GroupNorm(8, c_out), nn.LeakyReLU(0.2)]
            c = c_out
        mods.append(nn.Conv2d(c, 1, 4, 1, 1))
        self.net = nn.Sequential(*mods)

    def logit(self, x: torch.Tensor) -> torch.Tensor:
        """Patch logits flattened to (B · patches,): each patch is one sample of the GAN losses."""
        return self.net(x).flatten()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # D = sigmoid(logit) in float64: the GAN clauses take probabilities, and float64 keeps log D and log(1 − D)
        # finite for |logit| < 36 (float32's sigmoid rounds to 1 from logit ≈ 17)
        return torch.sigmoid(self.logit(x).double())


def reconstruction(x: torch.Tensor, x_hat: torch.Tensor) -> torch.Tensor:
    """mean over the batch of Σ |x − x̂|² (vae.loss's sum of squares, per image)."""
    return (x_hat - x).square().flatten(1).sum(1).mean()


def kl(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """mean over the batch of KL(N(μ, σ²) ‖ N(0, I)) summed over every latent coordinate (vae.kl)."""
    return kl_standard_normal(mu.flatten(1), logvar.flatten(1)).mean()


@dataclass
class AETrainConfig:
    steps: int = 600
    batch: int = 32
    lr: float = 1e-3
    beta: float = 1e-2          # weight of the KL term (a small β: latents close to deterministic, as LDM's 1e-6)
    adv_weight: float = 0.05    # λ_adv: weight of the generator loss
    adv_start: int = 400        # the discriminator joins after this many steps (taming's disc_start)


def ae_losses(ae: KLAutoencoder, disc: PatchDiscriminator, x: torch.Tensor, c: AETrainConfig, adversarial: bool,
              generator: torch.Generator | None = None) -> dict[str, torch.Tensor]:
    """The autoencoder's loss terms on a batch x: rec, kl, adv (0 before the discriminator joins) and total."""
    mu, logvar = ae.encode(x)
    eps = torch.randn(mu.shape, generator=generator, dtype=mu.dtype).to(mu.device)   # CPU generator: same draws on
                                                                                        # every device
    x_hat = ae.decode(reparameterize(mu, logvar, eps))
    rec, k = reconstruction(x, x_hat), kl(mu, logvar)
    adv = generator_loss_non_saturating(disc(x_hat)).float() if adversarial else torch.zeros((), device=x.device)
    return {"rec": rec, "kl": k, "adv": adv, "total": rec + c.beta * k + c.adv_weight * adv, "x_hat": x_hat}


def discriminator_loss(disc: PatchDiscriminator, x: torch.Tensor, x_hat: torch.Tensor) -> torch.Tensor:
    """L_D = BCE(D(x), 1) + BCE(D(x̂), 0) over every patch (gan.discriminator_bce)."""
    return discriminator_bce(disc(x), disc(x_hat.detach())).float()


def reconstruct(ae: KLAutoencoder, x: torch.Tensor) -> torch.Tensor:
    """x̂ = decode(μ): the deterministic reconstruction."""
    return ae.decode(ae.encode(x)[0])

