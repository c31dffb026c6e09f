"""The score and Tweedie's formula, float64 NumPy reference (spec/score.py; 00, 01, 03, 04)."""
from __future__ import annotations

import numpy as np

from genspec.spec.bind import implements
from genspec.spec.errors import SpecInputError


def _per_row(v, x):
    """A number (as float64: σ² overflows to inf, not an OverflowError), or one value per sample shaped (n, 1, …) to
    broadcast over x's trailing axes."""
    return np.float64(v) if np.ndim(v) == 0 else v.reshape(v.shape + (1,) * (x.ndim - 1))


@implements("score.definition")
def gaussian_score(x, mu, cov):
    """s(x) = ∇_x log N(x; μ, Σ) = −Σ⁻¹(x − μ)  (00: "the score function ∇_x log p(x)").

    x (n, d), μ (d,), Σ (d, d) symmetric positive definite (checked here: no density otherwise)."""
    if np.abs(cov - cov.T).max(initial=0.0) > 1e-12 * (1.0 + np.abs(cov).max(initial=0.0)):
        raise SpecInputError("score.definition", "cov", "a symmetric matrix", "an asymmetric matrix")
    try:
        L = np.linalg.cholesky(cov)
    except np.linalg.LinAlgError:
        raise SpecInputError("score.definition", "cov", "a positive-definite matrix",
                             "a matrix that is not positive definite") from None
    return -np.linalg.solve(L.T, np.linalg.solve(L, (x - mu).T)).T


@implements("score.tweedie")
def tweedie(x_t, score, sigma):
    """x_t = x + σ ε:  E[x | x_t] = x_t + σ² ∇log p_t(x_t),  E[ε | x_t] = −σ ∇log p_t(x_t)  (03).

    x_t, score (n, …); σ ≥ 0 a number or (n,)."""
    sigma = _per_row(sigma, x_t)
    return x_t + sigma**2 * score, -sigma * score


@implements("score.tweedie_affine")
def tweedie_affine(x_t, score, a, b):
    """x_t = a x + b z:  E[x | x_t] = (x_t + b² ∇log p_t(x_t))/a,  E[z | x_t] = −b ∇log p_t(x_t).

    x_t, score (n, …); a > 0 and b ≥ 0 numbers or (n,)."""
    a, b = _per_row(a, x_t), _per_row(b, x_t)
    return (x_t + b**2 * score) / a, -b * score
