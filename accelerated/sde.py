"""The ELBO and SDE views of diffusion in PyTorch (spec/sde.py): the spec's default conventions (σ_t² = β̃_t,
one_based steps). Any device, dtype-preserving; schedules in float64 (float32 on MPS), bfloat16/float16 state in
float32, rounded once.

    vp  f = −½ β(t) x,  g = √β(t),               β(t) = β_min + t (β_max − β_min)
    ve  f = 0,          g = σ(t) √(2 ln(σ_max/σ_min)),  σ(t) = σ_min (σ_max/σ_min)^t
"""
from __future__ import annotations

import math

import torch

from spec import validate as V
from spec.errors import SpecInputError

from ._tensors import upcast
from .cond import choice
from .cond import tensor as _tensor
from .ddpm import _betas, _schedule, _steps
from .family import VE_SIGMA_MAX, VE_SIGMA_MIN, VP_BETA_MAX, VP_BETA_MIN

SDE_PATHS = ("vp", "ve")
MAX_STEPS = 10**5


def _hd(device):
    return torch.float32 if device.type == "mps" else torch.float64


# ---- the ELBO -------------------------------------------------------------------------------------------
def elbo_kl(eps_pred: torch.Tensor, eps: torch.Tensor, t, betas: torch.Tensor) -> torch.Tensor:
    """L_{t−1} = β_t² / (2 β̃_t α_t (1 − ᾱ_t)) ‖ε − ε_θ‖² = β_t / (2 α_t (1 − ᾱ_{t−1})) ‖ε − ε_θ‖², t = 2..T."""
    c = "ddpm.elbo"
    eps_pred, eps = _tensor(c, "eps_pred", eps_pred), _tensor(c, "eps", eps)
    for name, v in (("eps_pred", eps_pred), ("eps", eps)):
        if v.ndim < 1:
            raise SpecInputError(c, name, "an array with at least 1 dimensions", f"shape {tuple(v.shape)}")
    V.same_shape(c, ("eps_pred", "eps"), eps_pred, eps)
    betas = _betas(c, betas)
    t = _steps(c, "t", t, 2, betas.numel(), eps.shape[0], betas.device)
    _, omf, b = _schedule(betas)
    lam = b[t - 1] / (2.0 * (1.0 - b[t - 1]) * omf[t - 1])
    (e, p), dt = upcast(eps, eps_pred)
    sq = (e - p).square().reshape(e.shape[0], -1).sum(dim=1)
    return (lam.to(device=e.device, dtype=sq.dtype) * sq).to(dt)


# ---- the SDE view ---------------------------------------------------------------------------------------
def _state(clause, x, t):
    x = _tensor(clause, "x", x, ndim=2)
    if isinstance(t, (int, float)) and not isinstance(t, bool):
        t = torch.full((x.shape[0],), float(t), dtype=x.dtype, device=x.device)
    t = V.interval(clause, "t", _tensor(clause, "t", t, ndim=1), 0.0, 1.0)
    if t.shape[0] != x.shape[0]:
        raise SpecInputError(clause, "t", f"one time per sample, shape ({x.shape[0]},)", f"shape {tuple(t.shape)}")
    return x, t


def drift_coefficient(t: torch.Tensor, path: str) -> torch.Tensor:
    """k(t) of f(x, t) = k(t) x: −½ β(t) (vp), 0 (ve); in float64 (float32 on MPS)."""
    t = t.to(_hd(t.device))
    if path == "vp":
        return -0.5 * (VP_BETA_MIN + t * (VP_BETA_MAX - VP_BETA_MIN))
    return torch.zeros_like(t)


def diffusion_squared(t: torch.Tensor, path: str) -> torch.Tensor:
    """g(t)²: β(t) (vp), 2 σ(t)² ln(σ_max/σ_min) (ve); in float64 (float32 on MPS)."""
    t = t.to(_hd(t.device))
    if path == "vp":
        return VP_BETA_MIN + t * (VP_BETA_MAX - VP_BETA_MIN)
    r = math.log(VE_SIGMA_MAX / VE_SIGMA_MIN)
    return 2.0 * VE_SIGMA_MIN**2 * torch.exp(2.0 * r * t) * r


def forward_sde(x: torch.Tensor, t: torch.Tensor, path: str = "vp"):
    """(f(x, t), g(t)) of dx = f dt + g dW for the vp / ve path (Song et al. 2021)."""
    c = "sde.forward"
    x, t = _state(c, x, t)
    choice(c, "path", path, SDE_PATHS)
    (xw,), dt = upcast(x)
    k, g2 = drift_coefficient(t, path), diffusion_squared(t, path)
    return (k.to(xw.dtype)[:, None] * xw).to(dt), g2.sqrt().to(dt)


def _score_drift(clause, x, t, score, path, half):
    x, t = _state(clause, x, t)
    score = _tensor(clause, "score", score, ndim=2)
    V.same_shape(clause, ("x", "score"), x, score)
    choice(clause, "path", path, SDE_PATHS)
    (xw, sw), dt = upcast(x, score)
    k = drift_coefficient(t, path).to(xw.dtype)[:, None]
    g2 = diffusion_squared(t, path).to(xw.dtype)[:, None]
    return (k * xw - (0.5 if half else 1.0) * g2 * sw).to(dt)


def reverse_drift(x: torch.Tensor, t: torch.Tensor, score: torch.Tensor, path: str = "vp") -> torch.Tensor:
    """f(x, t) − g(t)² ∇log p_t(x) (the reverse-time SDE's drift)."""
    return _score_drift("sde.reverse", x, t, score, path, half=False)


def probability_flow_drift(x: torch.Tensor, t: torch.Tensor, score: torch.Tensor, path: str = "vp") -> torch.Tensor:
    """f(x, t) − ½ g(t)² ∇log p_t(x) (the probability-flow ODE; = the path's velocity E[a'x + b'z | x_t])."""
    return _score_drift("sde.probability_flow", x, t, score, path, half=True)


def euler_maruyama_sample(score, x1: torch.Tensor, noise: torch.Tensor, path: str = "vp") -> torch.Tensor:
    """x ← x − (1/T)[f − g² s(x, t_k)] + g(t_k)/√T ξ_k on t_k = 1 − k/T, k = 0..T−1; returns x at t = 0."""
    c = "sde.euler_maruyama"
    if not callable(score):
        raise SpecInputError(c, "score", "a callable s(x, t)", type(score).__name__)
    x1 = _tensor(c, "x1", x1, ndim=2)
    noise = _tensor(c, "noise", noise, ndim=3)
    if tuple(noise.shape[1:]) != tuple(x1.shape) or not 1 <= noise.shape[0] <= MAX_STEPS:
        raise SpecInputError(c, "noise", f"shape (T, {x1.shape[0]}, {x1.shape[1]}) with 1 ≤ T ≤ {MAX_STEPS}",
                             f"shape {tuple(noise.shape)}")
    choice(c, "path", path, SDE_PATHS)
    (x, noise), dt = upcast(x1, noise.to(x1.dtype))
    T, n = noise.shape[0], x.shape[0]
    for k in range(T):
        t = torch.full((n,), (T - k) / T, dtype=dt, device=x.device)
        s = score(x.to(dt), t)
        if not isinstance(s, torch.Tensor) or tuple(s.shape) != tuple(x.shape):
            raise SpecInputError(c, "score", f"a callable returning a tensor of x's shape {tuple(x.shape)}",
                                 f"{type(s).__name__} {tuple(getattr(s, 'shape', ()))}")
        tk = torch.full((n,), (T - k) / T, dtype=_hd(x.device), device=x.device)
        kk = drift_coefficient(tk, path).to(x.dtype)[:, None]
        g2 = diffusion_squared(tk, path).to(x.dtype)[:, None]
        x = x - (kk * x - g2 * s.to(x.dtype)) / T + (g2 / T).sqrt() * noise[k]
    return x.to(dt)
