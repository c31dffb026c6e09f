"""DiT building blocks in PyTorch (spec/dit.py): the functions, names and arguments of reference/dit.py, every
convention variant. Any device, dtype-preserving; bfloat16/float16 are computed in float32 and rounded once."""
from __future__ import annotations

import functools
import math

import torch
import torch.nn.functional as F

from genspec.spec.bind import implements
from genspec.spec.errors import SpecInputError

from ._tensors import upcast


def _feature_axes(n: int, layout: str) -> tuple[int, int, int]:
    """Positions of (a, b, C) among the axes (..., C, h, a, w, b) in the layout's feature order (a, b: pixel row and
    column in the patch)."""
    return (n + 2, n + 4, n) if layout == "nhwpqc" else (n, n + 2, n + 4)


@implements("dit.patchify")
def patchify(x, p, layout="nhwpqc"):
    """Image (..., C, H, W) → tokens (..., (H/p)(W/p), p·p·C): token n = i (W/p) + j; feature (a p + b) C + c
    (nhwpqc, DiT) or c p² + a p + b (channel_first). Exact (a permutation of the entries)."""
    C, H, W = x.shape[-3:]
    if H % p or W % p:
        raise SpecInputError("dit.patchify", "x", f"height and width divisible by p = {p}", f"shape {tuple(x.shape)}")
    lead, h, w = x.shape[:-3], H // p, W // p
    n = len(lead)
    y = x.reshape(*lead, C, h, p, w, p).permute(*range(n), n + 1, n + 3, *_feature_axes(n, layout))
    return y.reshape(*lead, h * w, p * p * C)


@implements("dit.unpatchify")
def unpatchify(x, p, H, W, layout="nhwpqc"):
    """Tokens (..., (H/p)(W/p), p·p·C) → image (..., C, H, W): the exact inverse of patchify, C = features / p²."""
    if H % p or W % p:
        raise SpecInputError("dit.unpatchify", "H/W", f"divisible by p = {p}", f"H = {H}, W = {W}")
    h, w = H // p, W // p
    N, D = x.shape[-2:]
    if N != h * w or D % (p * p) or D == 0:
        raise SpecInputError("dit.unpatchify", "x", f"shape (..., {h * w}, a positive multiple of {p * p})",
                             f"shape {tuple(x.shape)}")
    C, lead = D // (p * p), x.shape[:-2]
    n = len(lead)
    order = (C, p, p) if layout == "channel_first" else (p, p, C)
    y = x.reshape(*lead, h, w, *order)                                   # (..., h, w, f0, f1, f2)
    a, b, c = (n + 2 + k for k in ((1, 2, 0) if layout == "channel_first" else (0, 1, 2)))
    return y.permute(*range(n), c, n, a, n + 1, b).reshape(*lead, C, H, W)


def _integer_steps(fn):
    """Integer steps (DDPM's 0..999) are embedded in float32, as DiT/ADM do: converted before spec.bind's check of t."""
    @functools.wraps(fn)
    def embed(t, *args, **kwargs):
        if isinstance(t, torch.Tensor) and not (t.is_floating_point() or t.is_complex() or t.dtype == torch.bool):
            t = t.to(torch.float32)
        return fn(t, *args, **kwargs)
    return embed


@_integer_steps
@implements("dit.timestep_embedding")
def timestep_embedding(t, dim, max_period=10000.0, order="cos_sin", freq_shift="shift_0", time_scale="as_given"):
    """e(t) = [cos(t f), sin(t f)], f_k = exp(−ln(P) k / h), h = dim // 2, a zero column if dim is odd (DiT/ADM);
    'sin_cos' swaps the halves, 'shift_1' divides by h − 1, 'times_1000' embeds 1000 t."""
    (t,), dt = upcast(t)
    h = dim // 2
    denom = h - (1 if freq_shift == "shift_1" else 0)
    if h and denom <= 0:
        raise SpecInputError("dit.timestep_embedding", "dim", "at least 4 with freq_shift = shift_1 (h − 1 > 0)",
                             str(dim))
    k = torch.arange(h, dtype=t.dtype, device=t.device)
    f = torch.exp(-math.log(max_period) * k / denom) if h else k
    arg = (1000.0 * t if time_scale == "times_1000" else t)[:, None] * f[None]
    halves = [torch.cos(arg), torch.sin(arg)] if order == "cos_sin" else [torch.sin(arg), torch.cos(arg)]
    return torch.cat([*halves, arg.new_zeros(len(t), dim % 2)], dim=-1).to(dt)


@implements("dit.adaln")
def adaln(h, gamma, beta, eps=1e-6, modulation="gamma_beta"):
    """AdaLN: γ ⊙ (h − μ)/√(σ² + ε) + β, μ and biased σ² over the last axis (LayerNorm without affine);
    'one_plus_scale' takes DiT's (h, scale, shift): γ = 1 + scale."""
    (h, gamma, beta), dt = upcast(h, gamma, beta)
    gamma = 1.0 + gamma if modulation == "one_plus_scale" else gamma
    return torch.addcmul(beta, gamma, F.layer_norm(h, h.shape[-1:], eps=eps)).to(dt)


@implements("unet.film")
def film(h, gamma, beta):
    """FiLM: γ ⊙ h + β (γ, β broadcast against h, e.g. (B, C, 1, 1) for feature maps)."""
    (h, gamma, beta), dt = upcast(h, gamma, beta)
    return torch.addcmul(beta, gamma, h).to(dt)


@implements("dit.adaln_zero")
def gated_residual(x, gate, branch):
    """AdaLN-Zero residual: x + gate ⊙ branch (a zero-initialised gate makes the block the identity)."""
    (x, gate, branch), dt = upcast(x, gate, branch)
    return torch.addcmul(x, gate, branch).to(dt)
