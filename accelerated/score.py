"""The Gaussian score and Tweedie's formula in PyTorch (spec/score.py).

Any device, dtype-preserving; bfloat16/float16 are computed in float32 and rounded once.
"""
from __future__ import annotations

import torch

from spec import validate as V
from spec.errors import SpecInputError

from ._tensors import pair as _pair
from ._tensors import tensor as _tensor
from ._tensors import upcast as _work


def _per_sample(clause, name, v, x, low_closed=True):
    if isinstance(v, (int, float)) and not isinstance(v, bool):
        v = torch.tensor(float(v), dtype=x.dtype, device=x.device)
    v = V.interval(clause, name, _tensor(clause, name, v), 0.0, low_closed=low_closed)
    if v.ndim == 0:
        return v
    if v.ndim != 1 or v.shape[0] != x.shape[0]:
        raise SpecInputError(clause, name, f"a scalar or one value per sample, shape ({x.shape[0]},)",
                             f"shape {tuple(v.shape)}")
    return v.reshape(v.shape + (1,) * (x.ndim - 1))


def gaussian_score(x, mu, cov):
    """s(x) = −Σ⁻¹(x − μ), by a Cholesky solve, batched over the rows of x."""
    c = "score.definition"
    x = _tensor(c, "x", x, ndim=2)
    mu = _tensor(c, "mu", mu, ndim=1)
    cov = _tensor(c, "cov", cov, ndim=2)
    d = x.shape[1]
    if tuple(mu.shape) != (d,) or tuple(cov.shape) != (d, d):
        raise SpecInputError(c, "mu/cov", f"shapes ({d},) and ({d}, {d}) matching x",
                             f"{tuple(mu.shape)}, {tuple(cov.shape)}")
    (x, mu, cov), dt = _work(x, mu, cov)
    rel = 1e-12 if cov.dtype == torch.float64 else 1e-6
    if d and bool((cov - cov.T).abs().max() > rel * (1.0 + cov.abs().max())):
        raise SpecInputError(c, "cov", "a symmetric matrix", "an asymmetric matrix")
    L, info = torch.linalg.cholesky_ex(cov)
    if int(info) != 0:
        raise SpecInputError(c, "cov", "a positive-definite matrix", "a matrix that is not positive definite")
    return (-torch.cholesky_solve((x - mu).T, L).T).to(dt)


def tweedie(x_t, score, sigma):
    """(E[x | x_t], E[ε | x_t]) = (x_t + σ² s, −σ s) for x_t = x + σ ε."""
    c = "score.tweedie"
    x_t, score = _pair(c, ("x_t", "score"), x_t, score)
    sigma = _per_sample(c, "sigma", sigma, x_t)
    (x_t, score, sigma), dt = _work(x_t, score, sigma)
    return (x_t + sigma * sigma * score).to(dt), (-sigma * score).to(dt)


def tweedie_affine(x_t, score, a, b):
    """(E[x | x_t], E[z | x_t]) = ((x_t + b² s)/a, −b s) for x_t = a x + b z, a > 0."""
    c = "score.tweedie_affine"
    x_t, score = _pair(c, ("x_t", "score"), x_t, score)
    a = _per_sample(c, "a", a, x_t, low_closed=False)
    b = _per_sample(c, "b", b, x_t)
    (x_t, score, a, b), dt = _work(x_t, score, a, b)
    return ((x_t + b * b * score) / a).to(dt), (-b * score).to(dt)
