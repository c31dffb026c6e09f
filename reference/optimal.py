"""The MSE-optimal predictor (the conditional mean) for Gaussian-mixture data, float64 NumPy (spec/optimal.py).

Data x ~ Σ_k w_k N(μ_k, Σ_k) in d dimensions, noise z ~ N(0, I), x_t = a x + b z. Given component k,
x_t ~ N(a μ_k, S_k), S_k = a² Σ_k + b² I, and (x, z, x_t) are jointly Gaussian, so

    E[x | x_t, k] = μ_k + a Σ_k S_k⁻¹ (x_t − a μ_k),     E[z | x_t, k] = b S_k⁻¹ (x_t − a μ_k),

and E[· | x_t] mixes these with the responsibilities r_k(x_t) ∝ w_k N(x_t; a μ_k, S_k) (log-sum-exp).
S_k⁻¹ r is a linear solve, never an explicit inverse; (x_t, a, b) are first divided by max(a, b), which leaves
both posteriors unchanged and keeps a² and b² from overflowing. Source: 01 §3.2 (the optimal prediction is the
conditional mean); the mixture algebra is standard Gaussian conditioning.
"""
from __future__ import annotations

import math

import numpy as np

from genspec.spec import validate as V
from genspec.spec.bind import implements
from genspec.spec.errors import SpecInputError
from genspec.spec.family import PATHS, TARGETS  # noqa: F401  (this module's tables, named as in spec)

from . import family as F

POSTERIOR = "optimal.posterior_means"
PREDICTION = "optimal.prediction"


# ---- validation ---------------------------------------------------------------------------------
def mixture(clause, weights, means, covs):
    """Validate a Gaussian mixture; returns (normalised weights (K,), means (K, d), covs (K, d, d))."""
    weights = V.array(clause, "weights", weights, ndim=1)
    means = V.array(clause, "means", means, ndim=2)
    covs = V.array(clause, "covs", covs, ndim=3)
    K, d = means.shape
    if K == 0 or d == 0:
        raise SpecInputError(clause, "means", "a non-empty (K, d) array", f"shape {means.shape}")
    if weights.shape != (K,) or covs.shape != (K, d, d):
        raise SpecInputError(clause, "weights/means/covs", "shapes (K,), (K, d), (K, d, d)",
                             f"{weights.shape}, {means.shape}, {covs.shape}")
    V.interval(clause, "weights", weights, 0.0, what="non-negative")
    if not weights.sum() > 0:
        raise SpecInputError(clause, "weights", "non-negative with a positive sum", "all zero")
    scale = 1.0 + np.abs(covs).max()
    if np.abs(covs - np.swapaxes(covs, 1, 2)).max() > 1e-9 * scale:
        raise SpecInputError(clause, "covs", "symmetric matrices", "an asymmetric matrix")
    if np.linalg.eigvalsh(covs).min() <= 0:
        raise SpecInputError(clause, "covs", "positive definite matrices", "a matrix with an eigenvalue ≤ 0")
    return weights / weights.sum(), means, covs


def points(clause, x_t, d):
    x_t = V.array(clause, "x_t", x_t, ndim=2)
    if x_t.shape[1] != d:
        raise SpecInputError(clause, "x_t", f"shape (n, {d}) (the mixture's dimension)", f"shape {x_t.shape}")
    return x_t


def per_sample(clause, name, v, n, low=0.0, high=math.inf):
    """A scalar or an (n,) array, broadcast to (n,)."""
    v = V.array(clause, name, v, ndim=(0, 1))
    if v.ndim == 1 and v.shape[0] != n:
        raise SpecInputError(clause, name, f"a scalar or shape ({n},)", f"shape {v.shape}")
    V.interval(clause, name, v, low, high)
    return np.broadcast_to(v, (n,)).astype(np.float64)


# ---- the oracle ---------------------------------------------------------------------------------
@implements("optimal.posterior_means")
def posterior_means(x_t, a, b, weights, means, covs):
    """(E[x | x_t], E[z | x_t]) for x ~ Σ w_k N(μ_k, Σ_k), z ~ N(0, I), x_t = a x + b z  (01 §3.2).

    a, b: scalars or (n,) arrays, a, b ≥ 0, a² + b² > 0. a = 0 gives (mixture mean, x_t / b); b = 0 gives (x_t / a, 0).
    """
    c = POSTERIOR
    w, mu, cov = mixture(c, weights, means, covs)
    K, d = mu.shape
    n = x_t.shape[0]
    a, b = np.broadcast_to(a, (n,)).astype(np.float64), np.broadcast_to(b, (n,)).astype(np.float64)
    if ((a == 0) & (b == 0)).any():
        raise SpecInputError(c, "a/b", "not both 0 (x_t = 0 carries no information)", "a = b = 0")
    x_in, a_in, b_in = x_t, a, b
    # the posterior is invariant under (x_t, a, b) → (x_t, a, b)/m: normalise so that max(a, b) = 1 (no overflow)
    m = np.maximum(a, b)
    x_t, a, b = x_t / m[:, None], a / m, b / m
    S = a[:, None, None, None] ** 2 * cov[None] + b[:, None, None, None] ** 2 * np.eye(d)   # (n, K, d, d)
    r = x_t[:, None, :] - a[:, None, None] * mu[None]                                       # (n, K, d)
    u = np.linalg.solve(S, r[..., None])[..., 0]                                            # S_k⁻¹ r
    _, logdet = np.linalg.slogdet(S)
    with np.errstate(divide="ignore"):
        loglik = np.log(w)[None] - 0.5 * (d * math.log(2 * math.pi) + logdet + np.sum(r * u, axis=-1))
    resp = np.exp(loglik - loglik.max(axis=1, keepdims=True))
    resp /= resp.sum(axis=1, keepdims=True)                                                 # (n, K)
    x_k = mu[None] + a[:, None, None] * np.einsum("kij,nkj->nki", cov, u)
    z_k = b[:, None, None] * u
    x_hat = np.einsum("nk,nkd->nd", resp, x_k)
    z_hat = np.einsum("nk,nkd->nd", resp, z_k)
    # the singular points, exactly as the clause states them
    clean, noise = (b_in == 0)[:, None], (a_in == 0)[:, None]
    with np.errstate(divide="ignore", invalid="ignore"):
        x_hat = np.where(clean, x_in / np.where(clean, a_in[:, None], 1.0), x_hat)
        x_hat = np.where(noise, w @ mu, x_hat)
        z_hat = np.where(clean, 0.0, z_hat)
        z_hat = np.where(noise, x_in / np.where(noise, b_in[:, None], 1.0), z_hat)
    return x_hat, z_hat


# ---- paths and targets (reference/family.py's table) ---------------------------------------------
def coefficients(t, path="rf", target="velocity", schedule=None, clause=PREDICTION):
    """(a, b, c, d)(t) from the family table (03), with errors naming ``clause``."""
    try:
        return F.coefficients(t, path=path, target=target, schedule=schedule)
    except SpecInputError as e:
        raise SpecInputError(clause, e.argument, e.expected, e.got) from None


def target_coefficients(t, target="velocity", path="rf", schedule=None):
    """(c(t), d(t)) of the target y = c x + d z on the path."""
    return coefficients(t, path, target, schedule)[2:]


@implements("optimal.prediction")
def optimal_prediction(x_t, t, weights, means, covs, target="velocity", path="rf", schedule=None):
    """f*(x_t, t) = E[y | x_t] = c(t) E[x | x_t] + d(t) E[z | x_t], the MSE-optimal predictor of the target
    y = c x + d z on the path x_t = a(t) x + b(t) z  (01 §3.2; rf velocity: E[z − x | x_t])."""
    a, b, cc, dd = coefficients(np.broadcast_to(t, (len(x_t),)).astype(np.float64), path, target, schedule)
    x_hat, z_hat = posterior_means.raw(x_t, a, b, weights, means, covs)
    return cc[:, None] * x_hat + dd[:, None] * z_hat
