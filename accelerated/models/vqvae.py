"""A small VQ-VAE (van den Oord et al. 2017; 03: "use a VQ-VAE ... to encode images into a grid of discrete tokens"):
encoder → nearest codebook entry → decoder, for 32×32×3 images and an 8×8 grid of tokens.

The equations live in accelerated/vq.py: `quantize` (vq.quantize, ties by the lowest index), `straight_through_value`
(vq.straight_through: z + sg[z_q − z]), `commitment_loss` (vq.loss, β = 0.25 by default) and `raster_order`
(ar.raster_order: the token sequence of a grid). vq.loss's two codebook variants are both here (VQConfig.codebook):
- 'loss' (the spec's default): the codebook is a parameter, trained by the codebook term ‖sg[z] − e‖²;
- 'ema' (van den Oord et al. 2017, appendix A.1; VQ-VAE-2): the codebook is not optimised; it follows exponential moving
  averages of the encoder outputs assigned to each entry, with decay γ and Laplace smoothing of the counts:
      N_k ← γ N_k + (1 − γ) n_k,   m_k ← γ m_k + (1 − γ) Σ_{i: k_i = k} z_i,
      Ñ_k = (N_k + ε) / (Σ_j N_j + K ε) · Σ_j N_j,   e_k = m_k / Ñ_k,
  and only the commitment term β‖z − sg[e]‖² reaches the encoder.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn as nn

from genspec.accelerated.vq import commitment_loss, quantize, raster_order, straight_through_value


@dataclass
class VQConfig:
    channels: int = 3
    hidden: int = 64
    code_dim: int = 16          # D, the width of a codebook entry
    codebook_size: int = 32     # K
    downsample: int = 4         # 32×32 → 8×8 tokens (two stride-2 convolutions)
    beta: float = 0.25          # commitment weight (van den Oord et al.)
    codebook: str = "loss"      # vq.loss's variant: "loss" (codebook term) or "ema" (moving averages)
    decay: float = 0.99         # γ of the 'ema' variant (van den Oord et al., appendix A.1)
    eps: float = 1e-5           # ε, the Laplace smoothing of the 'ema' counts (Sonnet's VectorQuantizerEMA)


class VQVAE(nn.Module):
    ema_count: torch.Tensor     # N_k (K,), a buffer of the 'ema' codebook only
    ema_sum: torch.Tensor       # m_k (K, D), likewise

    def __init__(self, cfg: VQConfig):
        super().__init__()
        if cfg.downsample != 4:
            raise ValueError(f"VQVAE: downsample must be 4 (two stride-2 stages); got {cfg.downsample}")
        if cfg.codebook not in ("loss", "ema") or not 0.0 <= cfg.decay < 1.0 or not cfg.eps > 0.0:
            raise ValueError(f"VQVAE: need codebook 'loss' or 'ema', 0 ≤ decay < 1, eps > 0; got {cfg.codebook!r}, "
                             f"{cfg.decay}, {cfg.eps}")
        self.cfg = cfg
        h = cfg.hidden
        self.encoder = nn.Sequential(
            nn.Conv2d(cfg.channels, h // 2, 4, 2, 1), nn.ReLU(),
            nn.Conv2d(h // 2, h, 4, 2, 1), nn.ReLU(),
            nn.Conv2d(h, h, 3, 1, 1), nn.ReLU(),
            nn.Conv2d(h, cfg.code_dim, 1))
        self.codebook = nn.Embedding(cfg.codebook_size, cfg.code_dim)
        nn.init.uniform_(self.codebook.weight, -1.0 / cfg.codebook_size, 1.0 / cfg.codebook_size)
        if cfg.codebook == "ema":
            self.codebook.weight.requires_grad_(False)          # moved by ema_update, not by the optimiser
            # N_k = 1, m_k = e_k: e_k = m_k / N_k holds from the start (no entry is blown up by a tiny count)
            self.register_buffer("ema_count", torch.ones(cfg.codebook_size))
            self.register_buffer("ema_sum", self.codebook.weight.detach().clone())
        self.decoder = nn.Sequential(
            nn.Conv2d(cfg.code_dim, h, 3, 1, 1), nn.ReLU(),
            nn.ConvTranspose2d(h, h // 2, 4, 2, 1), nn.ReLU(),
            nn.ConvTranspose2d(h // 2, h // 2, 4, 2, 1), nn.ReLU(),
            nn.Conv2d(h // 2, cfg.channels, 3, 1, 1))   # linear output: a tanh saturated at the black background
                                                        # (−1) stopped the blue channel from ever learning

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """z_e: (B, D, H/4, W/4)."""
        return self.encoder(x)

    def _flat(self, z: torch.Tensor) -> torch.Tensor:
        return z.permute(0, 2, 3, 1).reshape(-1, z.shape[1])

    def tokens(self, x: torch.Tensor) -> torch.Tensor:
        """The token grid (B, h, w) int64 of images x (B, 3, H, W): nearest codebook entries of z_e."""
        z = self.encode(x)
        B, _, h, w = z.shape
        return quantize(self._flat(z).detach(), self.codebook.weight.detach()).reshape(B, h, w)

    def sequence(self, x: torch.Tensor) -> torch.Tensor:
        """The tokens of x in raster order (B, h·w): left to right, top to bottom."""
        return raster_order(self.tokens(x))

    def decode_tokens(self, k: torch.Tensor) -> torch.Tensor:
        """Images from a token grid (B, h, w) or a raster sequence (B, h·w) of a square grid."""
        if k.ndim == 2:
            side = int(round(k.shape[1] ** 0.5))
            k = k.reshape(k.shape[0], side, side)
        z_q = self.codebook(k).permute(0, 3, 1, 2)
        return self.decoder(z_q)

    def forward(self, x: torch.Tensor):
        """(reconstruction, vq.loss, tokens (B, h, w)); the decoder sees z + sg[z_q − z] (straight-through)."""
        z = self.encode(x)
        B, D, h, w = z.shape
        flat = self._flat(z)
        k = quantize(flat.detach(), self.codebook.weight.detach())
        e = self.codebook(k)
        # 'ema': e does not require grad, so the codebook term ‖sg[z] − e‖² has no gradient and the gradient is the
        # variant's β‖z − sg[e]‖² (the value still includes that constant term: both variants log the same quantity)
        vq = commitment_loss(flat, e, self.cfg.beta, reduction="mse_all_elements")   # per element, as the pixel MSE
        if self.cfg.codebook == "ema" and self.training:
            self.ema_update(flat.detach(), k)
        zq = straight_through_value(flat, e).reshape(B, h, w, D).permute(0, 3, 1, 2)
        return self.decoder(zq), vq, k.reshape(B, h, w)

    @torch.no_grad()
    def ema_update(self, z: torch.Tensor, k: torch.Tensor) -> None:
        """One step of the 'ema' codebook (module docstring): encoder outputs z (n, D) assigned to entries k (n,)."""
        g, K = self.cfg.decay, self.cfg.codebook_size
        onehot = nn.functional.one_hot(k, K).to(z.dtype)                 # (n, K)
        self.ema_count.mul_(g).add_(onehot.sum(0), alpha=1 - g)
        self.ema_sum.mul_(g).add_(onehot.T @ z, alpha=1 - g)
        n = self.ema_count.sum()
        smoothed = (self.ema_count + self.cfg.eps) / (n + K * self.cfg.eps) * n
        self.codebook.weight.copy_(self.ema_sum / smoothed[:, None])

    @torch.no_grad()
    def restart_dead_codes(self, x: torch.Tensor, counts: torch.Tensor) -> int:
        """Re-initialise the codebook entries no encoder output used (counts == 0) at random encoder outputs of x."""
        dead = (counts == 0).nonzero().flatten()
        if dead.numel() == 0:
            return 0
        flat = self._flat(self.encode(x))
        pick = torch.randint(flat.shape[0], (dead.numel(),), device=flat.device)
        self.codebook.weight[dead] = flat[pick]
        if self.cfg.codebook == "ema":                                   # a restarted entry: one sample, itself
            self.ema_count[dead], self.ema_sum[dead] = 1.0, flat[pick]
        return int(dead.numel())


def train_vqvae(images: torch.Tensor, cfg: VQConfig | None = None, steps: int = 1500, batch: int = 64,
                lr: float = 2e-3, seed: int = 0, log=None, on_step=None) -> VQVAE:
    """Adam on ‖x − x̂‖² (mean per pixel) + vq.loss (the 'ema' codebook moves in the forward pass); dead codes
    restarted every 200 steps during the first 3/4. on_step(recon=, vq=) after every step, the losses as detached
    tensors (a progress bar, a loss curve)."""
    cfg = cfg or VQConfig()
    torch.manual_seed(seed)
    g = torch.Generator().manual_seed(seed)
    model = VQVAE(cfg)
    opt = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=lr)
    counts = torch.zeros(cfg.codebook_size)
    for step in range(steps):
        x = images[torch.randint(images.shape[0], (batch,), generator=g)]
        rec, vq, k = model(x)
        recon = (rec - x).square().mean()
        loss = recon + vq
        opt.zero_grad()
        loss.backward()
        opt.step()
        counts += torch.bincount(k.flatten(), minlength=cfg.codebook_size)
        if on_step is not None:
            on_step(recon=recon.detach(), vq=vq.detach())
        if (step + 1) % 200 == 0:
            if step < 3 * steps // 4:
                model.restart_dead_codes(x, counts)
            if log is not None:
                log(f"vqvae step {step + 1}/{steps}: recon {recon.item():.4f} vq {vq.item():.4f} "
                    f"codes used {(counts > 0).sum().item()}/{cfg.codebook_size}")
            counts.zero_()
    return model.eval()
