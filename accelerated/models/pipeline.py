"""Text-to-image: text → encoder → Euler sampler with batched classifier-free guidance in latent space → decoder.

    c = E(texts),  c_∅ = the denoiser's null text
    v_cfg(x_t, t) = combine(f(x_t, t, c), f(x_t, t, c_∅), w)     one call of f on 2B rows   (cfg.combine, cfg.cost)
    z₀ = Euler from z₁ ~ N(0, I), T steps of x ← x − (1/T) v_cfg(x, t)                       (sampler.euler)
    x = decode(z₀ / scale)

The equations live in accelerated.cfg (cfg_combine: v = (1 + w) v_y − w v_∅, off at w = 0) and
accelerated.sampler (euler_sample); this module only wires them.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any, cast

import torch
import torch.nn as nn

from genspec.accelerated.cfg import cfg_combine, guided_euler_sample
from genspec.accelerated.models.text import TextEmbedding
from genspec.accelerated.sampler import euler_sample


def guided_velocity(denoiser: nn.Module, text: TextEmbedding, null: TextEmbedding, w: float):
    """v_cfg(x_t, t) as a callable for the sampler: ONE batched call f([x; x], [t; t], [c; c_∅]) per step."""
    both = text.cat(null)

    def v(x_t: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        out = denoiser(torch.cat([x_t, x_t]), torch.cat([t, t]), both)
        v_y, v_null = out.float().chunk(2)
        return cfg_combine(v_y, v_null, w).to(x_t.dtype)

    return v


class TextToImage(nn.Module):
    """The whole stack for sampling. latent_scale: the factor that made the training latents unit-variance (LDM's
    scale_factor); latents are divided by it before decoding."""

    def __init__(self, text_encoder: nn.Module, denoiser: nn.Module, autoencoder: nn.Module, latent_scale: float,
                 latent_shape: tuple[int, int, int]):
        super().__init__()
        self.text_encoder, self.denoiser, self.autoencoder = text_encoder, denoiser, autoencoder
        self.latent_scale, self.latent_shape = float(latent_scale), tuple(latent_shape)

    @torch.no_grad()
    def forward(self, texts: list[str], w: float = 0.0, steps: int = 32,
                generator: torch.Generator | None = None) -> torch.Tensor:
        """Images (B, 3, H, W) for the texts at guidance weight w (w = 0: conditional, no guidance)."""
        device = next(self.denoiser.parameters()).device
        z1 = torch.randn((len(texts), *self.latent_shape), generator=generator).to(device)
        return self.decode(euler_sample(self.velocity(self.text_encoder(texts), w), z1, steps))

    def velocity(self, text: TextEmbedding, w: float) -> Callable:
        """v_w(x_t, t): the denoiser guided by these texts against the null text (one batched call of 2B rows)."""
        null = cast(Any, self.denoiser).null_text(len(text), text.tokens.shape[1])
        return guided_velocity(self.denoiser, text, null, w)

    @torch.no_grad()
    def decode(self, z0: torch.Tensor) -> torch.Tensor:
        """Images (B, 3, H, W) in [−1, 1] from scaled latents z₀: decode(z₀ / scale), clamped."""
        return cast(Any, self.autoencoder).decode(z0 / self.latent_scale).clamp(-1, 1)


@torch.no_grad()
def class_guided_sample(denoiser: nn.Module, x1: torch.Tensor, y: torch.Tensor, w: float, steps: int,
                        num_classes: int) -> torch.Tensor:
    """Class-conditional images from x1 by accelerated.cfg.guided_euler_sample (batched CFG, null label =
    num_classes). That clause works on rows (n, d): the images are flattened and the network sees them reshaped."""
    shape = x1.shape[1:]
    f = lambda x_t, y, t: denoiser(x_t.reshape(-1, *shape), t, y).flatten(1)
    return guided_euler_sample(f, x1.flatten(1), y, w, steps, num_classes).reshape(x1.shape)
