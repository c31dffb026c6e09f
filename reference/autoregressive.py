"""Autoregressive family, float64 NumPy reference (spec/autoregressive.py): an explicit joint of shape (K,)*L."""
from __future__ import annotations

import numpy as np

from spec import validate as V
from spec.errors import SpecInputError

SUM_TOL = 1e-9  # |Σ joint - 1| for a float64 joint


def _joint(c, joint):
    joint = V.array(c, "joint", joint, min_ndim=1)
    K = joint.shape[0]
    if K == 0 or any(s != K for s in joint.shape):
        raise SpecInputError(c, "joint", "shape (K,)*L with K ≥ 1", f"shape {joint.shape}")
    V.interval(c, "joint", joint, 0.0, what="probabilities (≥ 0)")
    total = float(np.sum(joint))
    if abs(total - 1.0) > SUM_TOL:
        raise SpecInputError(c, "joint", f"a distribution summing to 1 within {SUM_TOL:g}", f"sum {total!r}")
    return joint


def _tokens(c, x, K, L):
    x = np.asarray(x)
    if x.dtype.kind not in "iu":
        raise SpecInputError(c, "x", "an integer array of tokens", f"dtype {x.dtype}")
    if x.ndim != 2 or x.shape[1] != L:
        raise SpecInputError(c, "x", f"shape (n, L) with L = {L}", f"shape {x.shape}")
    if x.size and (x.min() < 0 or x.max() >= K):
        raise SpecInputError(c, "x", f"tokens in [0, {K})", f"values in [{x.min()}, {x.max()}]")
    return x


def prefix_marginals(joint):
    """[p(x_<0) = 1 (the empty prefix), p(x_0), p(x_0, x_1), …, p(x_0..x_{L-1}) = joint]: marg[i] has shape (K,)*i."""
    L = joint.ndim
    return [np.float64(1.0)] + [joint.sum(axis=tuple(range(i, L))) for i in range(1, L)] + [joint]


def chain_rule_log_prob(joint, x):
    """log p(x) = Σ_i log p(x_i | x_<i), p(x_i | x_<i) = p(x_≤i) / p(x_<i)  (03, 04); -inf where p(x_<i) = 0."""
    c = "ar.factorization"
    joint = _joint(c, joint)
    K, L = joint.shape[0], joint.ndim
    x = _tokens(c, x, K, L)
    marg = prefix_marginals(joint)
    out = np.zeros(x.shape[0])
    for i in range(L):
        prev = np.broadcast_to(marg[i][tuple(x[:, :i].T)], out.shape)   # p(x_<i)
        cur = marg[i + 1][tuple(x[:, :i + 1].T)]                         # p(x_≤i)
        with np.errstate(divide="ignore", invalid="ignore"):
            out += np.where(prev > 0, np.log(cur) - np.log(prev), -np.inf)
    return out


def ancestral_sample(joint, u):
    """x_i = min{k : Σ_{j≤k} p(x_<i, j) > u_i p(x_<i)}, the inverse CDF of p(x_i | x_<i) at u_i  (04).

    u_i = 1 (or a CDF that rounds below u_i) gives the last token of positive conditional probability.
    """
    c = "ar.sampling"
    joint = _joint(c, joint)
    K, L = joint.shape[0], joint.ndim
    u = V.array(c, "u", u, ndim=2)
    if u.shape[1] != L:
        raise SpecInputError(c, "u", f"shape (n, L) with L = {L}", f"shape {u.shape}")
    V.interval(c, "u", u, 0.0, 1.0)
    marg = prefix_marginals(joint)
    x = np.zeros(u.shape, dtype=np.int64)
    for i in range(L):
        row = np.broadcast_to(marg[i + 1][tuple(x[:, :i].T)], (u.shape[0], K))  # p(x_<i, k) for every k
        cdf = np.cumsum(row, axis=1)
        total = cdf[:, -1:]
        below = np.sum(cdf <= u[:, i:i + 1] * total, axis=1)   # #{k : F(k) ≤ u}: the first k with F(k) > u
        last_positive = np.sum(cdf < total, axis=1)          # the last k with p(k | x_<i) > 0
        x[:, i] = np.minimum(below, last_positive)
    return x
