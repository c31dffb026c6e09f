"""Rectified flow and 02's flow-matching convention in PyTorch (spec/rf.py): the functions, names and arguments of
reference/rf.py. Any device, dtype-preserving; bfloat16/float16 are computed in float32 and rounded once.
"""
from __future__ import annotations

import torch

from genspec.spec import validate as V
from genspec.spec.bind import implements

from ._tensors import per_sample_column, upcast


@implements("rf.interpolation")
def interpolate(x, z, t, time="data_at_0"):
    """x_t = (1 − t) x + t z  (t = 0 data, t = 1 noise); 'noise_at_0': x_t = t x + (1 − t) z (02)."""
    (x, z, t), dt = upcast(x, z, per_sample_column(t, x))
    if time == "noise_at_0":
        x, z = z, x
    return torch.lerp(x, z, t.expand_as(x) if t.ndim else t).to(dt)


@implements("rf.velocity")
def velocity(x, z, time="data_at_0"):
    """v = z − x; 'noise_at_0': v = x − z (02's x1 − x0)."""
    return z - x if time == "data_at_0" else x - z


@implements("rf.loss")
def loss(f, x, z, reduction="batch_mean_sq_norm"):
    """L = mean over the batch of ‖f − (z − x)‖²; 'mse_all_elements' = F.mse_loss (02) = L / D."""
    V.nonempty("rf.loss", "f", f)
    (f, x, z), dt = upcast(f, x, z)
    L = ((f - (z - x)) ** 2).reshape(f.shape[0], -1).sum(dim=1).mean()
    return (L / f[0].numel() if reduction == "mse_all_elements" else L).to(dt)


@implements("fm.convention")
def flow_matching_pair(x0, x1, t):
    """02's flow matching: (x_t, target) = ((1 − t) x0 + t x1, x1 − x0), x0 noise, x1 data."""
    (x0, x1, t), dt = upcast(x0, x1, per_sample_column(t, x0))
    return torch.lerp(x0, x1, t.expand_as(x0) if t.ndim else t).to(dt), (x1 - x0).to(dt)
