"""Autoregressive family in torch (spec/autoregressive.py): the functions, names and arguments of
reference/autoregressive.py; any device, batched over sequences. Log-probabilities keep the joint's dtype (16-bit
formats computed in float32); sampling compares CDFs in float64 like the reference."""
from __future__ import annotations

import torch

from genspec.spec.autoregressive import check_joint, check_sequences
from genspec.spec.bind import implements

from ._tensors import upcast


def _joint(clause, joint):
    """(K, L) of a joint normalised within its dtype's rounding (1e-9 in float64)."""
    return check_joint(clause, joint, 0.0 if joint.dtype == torch.float64 else torch.finfo(joint.dtype).eps)


def prefix_marginals(joint: torch.Tensor) -> list[torch.Tensor]:
    """[p(x_<0) = 1, p(x_0), p(x_0, x_1), …, joint]: marg[i] has shape (K,)*i."""
    L = joint.ndim
    one = torch.ones((), dtype=joint.dtype, device=joint.device)
    return [one] + [joint.sum(dim=tuple(range(i, L))) for i in range(1, L)] + [joint]


@implements("ar.factorization")
def chain_rule_log_prob(joint, x):
    """log p(x) = Σ_i log p(x_i | x_<i), p(x_i | x_<i) = p(x_≤i) / p(x_<i)  (03, 04); -inf where p(x_<i) = 0."""
    K, L = _joint("ar.factorization", joint)
    x = check_sequences("ar.factorization", "x", x, K, L).to(joint.device)
    (work,), dtype = upcast(joint)
    marg = prefix_marginals(work)
    out = torch.zeros(x.shape[0], dtype=work.dtype, device=joint.device)
    for i in range(L):
        prev = marg[i][tuple(x[:, :i].T)].expand(out.shape)   # p(x_<i)
        cur = marg[i + 1][tuple(x[:, :i + 1].T)]               # p(x_≤i)
        out = out + torch.where(prev > 0, torch.log(cur) - torch.log(prev), -torch.inf)
    return out.to(dtype)


@implements("ar.sampling")
def ancestral_sample(joint, u):
    """x_i = min{k : Σ_{j≤k} p(x_<i, j) > u_i p(x_<i)} (inverse CDF of p(x_i | x_<i) at u_i)  (04); int64 (n, L)."""
    K, L = _joint("ar.sampling", joint)
    check_sequences("ar.sampling", "u", u, K, L, integer=False)
    marg = prefix_marginals(joint.double())   # float64 CDFs: exact agreement with the reference given u
    u = u.double().to(joint.device)
    x = torch.zeros(u.shape, dtype=torch.long, device=joint.device)
    for i in range(L):
        row = marg[i + 1][tuple(x[:, :i].T)].expand(u.shape[0], K)   # p(x_<i, k) for every k
        cdf = torch.cumsum(row, dim=1)
        total = cdf[:, -1:].contiguous()
        below = torch.searchsorted(cdf, u[:, i:i + 1] * total, right=True)    # the first k with F(k) > u
        last_positive = torch.searchsorted(cdf, total, right=False)            # the last k with p > 0
        x[:, i] = torch.minimum(below, last_positive)[:, 0]
    return x
