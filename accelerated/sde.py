"""The ELBO and SDE views of diffusion in PyTorch (spec/sde.py): the functions, names, arguments and conventions of
reference/sde.py. Any device, dtype-preserving; schedules in float64 (float32 on MPS), bfloat16/float16 state in
float32, rounded once.

    vp  f = −½ β(t) x,  g = √β(t),               β(t) = β_min + t (β_max − β_min)
    ve  f = 0,          g = σ(t) √(2 ln(σ_max/σ_min)),  σ(t) = σ_min (σ_max/σ_min)^t
"""
from __future__ import annotations

import math

import torch

from genspec.spec.bind import implements
from genspec.spec.errors import SpecInputError
from genspec.spec.family import VE_SIGMA_MAX, VE_SIGMA_MIN, VP_BETA_MAX, VP_BETA_MIN

from ._tensors import exact_dtype, per_row, upcast
from .ddpm import schedule, steps

MAX_STEPS = 10**5


# ---- the ELBO -------------------------------------------------------------------------------------------
@implements("ddpm.elbo")
def elbo_kl(eps_pred, eps, t, betas, sigma="beta_tilde", indexing="one_based"):
    """L_{t−1} = λ_t ‖ε − ε_θ‖², λ_t = β_t / (2 α_t (1 − ᾱ_{t−1})) (σ² = β̃_t, t = 2..T) or β_t / (2 α_t (1 − ᾱ_t))
    (σ² = β_t, t = 1..T: the θ-dependent part of the KL)."""
    _, om, _, b = schedule(betas, "ddpm.elbo")
    t = steps("ddpm.elbo", "t", t, 2 if sigma == "beta_tilde" else 1, b.shape[0], indexing, b.shape[0], b.device)
    lam = b[t - 1] / (2.0 * (1.0 - b[t - 1]) * (om[t - 1] if sigma == "beta_tilde" else om[t]))
    (e, p), dt = upcast(eps, eps_pred)
    sq = (e - p).square().reshape(e.shape[0], -1).sum(dim=1)
    return (lam.to(device=e.device, dtype=sq.dtype) * sq).to(dt)


# ---- the SDE view ---------------------------------------------------------------------------------------
def drift_coefficient(t: torch.Tensor, path: str) -> torch.Tensor:
    """k(t) of f(x, t) = k(t) x: −½ β(t) (vp), 0 (ve); in float64 (float32 on MPS)."""
    t = t.to(exact_dtype(t.device))
    if path == "vp":
        return -0.5 * (VP_BETA_MIN + t * (VP_BETA_MAX - VP_BETA_MIN))
    return torch.zeros_like(t)


def diffusion_squared(t: torch.Tensor, path: str) -> torch.Tensor:
    """g(t)²: β(t) (vp), 2 σ(t)² ln(σ_max/σ_min) (ve); in float64 (float32 on MPS)."""
    t = t.to(exact_dtype(t.device))
    if path == "vp":
        return VP_BETA_MIN + t * (VP_BETA_MAX - VP_BETA_MIN)
    r = math.log(VE_SIGMA_MAX / VE_SIGMA_MIN)
    return 2.0 * VE_SIGMA_MIN**2 * torch.exp(2.0 * r * t) * r


@implements("sde.forward")
def forward_sde(x, t, path="vp"):
    """(f(x, t), g(t)) of dx = f dt + g dW for the vp / ve path (Song et al. 2021)."""
    (xw,), dt = upcast(x)
    return (per_row(drift_coefficient(t, path), xw) * xw).to(dt), diffusion_squared(t, path).sqrt().to(dt)


def _score_drift(x, t, score, path, half):
    (xw, sw), dt = upcast(x, score)
    g2 = (0.5 if half else 1.0) * diffusion_squared(t, path)
    return (per_row(drift_coefficient(t, path), xw) * xw - per_row(g2, xw) * sw).to(dt)


@implements("sde.reverse")
def reverse_drift(x, t, score, path="vp"):
    """f(x, t) − g(t)² ∇log p_t(x) (the reverse-time SDE's drift)."""
    return _score_drift(x, t, score, path, half=False)


@implements("sde.probability_flow")
def probability_flow_drift(x, t, score, path="vp"):
    """f(x, t) − ½ g(t)² ∇log p_t(x) (the probability-flow ODE; = the path's velocity E[a'x + b'z | x_t])."""
    return _score_drift(x, t, score, path, half=True)


@implements("sde.euler_maruyama")
def euler_maruyama_sample(score, x1, noise, path="vp"):
    """x ← x − (1/T)[f − g² s(x, t_k)] + g(t_k)/√T ξ_k on t_k = 1 − k/T, k = 0..T−1; returns x at t = 0."""
    c = "sde.euler_maruyama"
    if not 1 <= noise.shape[0] <= MAX_STEPS:
        raise SpecInputError(c, "noise", f"shape (T, n, d) with 1 ≤ T ≤ {MAX_STEPS}", f"shape {tuple(noise.shape)}")
    (x, noise), dt = upcast(x1, noise.to(x1.dtype))
    T, n = noise.shape[0], x.shape[0]
    for k in range(T):
        t = torch.full((n,), (T - k) / T, dtype=dt, device=x.device)
        s = score(x.to(dt), t)
        if not isinstance(s, torch.Tensor) or tuple(s.shape) != tuple(x.shape):
            raise SpecInputError(c, "score", f"a callable returning a tensor of x's shape {tuple(x.shape)}",
                                 f"{type(s).__name__} {tuple(getattr(s, 'shape', ()))}")
        tk = torch.full((n,), (T - k) / T, dtype=exact_dtype(x.device), device=x.device)
        g2 = diffusion_squared(tk, path)
        drift = per_row(drift_coefficient(tk, path), x) * x - per_row(g2, x) * s.to(x.dtype)
        x = x - drift / T + per_row((g2 / T).sqrt(), x) * noise[k]
    return x.to(dt)
