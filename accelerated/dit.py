"""DiT building blocks in PyTorch (spec/dit.py): patchify, timestep embedding, AdaLN, FiLM, gated residual.

Any device, dtype-preserving; bfloat16/float16 are computed in float32 and rounded once.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from spec import validate as V
from spec.errors import SpecInputError

from ._tensors import tensor as _tensor
from ._tensors import upcast as _work


def _patch(clause: str, p) -> int:
    return int(V.scalar(clause, "p", p, 1, integer=True))


def patchify(x, p):
    """Image (..., C, H, W) → tokens (..., (H/p)(W/p), p·p·C).

    Token n = i·(W/p) + j for patch row i, column j; feature (a·p + b)·C + c for pixel (a, b) of the patch and
    channel c (DiT's 'nhwpqc' order). Exact (a permutation of the entries).
    """
    c = "dit.patchify"
    p = _patch(c, p)
    x = _tensor(c, "x", x, 3)
    C, H, W = x.shape[-3:]
    if H % p or W % p:
        raise SpecInputError(c, "x", f"height and width divisible by p = {p}", f"shape {tuple(x.shape)}")
    lead = x.shape[:-3]
    h, w = H // p, W // p
    y = x.reshape(*lead, C, h, p, w, p)
    n = len(lead)
    y = y.permute(*range(n), n + 1, n + 3, n + 2, n + 4, n)        # (..., h, w, a, b, C)
    return y.reshape(*lead, h * w, p * p * C)


def unpatchify(x, p, H, W):
    """Tokens (..., (H/p)(W/p), p·p·C) → image (..., C, H, W): the exact inverse of patchify, C = features / p²."""
    c = "dit.unpatchify"
    p = _patch(c, p)
    H = V.scalar(c, "H", H, 1, integer=True)
    W = V.scalar(c, "W", W, 1, integer=True)
    x = _tensor(c, "x", x, 2)
    if H % p or W % p:
        raise SpecInputError(c, "H/W", f"divisible by p = {p}", f"H = {H}, W = {W}")
    h, w = H // p, W // p
    N, D = x.shape[-2:]
    if N != h * w or D % (p * p) or D == 0:
        raise SpecInputError(c, "x", f"shape (..., {h * w}, a positive multiple of {p * p})", f"shape {tuple(x.shape)}")
    C = D // (p * p)
    lead = x.shape[:-2]
    n = len(lead)
    y = x.reshape(*lead, h, w, p, p, C)
    y = y.permute(*range(n), n + 4, n, n + 2, n + 1, n + 3)        # (..., C, h, a, w, b)
    return y.reshape(*lead, C, H, W)


def timestep_embedding(t, dim, max_period=10000.0):
    """DiT/ADM sinusoidal embedding: t (N,) → (N, dim).

    half = dim // 2, f_k = exp(−ln(max_period)·k/half) for k = 0..half−1, e(t) = [cos(t f), sin(t f)], and a zero
    column appended when dim is odd. Integer t gives float32; half-precision t is computed in float32 and rounded once.
    """
    c = "dit.timestep_embedding"
    dim = V.scalar(c, "dim", dim, 1, 2**16, integer=True)
    max_period = V.scalar(c, "max_period", max_period, 1.0, low_closed=False)
    if isinstance(t, torch.Tensor) and not t.is_floating_point() and not t.is_complex() and t.dtype != torch.bool:
        t = t.to(torch.float32)
    t = _tensor(c, "t", t, ndim=1)
    (t,), dt = _work(t)
    half = dim // 2
    k = torch.arange(half, dtype=t.dtype, device=t.device)
    f = torch.exp(-math.log(max_period) * k / half) if half else k
    arg = t[:, None] * f[None]
    e = torch.cat([torch.cos(arg), torch.sin(arg)], dim=-1)
    if dim % 2:
        e = torch.cat([e, e.new_zeros(e.shape[0], 1)], dim=-1)
    return e.to(dt)


def _modulation(clause, h, names, *xs):
    h = _tensor(clause, "h", h, 1)
    xs = [_tensor(clause, n, x) for n, x in zip(names, xs, strict=True)]
    V.broadcastable(clause, ("h",) + names, h, *xs)
    return h, xs


def adaln(h, gamma, beta, eps=1e-6):
    """AdaLN: γ ⊙ (h − μ)/√(σ² + ε) + β, μ and biased σ² over the last axis (LayerNorm without affine).

    DiT's modulate(LN(h), shift, scale) = adaln(h, 1 + scale, shift). γ, β broadcast against h, e.g. (B, 1, D).
    """
    c = "dit.adaln"
    eps = V.scalar(c, "eps", eps, 0.0, low_closed=False)
    h, (gamma, beta) = _modulation(c, h, ("gamma", "beta"), gamma, beta)
    (h, gamma, beta), dt = _work(h, gamma, beta)
    n = F.layer_norm(h, h.shape[-1:], eps=eps)
    return torch.addcmul(beta, gamma, n).to(dt)


def film(h, gamma, beta):
    """FiLM: γ ⊙ h + β (γ, β broadcast against h, e.g. (B, C, 1, 1) for feature maps)."""
    c = "unet.film"
    h, (gamma, beta) = _modulation(c, h, ("gamma", "beta"), gamma, beta)
    (h, gamma, beta), dt = _work(h, gamma, beta)
    return torch.addcmul(beta, gamma, h).to(dt)


def gated_residual(x, gate, branch):
    """AdaLN-Zero residual: x + gate ⊙ branch (a zero-initialised gate makes the block the identity)."""
    c = "dit.adaln_zero"
    x = _tensor(c, "x", x, 1)
    gate, branch = _tensor(c, "gate", gate), _tensor(c, "branch", branch)
    V.broadcastable(c, ("x", "gate", "branch"), x, gate, branch)
    (x, gate, branch), dt = _work(x, gate, branch)
    return torch.addcmul(x, gate, branch).to(dt)
