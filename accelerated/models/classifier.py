"""A noisy classifier p_φ(y | x_t, t) on 2-D class-conditional Gaussian-mixture data, and classifier-guided
sampling with it (cfg.classifier_guidance; 03: "a separately-trained classifier p(y|x)").

The equations are not re-derived here: the guided score is `accelerated.guidance.classifier_guided_score`, the
unconditional score the mixture oracle `accelerated.optimal.optimal_prediction(target="score")`, and the sampler
the reverse-SDE Euler–Maruyama `accelerated.sde.euler_maruyama_sample` on the VP path (t = 0 data, t = 1 noise).
The classifier is trained on x_t = a(t) x + b(t) z of that path with cross-entropy.

The exact posterior of the VP path comes from `accelerated.cond.class_posterior` (rectified-flow path) by a change
of scale: x^vp = a x + b z = (a + b)·((1 − τ) x + τ z) with τ = b/(a + b), so p_vp(y | x_t) = p_rf(y | x_t/(a + b), τ).
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn as nn

from genspec.accelerated.cond import class_posterior
from genspec.accelerated.family import coefficients
from genspec.accelerated.guidance import classifier_guided_score
from genspec.accelerated.optimal import optimal_prediction
from genspec.accelerated.sde import euler_maruyama_sample

from .conditional import TimeFeatures

PATH = "vp"


@dataclass
class ClassifierConfig:
    num_classes: int = 3
    x_dim: int = 2
    hidden: int = 64
    time_dim: int = 16


class NoisyClassifier(nn.Module):
    """logits of p_φ(y | x_t, t): an MLP on [x_t, sinusoidal features of t]."""

    def __init__(self, cfg: ClassifierConfig):
        super().__init__()
        self.time = TimeFeatures(cfg.time_dim)
        self.net = nn.Sequential(nn.Linear(cfg.x_dim + cfg.time_dim, cfg.hidden), nn.SiLU(),
                                 nn.Linear(cfg.hidden, cfg.hidden), nn.SiLU(), nn.Linear(cfg.hidden, cfg.num_classes))

    def forward(self, x_t: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        return self.net(torch.cat([x_t, self.time(t)], dim=1))


def sample_mixture(gm: dict, n: int, generator: torch.Generator):
    """(x, y): component k ~ weights, x ~ N(μ_k, Σ_k), y = labels[k]."""
    k = torch.multinomial(gm["weights"], n, replacement=True, generator=generator)
    L = torch.linalg.cholesky(gm["covs"])
    z = torch.randn(n, gm["means"].shape[1], generator=generator, dtype=gm["means"].dtype)
    return gm["means"][k] + torch.einsum("nij,nj->ni", L[k], z), gm["labels"][k]


def _ab(t: torch.Tensor):
    a, b, _, _ = coefficients(t, path=PATH, target="epsilon")
    return a, b


def train_classifier(gm: dict, steps: int = 600, batch: int = 512, lr: float = 3e-3, seed: int = 0,
                     t_min: float = 1e-3) -> NoisyClassifier:
    """Cross-entropy of p_φ(y | a(t) x + b(t) z, t), t ~ U[t_min, 1], on the VP path."""
    g = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    C = int(gm["labels"].max()) + 1
    model = NoisyClassifier(ClassifierConfig(num_classes=C, x_dim=gm["means"].shape[1])).double()
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    for _ in range(steps):
        x, y = sample_mixture(gm, batch, g)
        t = t_min + (1 - t_min) * torch.rand(batch, generator=g, dtype=x.dtype)
        a, b = _ab(t)
        x_t = a[:, None] * x + b[:, None] * torch.randn(x.shape, generator=g, dtype=x.dtype)
        loss = nn.functional.cross_entropy(model(x_t, t), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
    return model.eval()


def exact_log_posterior(gm: dict):
    """log p_vp(y | x_t, t) from the mixture (the exact noisy classifier), via the rf posterior at τ = b/(a + b)."""
    def log_p(x_t: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        a, b = _ab(t)
        s = (a + b)[:, None]
        return torch.log(class_posterior(x_t / s, b / (a + b), gm["weights"], gm["means"], gm["covs"], gm["labels"]))
    return log_p


def classifier_gradient(log_p, x_t: torch.Tensor, t: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """∇_{x_t} log p_φ(y | x_t, t) by autograd (log_p returns (n, C) log-probabilities or logits)."""
    with torch.enable_grad():
        x = x_t.detach().requires_grad_(True)
        out = log_p(x, t)
        lp = torch.log_softmax(out, dim=1).gather(1, y[:, None]).sum()
        (grad,) = torch.autograd.grad(lp, x)
    return grad


def guided_samples(gm: dict, log_p, y: torch.Tensor, s: float, steps: int = 200, seed: int = 1,
                   t_min: float = 1e-3) -> torch.Tensor:
    """Reverse-SDE samples with the guided score ∇log p_t(x_t) + s ∇log p_φ(y | x_t) (cfg.classifier_guidance)."""
    g = torch.Generator().manual_seed(seed)
    n, d = y.shape[0], gm["means"].shape[1]
    ones = torch.ones(1, dtype=gm["means"].dtype)
    a1, b1 = _ab(ones)
    x, _ = sample_mixture(gm, n, g)
    x1 = a1 * x + b1 * torch.randn(n, d, generator=g, dtype=x.dtype)
    noise = torch.randn(steps, n, d, generator=g, dtype=x.dtype)

    def score(x_t, t):
        t = t.clamp_min(t_min)
        base = optimal_prediction(x_t, t, gm["weights"], gm["means"], gm["covs"], target="score", path=PATH)
        return classifier_guided_score(base, classifier_gradient(log_p, x_t, t, y), s)
    return euler_maruyama_sample(score, x1, noise, PATH)


def adherence(gm: dict, x: torch.Tensor, y: torch.Tensor) -> float:
    """The fraction of samples whose most probable class under the data's exact p(y | x) is y."""
    p = class_posterior(x, torch.zeros(x.shape[0], dtype=x.dtype), gm["weights"], gm["means"], gm["covs"],
                        gm["labels"])
    return float((p.argmax(dim=1) == y).double().mean())
