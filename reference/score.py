"""The score and Tweedie's formula, float64 NumPy reference (spec/score.py; 00, 01, 03, 04)."""
from __future__ import annotations

import numpy as np

from spec import validate as V
from spec.errors import SpecInputError


def _per_sample(clause, name, v, x, low=0.0, low_closed=True):
    """A scalar or one value per sample, shaped to broadcast over x's trailing axes."""
    v = V.interval(clause, name, V.array(clause, name, v), low, low_closed=low_closed)
    if v.ndim == 0:
        return v
    if v.ndim != 1 or v.shape[0] != x.shape[0]:
        raise SpecInputError(clause, name, f"a scalar or one value per sample, shape ({x.shape[0]},)",
                             f"shape {v.shape}")
    return v.reshape(v.shape + (1,) * (x.ndim - 1))


def _pair(clause, names, u, w):
    u = V.array(clause, names[0], u, min_ndim=1)
    w = V.array(clause, names[1], w, min_ndim=1)
    V.same_shape(clause, names, u, w)
    return u, w


def gaussian_score(x, mu, cov):
    """s(x) = ∇_x log N(x; μ, Σ) = −Σ⁻¹(x − μ)  (00: "the score function ∇_x log p(x)")."""
    c = "score.definition"
    x = V.array(c, "x", x, ndim=2)
    mu = V.array(c, "mu", mu, ndim=1)
    cov = V.array(c, "cov", cov, ndim=2)
    d = x.shape[1]
    if mu.shape != (d,) or cov.shape != (d, d):
        raise SpecInputError(c, "mu/cov", f"shapes ({d},) and ({d}, {d}) matching x", f"{mu.shape}, {cov.shape}")
    if np.abs(cov - cov.T).max(initial=0.0) > 1e-12 * (1.0 + np.abs(cov).max(initial=0.0)):
        raise SpecInputError(c, "cov", "a symmetric matrix", "an asymmetric matrix")
    try:
        L = np.linalg.cholesky(cov)
    except np.linalg.LinAlgError:
        raise SpecInputError(c, "cov", "a positive-definite matrix", "a matrix that is not positive definite") from None
    return -np.linalg.solve(L.T, np.linalg.solve(L, (x - mu).T)).T


def tweedie(x_t, score, sigma):
    """x_t = x + σ ε:  E[x | x_t] = x_t + σ² ∇log p_t(x_t),  E[ε | x_t] = −σ ∇log p_t(x_t)  (03)."""
    c = "score.tweedie"
    x_t, score = _pair(c, ("x_t", "score"), x_t, score)
    sigma = _per_sample(c, "sigma", sigma, x_t)
    return x_t + sigma**2 * score, -sigma * score


def tweedie_affine(x_t, score, a, b):
    """x_t = a x + b z:  E[x | x_t] = (x_t + b² ∇log p_t(x_t))/a,  E[z | x_t] = −b ∇log p_t(x_t)."""
    c = "score.tweedie_affine"
    x_t, score = _pair(c, ("x_t", "score"), x_t, score)
    a = _per_sample(c, "a", a, x_t, low_closed=False)
    b = _per_sample(c, "b", b, x_t)
    return (x_t + b**2 * score) / a, -b * score
