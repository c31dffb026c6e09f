"""Training distributions of t and the timestep shift, float64 NumPy reference (spec/schedule.py; 00, 01, 03, 04).

Samplers map given standard normals u to t, so they are deterministic functions.
"""
from __future__ import annotations

import math

import numpy as np
from scipy.special import ndtr

from spec import validate as V
from spec.bind import implements


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
    if name == "logit_normal":
        V.interval("schedule.logit_normal_pdf", "t", t, 0.0, 1.0, what="in [0, 1] (name='logit_normal')")
        inside = (t > 0) & (t < 1)
        ts = np.where(inside, t, 0.5)
        w = (np.log(ts) - np.log1p(-ts) - m) / s
        dens = np.exp(-0.5 * w * w) / (s * math.sqrt(2 * math.pi) * ts * (1.0 - ts))
    else:
        inside = t > 0
        ts = np.where(inside, t, 1.0)
        w = (np.log(ts) - m) / s
        dens = np.exp(-0.5 * w * w) / (s * math.sqrt(2 * math.pi) * ts)
    return np.where(inside, dens, 0.0)


@implements("schedule.shift")
def shift(t, s):
    """t' = s t / (1 + (s − 1) t), written s t / ((1 − t) + s t) (no cancellation)  (Esser et al. 2024)."""
    return s * t / ((1.0 - t) + s * t)
