"""Rectified flow and flow matching's time convention, float64 NumPy reference (spec/rf.py; 00, 01, 02, 03, 04).

t = 0 is data, t = 1 is noise (the spec's default 'data_at_0'); 02's flow matching is 'noise_at_0'.
"""
from __future__ import annotations

from spec import validate as V
from spec.errors import SpecInputError

TIMES = ("data_at_0", "noise_at_0")
REDUCTIONS = ("batch_mean_sq_norm", "mse_all_elements")


def _pair(clause, names, u, w):
    u = V.array(clause, names[0], u, min_ndim=1)
    w = V.array(clause, names[1], w, min_ndim=1)
    V.same_shape(clause, names, u, w)
    return u, w


def _per_sample(clause, t, x):
    """t of shape () or (n,) against x of shape (n, ...), shaped to broadcast over x's trailing axes."""
    t = V.interval(clause, "t", V.array(clause, "t", t), 0.0, 1.0)
    if t.ndim == 0:
        return t
    if t.ndim != 1 or t.shape[0] != x.shape[0]:
        raise SpecInputError(clause, "t", f"a scalar or one time per sample, shape ({x.shape[0]},)", f"shape {t.shape}")
    return t.reshape(t.shape + (1,) * (x.ndim - 1))


def interpolate(x, z, t, time="data_at_0"):
    """x_t = (1 − t) x + t z  (00: "x_t = (1-t)x + tz"); 'noise_at_0': x_t = t x + (1 − t) z (02)."""
    c = "rf.interpolation"
    x, z = _pair(c, ("x", "z"), x, z)
    t = _per_sample(c, t, x)
    V.choice(c, "time", time, TIMES)
    if time == "noise_at_0":
        t = 1.0 - t
    return (1.0 - t) * x + t * z


def velocity(x, z, time="data_at_0"):
    """v = z − x = dx_t/dt  (00: "v = z - x"); 'noise_at_0': v = x − z (02's x1 − x0)."""
    c = "rf.velocity"
    x, z = _pair(c, ("x", "z"), x, z)
    V.choice(c, "time", time, TIMES)
    return z - x if time == "data_at_0" else x - z


def loss(f, x, z, reduction="batch_mean_sq_norm"):
    """L = mean_i ‖f_i − (z_i − x_i)‖²  (00); 'mse_all_elements' = F.mse_loss (02) = L / D."""
    c = "rf.loss"
    f = V.array(c, "f", f, min_ndim=1)
    x, z = _pair(c, ("x", "z"), x, z)
    V.same_shape(c, ("f", "x"), f, x)
    V.choice(c, "reduction", reduction, REDUCTIONS)
    if f.shape[0] == 0:
        raise SpecInputError(c, "f", "a non-empty batch", "0 samples")
    sq = ((f - (z - x)) ** 2).reshape(f.shape[0], -1).sum(axis=1)
    L = sq.mean()
    return L / f[0].size if reduction == "mse_all_elements" else L


def flow_matching_pair(x0, x1, t):
    """02's flow matching: x_t = (1 − t) x0 + t x1, target x1 − x0; x0 noise, x1 data, t: 0 → 1 integrates to data."""
    c = "fm.convention"
    x0, x1 = _pair(c, ("x0", "x1"), x0, x1)
    t = _per_sample(c, t, x0)
    return (1.0 - t) * x0 + t * x1, x1 - x0
