"""Training distributions of t and the timestep shift in PyTorch (spec/schedule.py): default variants.

Any device, dtype-preserving; bfloat16/float16 are computed in float32 and rounded once.
"""
from __future__ import annotations

import math

import torch

from spec import validate as V

from ._tensors import tensor as _tensor
from ._tensors import upcast as _work


def uniform_sample(u):
    """t = Φ(u) = ½ erfc(−u/√2) ~ U(0, 1) for u ~ N(0, 1) (erfc keeps the lower tail accurate; torch's ndtr
    underflows there)."""
    (u,), dt = _work(_tensor("schedule.uniform", "u", u))
    return (0.5 * torch.special.erfc(-u * (1.0 / math.sqrt(2.0)))).to(dt)


def logit_normal_sample(u, m=0.0, s=1.0):
    """t = sigmoid(m + s u)."""
    c = "schedule.logit_normal"
    u = _tensor(c, "u", u)
    m = V.scalar(c, "m", m)
    s = V.scalar(c, "s", s, 0.0, low_closed=False)
    (u,), dt = _work(u)
    return torch.sigmoid(m + s * u).to(dt)


def logit_normal_pdf(t, m=0.0, s=1.0):
    """p(t) = exp(−(logit t − m)²/2s²)/(s√(2π) t(1 − t)); 0 at t = 0 and t = 1."""
    c = "schedule.logit_normal_pdf"
    t = V.interval(c, "t", _tensor(c, "t", t), 0.0, 1.0)
    m = V.scalar(c, "m", m)
    s = V.scalar(c, "s", s, 0.0, low_closed=False)
    (t,), dt = _work(t)
    inside = (t > 0) & (t < 1)
    ts = torch.where(inside, t, torch.full_like(t, 0.5))
    w = (torch.log(ts) - torch.log1p(-ts) - m) / s
    dens = torch.exp(-0.5 * w * w) / (s * math.sqrt(2 * math.pi) * ts * (1.0 - ts))
    return torch.where(inside, dens, torch.zeros_like(dens)).to(dt)


def shift(t, s):
    """t' = s t / (1 + (s − 1) t), evaluated as s t / ((1 − t) + s t)."""
    c = "schedule.shift"
    t = V.interval(c, "t", _tensor(c, "t", t), 0.0, 1.0)
    s = V.scalar(c, "s", s, 0.0, low_closed=False)
    (t,), dt = _work(t)
    st = s * t
    return (st / ((1.0 - t) + st)).to(dt)
