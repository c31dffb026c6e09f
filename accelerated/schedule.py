"""Training distributions of t and the timestep shift in PyTorch (spec/schedule.py): the functions, names and
arguments of reference/schedule.py, every variant.

Any device, dtype-preserving; bfloat16/float16 are computed in float32 and rounded once.
"""
from __future__ import annotations

import math

import torch

from genspec.spec import validate as V
from genspec.spec.bind import implements
from genspec.spec.errors import SpecInputError

from ._tensors import upcast


@implements("schedule.uniform")
def uniform_sample(u):
    """t = Φ(u) = ½ erfc(−u/√2) ~ U(0, 1) for u ~ N(0, 1) (erfc keeps the lower tail accurate; torch's ndtr
    underflows there)."""
    (u,), dt = upcast(u)
    return (0.5 * torch.special.erfc(-u * (1.0 / math.sqrt(2.0)))).to(dt)


@implements("schedule.logit_normal")
def logit_normal_sample(u, m=0.0, s=1.0, name="logit_normal"):
    """t = sigmoid(m + s u); 'log_normal': t = e^{m + s u}."""
    (u,), dt = upcast(u)
    w = m + s * u
    return (torch.sigmoid(w) if name == "logit_normal" else torch.exp(w)).to(dt)


@implements("schedule.logit_normal_pdf")
def logit_normal_pdf(t, m=0.0, s=1.0, name="logit_normal"):
    """p(t) = exp(−(logit t − m)²/2s²)/(s√(2π) t(1 − t)), 0 at t = 0 and t = 1; 'log_normal': exp(−(log t −
    m)²/2s²)/(s√(2π) t) on [0, ∞), 0 at t = 0."""
    (t,), dt = upcast(t)
    logit = name == "logit_normal"
    if logit:
        V.interval("schedule.logit_normal_pdf", "t", t, 0.0, 1.0, what="in [0, 1] (name='logit_normal')")
    inside = (t > 0) & (t < 1) if logit else t > 0
    ts = torch.where(inside, t, torch.full_like(t, 0.5))
    w = ((torch.log(ts) - torch.log1p(-ts) if logit else torch.log(ts)) - m) / s
    dens = torch.exp(-0.5 * w * w) / (s * math.sqrt(2 * math.pi) * (ts * (1.0 - ts) if logit else ts))
    return torch.where(inside, dens, torch.zeros_like(dens)).to(dt)


@implements("schedule.shift")
def shift(t, s):
    """t' = s t / (1 + (s − 1) t), evaluated as s t / ((1 − t) + s t)."""
    (t,), dt = upcast(t)
    st = s * t
    return (st / ((1.0 - t) + st)).to(dt)


@implements("schedule.shift_exponential")
def time_shift_exponential(t, mu, sigma=1.0):
    """t' = e^μ / (e^μ + (1/t − 1)^σ) through the odds q = e^μ (t/(1 − t))^σ: t' = q/(1 + q), or 1/(1 + 1/q) for
    q > 1."""
    (t,), dt = upcast(t)
    q = math.exp(mu) * (t / (1.0 - t)) ** sigma
    return torch.where(q <= 1.0, q / (1.0 + q), 1.0 / (1.0 + 1.0 / q.clamp(min=1.0))).to(dt)


@implements("schedule.karras")
def karras_sigmas(n, sigma_min, sigma_max, rho=7.0, final_sigma="zero"):
    """σ_i = (σ_max^{1/ρ} + i/(N − 1)(σ_min^{1/ρ} − σ_max^{1/ρ}))^ρ, then σ_N = 0 ('zero'); float64 on the CPU
    (no input carries a dtype or device: `.to(...)` it)."""
    if sigma_min > sigma_max:
        raise SpecInputError("schedule.karras", "sigma_min", f"σ_min ≤ σ_max = {sigma_max:g}", f"{sigma_min:g}")
    ramp = torch.linspace(0.0, 1.0, n, dtype=torch.float64)
    lo, hi = sigma_min ** (1.0 / rho), sigma_max ** (1.0 / rho)
    sigmas = (hi + ramp * (lo - hi)) ** rho
    return torch.cat([sigmas, sigmas.new_zeros(1)]) if final_sigma == "zero" else sigmas
