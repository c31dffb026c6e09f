"""Autoregressive family, float64 NumPy reference (spec/autoregressive.py): an explicit joint of shape (K,)*L.

Arguments are checked by spec.bind from the clauses' symbols; spec.autoregressive.check_joint adds what a domain
cannot say (every axis of length K, Σ joint = 1), check_sequences the rows' length L and the tokens' range [0, K).
"""
from __future__ import annotations

import numpy as np

from genspec.spec.autoregressive import check_joint, check_sequences
from genspec.spec.bind import implements


def prefix_marginals(joint):
    """[p(x_<0) = 1 (the empty prefix), p(x_0), p(x_0, x_1), …, p(x_0..x_{L-1}) = joint]: marg[i] has shape (K,)*i."""
    L = joint.ndim
    return [np.float64(1.0)] + [joint.sum(axis=tuple(range(i, L))) for i in range(1, L)] + [joint]


@implements("ar.factorization")
def chain_rule_log_prob(joint, x):
    """log p(x) = Σ_i log p(x_i | x_<i), p(x_i | x_<i) = p(x_≤i) / p(x_<i)  (03, 04); -inf where p(x_<i) = 0.

    Args: joint (K,)*L; x (n, L) integer tokens in [0, K).
    """
    K, L = check_joint("ar.factorization", joint)
    check_sequences("ar.factorization", "x", x, K, L)
    marg = prefix_marginals(joint)
    out = np.zeros(x.shape[0])
    for i in range(L):
        prev = np.broadcast_to(marg[i][tuple(x[:, :i].T)], out.shape)   # p(x_<i)
        cur = marg[i + 1][tuple(x[:, :i + 1].T)]                         # p(x_≤i)
        with np.errstate(divide="ignore", invalid="ignore"):
            out += np.where(prev > 0, np.log(cur) - np.log(prev), -np.inf)
    return out


@implements("ar.sampling")
def ancestral_sample(joint, u):
    """x_i = min{k : Σ_{j≤k} p(x_<i, j) > u_i p(x_<i)}, the inverse CDF of p(x_i | x_<i) at u_i  (04).

    Args: joint (K,)*L; u (n, L) uniforms in [0, 1]. u_i = 1 (or a CDF that rounds below u_i) gives the last token
    of positive conditional probability.
    """
    K, L = check_joint("ar.sampling", joint)
    check_sequences("ar.sampling", "u", u, K, L, integer=False)
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
