"""Autoregressive family in torch (spec/autoregressive.py): any device, batched over sequences. Log-probabilities
keep the joint's dtype (16-bit formats computed in float32); sampling compares CDFs in float64 like the reference."""
from __future__ import annotations

import torch

from spec import validate as V
from spec.errors import SpecInputError


def _joint(c, joint):
    joint = V.array(c, "joint", joint, min_ndim=1)
    K = joint.shape[0]
    if K == 0 or any(s != K for s in joint.shape):
        raise SpecInputError(c, "joint", "shape (K,)*L with K ≥ 1", f"shape {tuple(joint.shape)}")
    V.interval(c, "joint", joint, 0.0, what="probabilities (≥ 0)")
    # 1e-9 in float64; a lower-precision joint is only normalised to within its rounding
    tol = 1e-9 if joint.dtype == torch.float64 else max(1e-9, joint.numel() * torch.finfo(joint.dtype).eps)
    total = float(joint.double().sum())
    if abs(total - 1.0) > tol:
        raise SpecInputError(c, "joint", f"a distribution summing to 1 within {tol:.1g}", f"sum {total!r}")
    return joint


def _tokens(c, x, K, L):
    if not isinstance(x, torch.Tensor):
        raise SpecInputError(c, "x", "an integer tensor of tokens", type(x).__name__)
    if x.is_floating_point() or x.is_complex() or x.dtype == torch.bool:
        raise SpecInputError(c, "x", "an integer array of tokens", f"dtype {x.dtype}")
    if x.ndim != 2 or x.shape[1] != L:
        raise SpecInputError(c, "x", f"shape (n, L) with L = {L}", f"shape {tuple(x.shape)}")
    if x.numel() and (int(x.min()) < 0 or int(x.max()) >= K):
        raise SpecInputError(c, "x", f"tokens in [0, {K})", f"values in [{int(x.min())}, {int(x.max())}]")
    return x.long()


def prefix_marginals(joint: torch.Tensor) -> list[torch.Tensor]:
    """[p(x_<0) = 1, p(x_0), p(x_0, x_1), …, joint]: marg[i] has shape (K,)*i."""
    L = joint.ndim
    one = torch.ones((), dtype=joint.dtype, device=joint.device)
    return [one] + [joint.sum(dim=tuple(range(i, L))) for i in range(1, L)] + [joint]


def chain_rule_log_prob(joint: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """log p(x) = Σ_i log p(x_i | x_<i), p(x_i | x_<i) = p(x_≤i) / p(x_<i)  (03, 04); -inf where p(x_<i) = 0."""
    c = "ar.factorization"
    joint = _joint(c, joint)
    dtype = joint.dtype
    K, L = joint.shape[0], joint.ndim
    x = _tokens(c, x, K, L).to(joint.device)
    marg = prefix_marginals(joint.float() if dtype in (torch.bfloat16, torch.float16) else joint)
    out = torch.zeros(x.shape[0], dtype=marg[0].dtype, device=joint.device)
    for i in range(L):
        prev = marg[i][tuple(x[:, :i].T)].expand(out.shape)   # p(x_<i)
        cur = marg[i + 1][tuple(x[:, :i + 1].T)]               # p(x_≤i)
        out = out + torch.where(prev > 0, torch.log(cur) - torch.log(prev), -torch.inf)
    return out.to(dtype)


def ancestral_sample(joint: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
    """x_i = min{k : Σ_{j≤k} p(x_<i, j) > u_i p(x_<i)} (inverse CDF of p(x_i | x_<i) at u_i)  (04); int64 (n, L)."""
    c = "ar.sampling"
    joint = _joint(c, joint)
    K, L = joint.shape[0], joint.ndim
    u = V.array(c, "u", u, ndim=2)
    if u.shape[1] != L:
        raise SpecInputError(c, "u", f"shape (n, L) with L = {L}", f"shape {tuple(u.shape)}")
    V.interval(c, "u", u, 0.0, 1.0)
    marg = prefix_marginals(joint.double())   # float64 CDFs: exact agreement with the reference given u
    u = u.double().to(joint.device)
    x = torch.zeros(u.shape, dtype=torch.long, device=joint.device)
    for i in range(L):
        row = marg[i + 1][tuple(x[:, :i].T)].expand(u.shape[0], K)   # p(x_<i, k) for every k
        cdf = torch.cumsum(row, dim=1)
        total = cdf[:, -1:].contiguous()
        # below = #{k : F(k) ≤ u}: the first k with F(k) > u
        below = torch.searchsorted(cdf, u[:, i:i + 1] * total, right=True)
        # last_positive = #{k : F(k) < F(K-1)}: the last k with p > 0
        last_positive = torch.searchsorted(cdf, total, right=False)
        x[:, i] = torch.minimum(below, last_positive)[:, 0]
    return x
