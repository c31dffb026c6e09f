"""The ELBO and SDE views of diffusion, float64 NumPy reference (spec/sde.py; 00, 03, 04; Ho et al. 2020,
Song et al. 2021).

    vp  f = −½ β(t) x,  g = √β(t),               β(t) = β_min + t (β_max − β_min)
    ve  f = 0,          g = σ(t) √(2 ln(σ_max/σ_min)),  σ(t) = σ_min (σ_max/σ_min)^t

t = 0 is data, t = 1 noise; the schedules are spec/family.py's 'linear' (vp) and 'geometric' (ve).
"""
from __future__ import annotations

import math

import numpy as np

from genspec.spec.bind import implements
from genspec.spec.errors import SpecInputError
from genspec.spec.family import VE_SIGMA_MAX, VE_SIGMA_MIN, VP_BETA_MAX, VP_BETA_MIN

from .ddpm import schedule, steps

MAX_STEPS = 10**5


# ---- the ELBO (latent-variable view) --------------------------------------------------------------------
def elbo_weight(t, betas, sigma="beta_tilde"):
    """λ_t = β_t² / (2 σ_t² α_t (1 − ᾱ_t)): β_t / (2 α_t (1 − ᾱ_{t−1})) (σ² = β̃_t), β_t / (2 α_t (1 − ᾱ_t)) (σ² = β_t).

    t: one-based int64 steps (validated by the caller).
    """
    _, om, _ = schedule(betas)
    beta = betas[t - 1]
    return beta / (2.0 * (1.0 - beta) * (om[t - 1] if sigma == "beta_tilde" else om[t]))


@implements("ddpm.elbo")
def elbo_kl(eps_pred, eps, t, betas, sigma="beta_tilde", indexing="one_based"):
    """L_{t−1} = KL(q(x_{t−1} | x_t, x_0) ‖ p_θ(x_{t−1} | x_t)) = λ_t ‖ε − ε_θ‖² per sample (Ho et al. eq. 12; 03).

    'beta' (σ_t² = β_t): the θ-dependent part of the KL (the rest is a constant in θ).
    """
    schedule(betas, "ddpm.elbo")
    t = steps("ddpm.elbo", "t", t, 2 if sigma == "beta_tilde" else 1, betas.size, indexing, betas.size)
    return elbo_weight(t, betas, sigma) * ((eps - eps_pred) ** 2).reshape(eps.shape[0], -1).sum(axis=1)


# ---- the SDE view ---------------------------------------------------------------------------------------
def drift_coefficient(t, path):
    """f(x, t) = k(t) x: k = −½ β(t) (vp), 0 (ve)."""
    if path == "vp":
        return -0.5 * (VP_BETA_MIN + t * (VP_BETA_MAX - VP_BETA_MIN))
    return np.zeros_like(t)


def diffusion_squared(t, path):
    """g(t)²: β(t) (vp), d σ(t)²/dt = 2 σ(t)² ln(σ_max/σ_min) (ve)."""
    if path == "vp":
        return VP_BETA_MIN + t * (VP_BETA_MAX - VP_BETA_MIN)
    sigma = VE_SIGMA_MIN * (VE_SIGMA_MAX / VE_SIGMA_MIN) ** t
    return 2.0 * sigma * sigma * math.log(VE_SIGMA_MAX / VE_SIGMA_MIN)


@implements("sde.forward")
def forward_sde(x, t, path="vp"):
    """(f(x, t), g(t)) of dx = f dt + g dW: vp (−½β(t) x, √β(t)); ve (0, σ(t)√(2 ln(σ_max/σ_min)))  (Song et al.)."""
    return drift_coefficient(t, path)[:, None] * x, np.sqrt(diffusion_squared(t, path))


@implements("sde.reverse")
def reverse_drift(x, t, score, path="vp"):
    """f(x, t) − g(t)² ∇log p_t(x): the drift of the reverse-time SDE (Anderson 1982; Song et al. 2021)."""
    return drift_coefficient(t, path)[:, None] * x - diffusion_squared(t, path)[:, None] * score


@implements("sde.probability_flow")
def probability_flow_drift(x, t, score, path="vp"):
    """f(x, t) − ½ g(t)² ∇log p_t(x): the probability-flow ODE, equal to the path's velocity E[a'x + b'z | x_t]."""
    return drift_coefficient(t, path)[:, None] * x - 0.5 * diffusion_squared(t, path)[:, None] * score


@implements("sde.euler_maruyama")
def euler_maruyama_sample(score, x1, noise, path="vp"):
    """x ← x − (1/T)[f − g² s(x, t_k)] + g(t_k)/√T ξ_k on t_k = 1 − k/T, k = 0..T−1; returns x at t = 0."""
    c = "sde.euler_maruyama"
    T, n = noise.shape[0], x1.shape[0]
    if not 1 <= T <= MAX_STEPS:
        raise SpecInputError(c, "noise", f"shape (T, n, d) with 1 ≤ T ≤ {MAX_STEPS}", f"shape {noise.shape}")
    x = x1
    for k in range(T):
        t = np.full(n, (T - k) / T)
        s = np.asarray(score(x, t), dtype=np.float64)
        if s.shape != x.shape:
            raise SpecInputError(c, "score", f"a callable returning x's shape {x.shape}", f"shape {s.shape}")
        x = x - reverse_drift.raw(x, t, s, path) / T + np.sqrt(diffusion_squared(t, path) / T)[:, None] * noise[k]
    return x
