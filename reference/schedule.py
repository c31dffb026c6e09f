"""Training distributions of t and the timestep shift, float64 NumPy reference (spec/schedule.py; 00, 01, 03, 04).

Samplers map given standard normals u to t, so they are deterministic functions.
"""
from __future__ import annotations

import math

import numpy as np
from scipy.special import ndtr

from genspec.spec import validate as V
from genspec.spec.bind import implements
from genspec.spec.errors import SpecInputError


def sigmoid(w):
    """1 / (1 + e^{−w}) without overflow."""
    e = np.exp(-np.abs(w))
    return np.where(w >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


@implements("schedule.uniform")
def uniform_sample(u):
    """t = Φ(u) ~ U(0, 1) for u ~ N(0, 1)  (00, 03: "t ~ Uniform(0, 1)").  u: (n,) → t: (n,)."""
    return ndtr(u)


@implements("schedule.logit_normal")
def logit_normal_sample(u, m=0.0, s=1.0, name="logit_normal"):
    """t = sigmoid(m + s u): logit t ~ N(m, s²)  (00, 01; 04 says "log-normal": 'log_normal' is t = e^{m + s u})."""
    w = m + s * u
    return sigmoid(w) if name == "logit_normal" else np.exp(w)


@implements("schedule.logit_normal_pdf")
def logit_normal_pdf(t, m=0.0, s=1.0, name="logit_normal"):
    """p(t) = exp(−(logit t − m)²/2s²) / (s √(2π) t (1 − t)), p(0) = p(1) = 0  (Esser et al. 2024, eq. 19).

    'log_normal': p(t) = exp(−(log t − m)²/2s²) / (s √(2π) t) on [0, ∞), p(0) = 0.  t: (n,) → p: (n,).
    """
    logit = name == "logit_normal"
    if logit:
        V.interval("schedule.logit_normal_pdf", "t", t, 0.0, 1.0, what="in [0, 1] (name='logit_normal')")
    inside = (t > 0) & (t < 1) if logit else t > 0
    ts = np.where(inside, t, 0.5)
    w = ((np.log(ts) - np.log1p(-ts) if logit else np.log(ts)) - m) / s
    dens = np.exp(-0.5 * w * w) / (s * math.sqrt(2 * math.pi) * (ts * (1.0 - ts) if logit else ts))
    return np.where(inside, dens, 0.0)


@implements("schedule.shift")
def shift(t, s):
    """t' = s t / (1 + (s − 1) t), written s t / ((1 − t) + s t) (no cancellation)  (Esser et al. 2024)."""
    return s * t / ((1.0 - t) + s * t)


@implements("schedule.shift_exponential")
def time_shift_exponential(t, mu, sigma=1.0):
    """t' = e^μ / (e^μ + (1/t − 1)^σ)  (diffusers' time_shift_type 'exponential', Flux), evaluated through the odds:
    q = e^μ (t/(1 − t))^σ = odds(t'), t' = q/(1 + q) (1/(1 + 1/q) for q > 1): no 1/t, no cancellation; t = 0
    gives q = 0, t' = 0; t = 1 gives q = ∞, t' = 1."""
    with np.errstate(divide="ignore", invalid="ignore"):
        q = math.exp(mu) * (t / (1.0 - t)) ** sigma
        return np.where(q <= 1.0, q / (1.0 + q), 1.0 / (1.0 + 1.0 / np.maximum(q, 1.0)))


@implements("schedule.karras")
def karras_sigmas(n, sigma_min, sigma_max, rho=7.0, final_sigma="zero"):
    """σ_i = (σ_max^{1/ρ} + i/(N − 1) (σ_min^{1/ρ} − σ_max^{1/ρ}))^ρ, i = 0..N−1, then σ_N = 0 ('zero')
    (Karras et al. 2022, eq. 5; k-diffusion get_sigmas_karras). Returns shape (N + 1,) or (N,) ('none')."""
    if sigma_min > sigma_max:
        raise SpecInputError("schedule.karras", "sigma_min", f"σ_min ≤ σ_max = {sigma_max:g}", f"{sigma_min:g}")
    ramp = np.linspace(0.0, 1.0, n)                      # (0,) at N = 1, as torch.linspace
    lo, hi = sigma_min ** (1.0 / rho), sigma_max ** (1.0 / rho)
    sigmas = (hi + ramp * (lo - hi)) ** rho
    return np.append(sigmas, 0.0) if final_sigma == "zero" else sigmas
