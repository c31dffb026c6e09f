"""Rectified flow and flow matching's time convention, float64 NumPy reference (spec/rf.py; 00, 01, 02, 03, 04).

t = 0 is data, t = 1 is noise (the spec's default 'data_at_0'); 02's flow matching is 'noise_at_0'. Arrays are
batch first, (n, …); a time is a scalar or one per sample, (n,).
"""
from __future__ import annotations

import numpy as np

from genspec.spec import validate as V
from genspec.spec.bind import implements


def _per_sample(t, x):
    """t of shape () or (n,), shaped to broadcast over x's trailing axes."""
    return np.reshape(t, np.shape(t) + (1,) * (x.ndim - 1)) if np.ndim(t) else t


@implements("rf.interpolation")
def interpolate(x, z, t, time="data_at_0"):
    """x_t = (1 − t) x + t z  (00: "x_t = (1-t)x + tz"); 'noise_at_0': x_t = t x + (1 − t) z (02)."""
    t = _per_sample(t, x)
    if time == "noise_at_0":
        t = 1.0 - t
    return (1.0 - t) * x + t * z


@implements("rf.velocity")
def velocity(x, z, time="data_at_0"):
    """v = z − x = dx_t/dt  (00: "v = z - x"); 'noise_at_0': v = x − z (02's x1 − x0)."""
    return z - x if time == "data_at_0" else x - z


@implements("rf.loss")
def loss(f, x, z, reduction="batch_mean_sq_norm"):
    """L = mean_i ‖f_i − (z_i − x_i)‖²  (00); 'mse_all_elements' = F.mse_loss (02) = L / D."""
    V.nonempty("rf.loss", "f", f)
    L = ((f - (z - x)) ** 2).reshape(f.shape[0], -1).sum(axis=1).mean()
    return L / f[0].size if reduction == "mse_all_elements" else L


@implements("fm.convention")
def flow_matching_pair(x0, x1, t):
    """02's flow matching: x_t = (1 − t) x0 + t x1, target x1 − x0; x0 noise, x1 data, t: 0 → 1 integrates to data."""
    t = _per_sample(t, x0)
    return (1.0 - t) * x0 + t * x1, x1 - x0
