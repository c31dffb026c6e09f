"""A class-conditional velocity network f(x_t, y, t) for 2-D toy data, trained with conditioning dropout (CFG).

The equations are not written here: the loss is `accelerated.cond.conditional_rf_loss` (clause cond.loss), the
dropout `accelerated.cfg.drop_labels` (cfg.dropout) and guided sampling `accelerated.cfg.guided_euler_sample`
(cfg.guided_euler: one batched call of 2B rows per step), so each equation lives in one place.

Conventions: the null label y_∅ is the extra class index C (spec default null_label = extra_class), so the label
table has C + 1 rows; t is given per row, shape (n,), t = 0 data and t = 1 noise (rectified flow).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import cast

import torch
import torch.nn as nn

from genspec.accelerated.cfg import drop_labels, guided_euler_sample
from genspec.accelerated.cond import conditional_rf_loss


@dataclass
class ConditionalMLPConfig:
    num_classes: int = 3
    x_dim: int = 2
    hidden: int = 64
    depth: int = 3          # hidden layers
    label_dim: int = 32
    time_dim: int = 32      # sinusoidal features of t
    block_rows: int = 2048  # rows per block of a forward pass on CPU (0: one block); see ConditionalVelocityMLP.forward


class TimeFeatures(nn.Module):
    """[sin(2π f_j t), cos(2π f_j t)], dim/2 frequencies f_j geometric from 1/2 to 64 cycles per unit time."""

    freqs: torch.Tensor  # a buffer

    def __init__(self, dim: int):
        super().__init__()
        self.register_buffer("freqs", 2 * math.pi * torch.logspace(-1.0, 6.0, dim // 2, base=2.0))

    def forward(self, t: torch.Tensor) -> torch.Tensor:
        args = t[:, None] * self.freqs[None]
        return torch.cat([torch.sin(args), torch.cos(args)], dim=1)


class ConditionalVelocityMLP(nn.Module):
    """f(x_t, y, t) = MLP([x_t, E[y], φ(t)]); E has C + 1 rows, row C being the null label y_∅."""

    def __init__(self, config: ConditionalMLPConfig | None = None):
        super().__init__()
        c = config or ConditionalMLPConfig()
        self.config = c
        self.label = nn.Embedding(c.num_classes + 1, c.label_dim)   # + 1: the null label y_∅ = C
        self.time = TimeFeatures(c.time_dim)
        layers, width = [], c.x_dim + c.label_dim + c.time_dim
        for _ in range(c.depth):
            layers += [nn.Linear(width, c.hidden), nn.SiLU()]
            width = c.hidden
        layers.append(nn.Linear(width, c.x_dim))
        self.net = nn.Sequential(*layers)

    def forward(self, x_t: torch.Tensor, y: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        """Rows are independent, so a large batch is evaluated in blocks of config.block_rows rows: each block's
        activations (2048 × 64 float32 = 512 KiB) stay in the L2 cache and are reused by the allocator. One pass over
        8192 rows instead allocates 2 MiB activations that glibc's malloc returns to the kernel on free and that are
        page-faulted in again on the next call (1500–1900 minor page faults per call measured, none in blocks or with
        glibc told to keep freed memory: benchmarks/guided_step.py), which made 2B rows cost 2.7× (issue 15) to 6×
        B rows and a batched guided step slower than two calls of B. CPU only: a GPU has its caching allocator, and
        blocks would only add kernel launches."""
        rows = self.config.block_rows
        if rows and x_t.shape[0] > rows and x_t.device.type == "cpu":
            return torch.cat([self._forward(x_t[i:i + rows], y[i:i + rows], t[i:i + rows])
                              for i in range(0, x_t.shape[0], rows)])
        return self._forward(x_t, y, t)

    def _forward(self, x_t: torch.Tensor, y: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        dt = cast(torch.Tensor, self.net[0].weight).dtype
        h = torch.cat([x_t.to(dt), self.label(y), self.time(t.to(dt))], dim=1)
        return self.net(h).to(x_t.dtype)


def sample_class_mixture(n, weights, means, covs, labels, generator=None):
    """(x, y): component k ~ w, x ~ N(μ_k, Σ_k), y = ℓ_k (class-conditional Gaussian-mixture toy data)."""
    w = torch.as_tensor(weights, dtype=torch.float64)
    k = torch.multinomial(w / w.sum(), n, replacement=True, generator=generator)
    L = torch.linalg.cholesky(torch.as_tensor(covs, dtype=torch.float64))
    z = torch.randn(n, L.shape[-1], generator=generator, dtype=torch.float64)
    x = torch.as_tensor(means, dtype=torch.float64)[k] + torch.einsum("nij,nj->ni", L[k], z)
    return x.float(), torch.as_tensor(labels)[k].long()


@dataclass
class TrainConfig:
    steps: int = 800
    batch: int = 512
    lr: float = 2e-3
    p_uncond: float = 0.1   # cfg.dropout rate: 03's 'e.g., 10%' (the spec default); 04 says 'commonly 50%'
    seed: int = 0


def train_conditional(model: ConditionalVelocityMLP, mixture: dict, config: TrainConfig | None = None) -> list[float]:
    """Rectified-flow training on (x, y) pairs with conditioning dropout; returns the loss per step.

    Each step: (x, y) from the mixture, ỹ = drop_labels(y, u, C, p), z ~ N(0, I), t ~ U[0, 1],
    loss = conditional_rf_loss(model, x, ỹ, z, t). Adam with a cosine learning-rate decay. Seeded.
    """
    c = config or TrainConfig()
    gen = torch.Generator().manual_seed(c.seed)       # every draw of the run comes from this generator
    C = model.config.num_classes
    opt = torch.optim.Adam(model.parameters(), lr=c.lr)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, c.steps)
    losses = []
    for _ in range(c.steps):
        x, y = sample_class_mixture(c.batch, generator=gen, **mixture)
        y = drop_labels(y, torch.rand(c.batch, generator=gen), C, c.p_uncond)
        z = torch.randn(x.shape, generator=gen)
        t = torch.rand(c.batch, generator=gen)
        loss = conditional_rf_loss(model, x, y, z, t)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        losses.append(float(loss.detach()))
    return losses


@torch.no_grad()
def guided_sample(model: ConditionalVelocityMLP, y: torch.Tensor, w: float, T: int = 32, generator=None):
    """x0 from x1 ~ N(0, I) by guided Euler (cfg.guided_euler; w in the default form, off at w = 0)."""
    x1 = torch.randn(y.shape[0], model.config.x_dim, generator=generator)
    return guided_euler_sample(model, x1, y, w, T, model.config.num_classes)
