"""The Gaussian score and Tweedie's formula in PyTorch (spec/score.py): the functions and arguments of
reference/score.py. Any device, dtype-preserving; bfloat16/float16 are computed in float32 and rounded once.
"""
from __future__ import annotations

import torch

from genspec.spec.bind import implements
from genspec.spec.errors import SpecInputError

from ._tensors import per_row, upcast


@implements("score.definition")
def gaussian_score(x, mu, cov):
    """s(x) = −Σ⁻¹(x − μ), by a Cholesky solve, batched over the rows of x; Σ symmetric positive definite."""
    (x, mu, cov), dt = upcast(x, mu, cov)
    rel = 1e-12 if cov.dtype == torch.float64 else 1e-6
    if cov.numel() and bool((cov - cov.T).abs().max() > rel * (1.0 + cov.abs().max())):
        raise SpecInputError("score.definition", "cov", "a symmetric matrix", "an asymmetric matrix")
    L, info = torch.linalg.cholesky_ex(cov)
    if int(info) != 0:
        raise SpecInputError("score.definition", "cov", "a positive-definite matrix",
                             "a matrix that is not positive definite")
    return (-torch.cholesky_solve((x - mu).T, L).T).to(dt)


@implements("score.tweedie")
def tweedie(x_t, score, sigma):
    """(E[x | x_t], E[ε | x_t]) = (x_t + σ² s, −σ s) for x_t = x + σ ε."""
    (x_t, score), dt = upcast(x_t, score)
    sigma = per_row(sigma, x_t)
    return (x_t + sigma * sigma * score).to(dt), (-sigma * score).to(dt)


@implements("score.tweedie_affine")
def tweedie_affine(x_t, score, a, b):
    """(E[x | x_t], E[z | x_t]) = ((x_t + b² s)/a, −b s) for x_t = a x + b z, a > 0."""
    (x_t, score), dt = upcast(x_t, score)
    a, b = per_row(a, x_t), per_row(b, x_t)
    return ((x_t + b * b * score) / a).to(dt), (-b * score).to(dt)
