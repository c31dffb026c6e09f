"""The MSE-optimal predictor for Gaussian-mixture data in torch (spec/optimal.py): any device, batched,
dtype-preserving (bfloat16/float16 are computed in float32 and rounded once at the end).

In the eigenbasis Σ_k = U_k diag(λ_k) U_kᵀ the per-sample covariance S_k = a² Σ_k + b² I is diagonal,
a² λ + b², so every solve is a division by a positive number, with no inverse of an ill-conditioned matrix:

    E[x | x_t, k] = μ_k + U_k diag(a λ / (a² λ + b²)) U_kᵀ (x_t − a μ_k),
    E[z | x_t, k] =       U_k diag(b     / (a² λ + b²)) U_kᵀ (x_t − a μ_k).

At b = 0 the first is x_t / a exactly; at a = 0 it is μ_k and the responsibilities are the weights.
"""
from __future__ import annotations

import math

import torch

from spec import validate as V
from spec.errors import SpecInputError

from . import family as F

POSTERIOR = "optimal.posterior_means"
PREDICTION = "optimal.prediction"
TARGETS = F.TARGETS
PATHS = F.PATHS


def _work_dtype(dtype):
    return dtype if dtype in (torch.float64, torch.float32) else torch.float32


def _as(v, like, dtype):
    if isinstance(v, torch.Tensor):
        return v.to(device=like.device, dtype=dtype)
    return torch.as_tensor(v, device=like.device, dtype=dtype)


class Mixture:
    """A validated Gaussian mixture with its eigendecomposition, cached for repeated calls (samplers)."""

    def __init__(self, weights, means, covs, clause=PREDICTION, device=None, dtype=torch.float64):
        weights = V.array(clause, "weights", torch.as_tensor(weights, dtype=torch.float64), ndim=1)
        means = V.array(clause, "means", torch.as_tensor(means, dtype=torch.float64), ndim=2)
        covs = V.array(clause, "covs", torch.as_tensor(covs, dtype=torch.float64), ndim=3)
        K, d = means.shape
        if K == 0 or d == 0:
            raise SpecInputError(clause, "means", "a non-empty (K, d) array", f"shape {tuple(means.shape)}")
        if tuple(weights.shape) != (K,) or tuple(covs.shape) != (K, d, d):
            raise SpecInputError(clause, "weights/means/covs", "shapes (K,), (K, d), (K, d, d)",
                                 f"{tuple(weights.shape)}, {tuple(means.shape)}, {tuple(covs.shape)}")
        V.interval(clause, "weights", weights, 0.0, what="non-negative")
        if not bool(weights.sum() > 0):
            raise SpecInputError(clause, "weights", "non-negative with a positive sum", "all zero")
        scale = 1.0 + float(covs.abs().max())
        if float((covs - covs.transpose(1, 2)).abs().max()) > 1e-9 * scale:
            raise SpecInputError(clause, "covs", "symmetric matrices", "an asymmetric matrix")
        lam, U = torch.linalg.eigh(covs)          # float64, once: K small d×d problems
        if float(lam.min()) <= 0:
            raise SpecInputError(clause, "covs", "positive definite matrices", "a matrix with an eigenvalue ≤ 0")
        device = device if device is not None else means.device
        cast = dict(device=device, dtype=dtype)
        self.K, self.d = K, d
        self.log_w = torch.log(weights / weights.sum()).to(**cast)
        self.w = (weights / weights.sum()).to(**cast)
        self.mu, self.lam, self.U = means.to(**cast), lam.to(**cast), U.to(**cast)

    @classmethod
    def of(cls, weights, means, covs, clause, like):
        if isinstance(weights, Mixture):
            return weights
        return cls(weights, means, covs, clause, device=like.device, dtype=_work_dtype(like.dtype))


def _per_sample(clause, name, v, n, like, dtype, low=0.0, high=math.inf):
    v = V.array(clause, name, _as(v, like, dtype), ndim=(0, 1))
    if v.ndim == 1 and v.shape[0] != n:
        raise SpecInputError(clause, name, f"a scalar or shape ({n},)", f"shape {tuple(v.shape)}")
    V.interval(clause, name, v, low, high)
    return v.expand(n)


def _points(clause, x_t, d):
    x_t = V.array(clause, "x_t", x_t, ndim=2)
    if x_t.shape[1] != d:
        raise SpecInputError(clause, "x_t", f"shape (n, {d}) (the mixture's dimension)", f"shape {tuple(x_t.shape)}")
    return x_t


def _posterior(x, a, b, m: Mixture):
    """The oracle on validated work-dtype tensors: x (n, d), a, b (n,)."""
    x_in, a_in, b_in = x, a, b
    scale = torch.maximum(a, b)                                       # the posterior is invariant under /scale
    x, a, b = x / scale[:, None], a / scale, b / scale
    a2, b2 = a[:, None, None], b[:, None, None]                       # (n, 1, 1)
    r = x[:, None, :] - a2 * m.mu[None]                               # (n, K, d)
    rho = torch.einsum("kji,nkj->nki", m.U, r)                        # Uᵀ r
    s = a2 ** 2 * m.lam[None] + b2 ** 2                               # eigenvalues of S_k, (n, K, d)
    loglik = m.log_w[None] - 0.5 * (m.d * math.log(2 * math.pi) + torch.log(s).sum(-1) + (rho ** 2 / s).sum(-1))
    resp = torch.softmax(loglik, dim=1)                               # log-sum-exp responsibilities
    x_k = m.mu[None] + torch.einsum("kij,nkj->nki", m.U, (a2 * m.lam[None] / s) * rho)
    z_k = torch.einsum("kij,nkj->nki", m.U, (b2 / s) * rho)
    x_hat = torch.einsum("nk,nkd->nd", resp, x_k)
    z_hat = torch.einsum("nk,nkd->nd", resp, z_k)
    clean, noise = (b_in == 0)[:, None], (a_in == 0)[:, None]
    one = torch.ones_like(a_in[:, None])
    x_hat = torch.where(clean, x_in / torch.where(clean, a_in[:, None], one), x_hat)
    x_hat = torch.where(noise, (m.w @ m.mu)[None], x_hat)
    z_hat = torch.where(clean, torch.zeros_like(z_hat), z_hat)
    z_hat = torch.where(noise, x_in / torch.where(noise, b_in[:, None], one), z_hat)
    return x_hat, z_hat


def _posterior_velocity(x, t, m: Mixture):
    """The rf oracle velocity E[z − x | x_t] on validated work-dtype tensors (x (n, d), t (n,)), for ODE solvers."""
    x_hat, z_hat = _posterior(x, 1.0 - t, t, m)
    return z_hat - x_hat


def posterior_means(x_t, a, b, weights, means=None, covs=None):
    """(E[x | x_t], E[z | x_t]) for x ~ Σ w_k N(μ_k, Σ_k), z ~ N(0, I), x_t = a x + b z  (01 §3.2).

    ``weights`` may be a prebuilt :class:`Mixture` (then means, covs are ignored).
    """
    c = POSTERIOR
    m = Mixture.of(weights, means, covs, c, x_t if isinstance(x_t, torch.Tensor) else torch.zeros(()))
    x_t = _points(c, x_t, m.d)
    wd = _work_dtype(x_t.dtype)
    n = x_t.shape[0]
    a, b = _per_sample(c, "a", a, n, x_t, wd), _per_sample(c, "b", b, n, x_t, wd)
    if bool(((a == 0) & (b == 0)).any()):
        raise SpecInputError(c, "a/b", "not both 0 (x_t = 0 carries no information)", "a = b = 0")
    x_hat, z_hat = _posterior(x_t.to(wd), a, b, m)
    return x_hat.to(x_t.dtype), z_hat.to(x_t.dtype)


def coefficients(t, path="rf", target="velocity", schedule=None, clause=PREDICTION):
    """(a, b, c, d)(t) from the family table (03), with errors naming ``clause``."""
    try:
        return F.coefficients(t, path=path, target=target, schedule=schedule)
    except SpecInputError as e:
        raise SpecInputError(clause, e.argument, e.expected, e.got) from None


def optimal_prediction(x_t, t, weights, means=None, covs=None, target="velocity", path="rf", schedule=None):
    """f*(x_t, t) = c(t) E[x | x_t] + d(t) E[z | x_t]: the MSE-optimal predictor of y = c x + d z  (01 §3.2)."""
    c = PREDICTION
    V.choice(c, "target", target, TARGETS)
    V.choice(c, "path", path, PATHS)
    if schedule is not None:
        V.choice(c, "schedule", schedule, ("none", "linear", "cosine", "geometric"))
    m = Mixture.of(weights, means, covs, c, x_t if isinstance(x_t, torch.Tensor) else torch.zeros(()))
    x_t = _points(c, x_t, m.d)
    wd = _work_dtype(x_t.dtype)
    t = _per_sample(c, "t", t, x_t.shape[0], x_t, wd, 0.0, 1.0)
    a, b, cc, dd = coefficients(t, path, target, schedule)
    x_hat, z_hat = _posterior(x_t.to(wd), a, b, m)
    return (cc[:, None] * x_hat + dd[:, None] * z_hat).to(x_t.dtype)
