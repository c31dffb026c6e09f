"""Rectified flow and 02's flow-matching convention in PyTorch (spec/rf.py): the spec's default variants.

Any device, dtype-preserving; bfloat16/float16 are computed in float32 and rounded once.
"""
from __future__ import annotations

import torch

from spec import validate as V
from spec.errors import SpecInputError

from ._tensors import pair as _pair
from ._tensors import tensor as _tensor
from ._tensors import upcast as _work


def _per_sample(clause, t, x):
    if isinstance(t, (int, float)) and not isinstance(t, bool):
        t = torch.tensor(float(t), dtype=x.dtype, device=x.device)
    t = V.interval(clause, "t", _tensor(clause, "t", t), 0.0, 1.0)
    if t.ndim == 0:
        return t
    if t.ndim != 1 or t.shape[0] != x.shape[0]:
        raise SpecInputError(clause, "t", f"a scalar or one time per sample, shape ({x.shape[0]},)",
                             f"shape {tuple(t.shape)}")
    return t.reshape(t.shape + (1,) * (x.ndim - 1))


def interpolate(x, z, t):
    """x_t = (1 − t) x + t z  (t = 0 data, t = 1 noise)."""
    c = "rf.interpolation"
    x, z = _pair(c, ("x", "z"), x, z)
    t = _per_sample(c, t, x)
    (x, z, t), dt = _work(x, z, t)
    return torch.lerp(x, z, t.expand_as(x)).to(dt) if t.ndim else torch.lerp(x, z, t).to(dt)


def velocity(x, z):
    """v = z − x."""
    x, z = _pair("rf.velocity", ("x", "z"), x, z)
    return z - x


def loss(f, x, z):
    """L = mean over the batch of ‖f − (z − x)‖² (the spec's default reduction)."""
    c = "rf.loss"
    f = _tensor(c, "f", f, 1)
    x, z = _pair(c, ("x", "z"), x, z)
    V.same_shape(c, ("f", "x"), f, x)
    if f.shape[0] == 0:
        raise SpecInputError(c, "f", "a non-empty batch", "0 samples")
    (f, x, z), dt = _work(f, x, z)
    return ((f - (z - x)) ** 2).reshape(f.shape[0], -1).sum(dim=1).mean().to(dt)


def flow_matching_pair(x0, x1, t):
    """02's flow matching: (x_t, target) = ((1 − t) x0 + t x1, x1 − x0), x0 noise, x1 data."""
    c = "fm.convention"
    x0, x1 = _pair(c, ("x0", "x1"), x0, x1)
    t = _per_sample(c, t, x0)
    (x0, x1, t), dt = _work(x0, x1, t)
    return torch.lerp(x0, x1, t.expand_as(x0) if t.ndim else t).to(dt), (x1 - x0).to(dt)
