"""DiT building blocks, float64 NumPy reference (spec/dit.py; 00, 01, 03): patchify, timestep embedding, AdaLN,
FiLM and AdaLN-Zero's gated residual, every convention variant.

Arguments are checked by spec.bind from the clauses' symbols (images (..., C, H, W), tokens (..., N, D), sizes
integers in [1, 2¹⁶]); the modulation operands γ, β and the gate broadcast against h (Domain.broadcast_to).
"""
from __future__ import annotations

import numpy as np

from genspec.spec.bind import implements
from genspec.spec.errors import SpecInputError


def _index(C, H, W, p, layout):
    """Index arrays (c, row, col), each of shape (h, w, ·, ·, ·) in the layout's feature order."""
    h, w = H // p, W // p
    if layout == "nhwpqc":      # feature (a p + b) C + c
        i, j, a, b, c = np.meshgrid(np.arange(h), np.arange(w), np.arange(p), np.arange(p), np.arange(C),
                                    indexing="ij")
    else:                       # channel_first: feature c p² + a p + b
        i, j, c, a, b = np.meshgrid(np.arange(h), np.arange(w), np.arange(C), np.arange(p), np.arange(p),
                                    indexing="ij")
    return c, i * p + a, j * p + b


@implements("dit.patchify")
def patchify(x, p, layout="nhwpqc"):
    """X[n, (a p + b) C + c] = x[c, i p + a, j p + b], n = i (W/p) + j  ('channel_first': feature c p² + a p + b)."""
    C, H, W = x.shape[-3:]
    if H % p or W % p:
        raise SpecInputError("dit.patchify", "x", f"height and width divisible by p = {p}", f"shape {x.shape}")
    c, r, s = _index(C, H, W, p, layout)
    return x[..., c, r, s].reshape(*x.shape[:-3], (H // p) * (W // p), p * p * C)


@implements("dit.unpatchify")
def unpatchify(x, p, H, W, layout="nhwpqc"):
    """The inverse of patchify: image[c, i p + a, j p + b] = X[n, feature(a, b, c)], C = D / p²."""
    if H % p or W % p:
        raise SpecInputError("dit.unpatchify", "H/W", f"divisible by p = {p}", f"H = {H}, W = {W}")
    N, D = x.shape[-2:]
    if N != (H // p) * (W // p) or D % (p * p) or D == 0:
        raise SpecInputError("dit.unpatchify", "x", f"shape (..., {(H // p) * (W // p)}, a positive multiple of "
                                                    f"{p * p})", f"shape {x.shape}")
    C = D // (p * p)
    c, r, s = _index(C, H, W, p, layout)
    out = np.zeros((*x.shape[:-2], C, H, W))
    out[..., c, r, s] = x.reshape(*x.shape[:-2], *c.shape)
    return out


@implements("dit.timestep_embedding")
def timestep_embedding(t, dim, max_period=10000.0, order="cos_sin", freq_shift="shift_0", time_scale="as_given"):
    """e(t) = [cos(t f), sin(t f)], f_k = exp(−ln(P) k / h), h = dim // 2, a zero column if dim is odd (DiT/ADM).

    Variants: order 'sin_cos' swaps the halves (diffusers flip_sin_to_cos=False); freq_shift 'shift_1' divides by
    h − 1 (diffusers downscale_freq_shift=1); time_scale 'times_1000' embeds 1000 t.
    """
    h = dim // 2
    denom = h - (1 if freq_shift == "shift_1" else 0)
    if h and denom <= 0:
        raise SpecInputError("dit.timestep_embedding", "dim", "at least 4 with freq_shift = shift_1 (h − 1 > 0)",
                             str(dim))
    f = np.exp(-np.log(max_period) * np.arange(h) / denom) if h else np.zeros(0)
    arg = (1000.0 * t if time_scale == "times_1000" else t)[:, None] * f[None, :]
    halves = [np.cos(arg), np.sin(arg)] if order == "cos_sin" else [np.sin(arg), np.cos(arg)]
    return np.concatenate(halves + [np.zeros((t.shape[0], dim % 2))], axis=1)


@implements("dit.adaln")
def adaln(h, gamma, beta, eps=1e-6, modulation="gamma_beta"):
    """γ ⊙ (h − μ)/√(σ² + ε) + β over the last axis, biased σ² (03); 'one_plus_scale': (h, s, shift) → γ = 1 + s."""
    gamma = 1.0 + gamma if modulation == "one_plus_scale" else gamma
    mu = h.mean(axis=-1, keepdims=True)
    var = ((h - mu) ** 2).mean(axis=-1, keepdims=True)
    return gamma * ((h - mu) / np.sqrt(var + eps)) + beta


@implements("unet.film")
def film(h, gamma, beta):
    """FiLM(h) = γ ⊙ h + β (03: "transform features as γ · h + β")."""
    return gamma * h + beta


@implements("dit.adaln_zero")
def gated_residual(x, gate, branch):
    """AdaLN-Zero: x + g ⊙ F; g = 0 (the initialisation) gives x."""
    return x + gate * branch
