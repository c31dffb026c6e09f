"""DiT building blocks, float64 NumPy reference (spec/dit.py; 00, 01, 03): patchify, timestep embedding, AdaLN,
FiLM and AdaLN-Zero's gated residual, every convention variant."""
from __future__ import annotations

import numpy as np

from spec import validate as V
from spec.errors import SpecInputError

LAYOUTS = ("nhwpqc", "channel_first")
ORDERS = ("cos_sin", "sin_cos")
FREQ_SHIFTS = ("shift_0", "shift_1")
TIME_SCALES = ("as_given", "times_1000")
MODULATIONS = ("gamma_beta", "one_plus_scale")


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


def patchify(x, p, layout="nhwpqc"):
    """X[n, (a p + b) C + c] = x[c, i p + a, j p + b], n = i (W/p) + j  ('channel_first': feature c p² + a p + b)."""
    cl = "dit.patchify"
    p = V.scalar(cl, "p", p, 1, integer=True)
    x = V.array(cl, "x", x, min_ndim=3)
    V.choice(cl, "layout", layout, LAYOUTS)
    C, H, W = x.shape[-3:]
    if H % p or W % p:
        raise SpecInputError(cl, "x", f"height and width divisible by p = {p}", f"shape {x.shape}")
    c, r, s = _index(C, H, W, p, layout)
    return x[..., c, r, s].reshape(*x.shape[:-3], (H // p) * (W // p), p * p * C)


def unpatchify(x, p, H, W, layout="nhwpqc"):
    """The inverse of patchify: image[c, i p + a, j p + b] = X[n, feature(a, b, c)], C = D / p²."""
    cl = "dit.unpatchify"
    p = V.scalar(cl, "p", p, 1, integer=True)
    H, W = V.scalar(cl, "H", H, 1, integer=True), V.scalar(cl, "W", W, 1, integer=True)
    x = V.array(cl, "x", x, min_ndim=2)
    V.choice(cl, "layout", layout, LAYOUTS)
    if H % p or W % p:
        raise SpecInputError(cl, "H/W", f"divisible by p = {p}", f"H = {H}, W = {W}")
    N, D = x.shape[-2:]
    if N != (H // p) * (W // p) or D % (p * p) or D == 0:
        raise SpecInputError(cl, "x", f"shape (..., {(H // p) * (W // p)}, a positive multiple of {p * p})",
                             f"shape {x.shape}")
    C = D // (p * p)
    c, r, s = _index(C, H, W, p, layout)
    out = np.zeros((*x.shape[:-2], C, H, W))
    out[..., c, r, s] = x.reshape(*x.shape[:-2], *c.shape)
    return out


def timestep_embedding(t, dim, max_period=10000.0, order="cos_sin", freq_shift="shift_0", time_scale="as_given"):
    """e(t) = [cos(t f), sin(t f)], f_k = exp(−ln(P) k / h), h = dim // 2, a zero column if dim is odd (DiT/ADM).

    Variants: order 'sin_cos' swaps the halves (diffusers flip_sin_to_cos=False); freq_shift 'shift_1' divides by
    h − 1 (diffusers downscale_freq_shift=1); time_scale 'times_1000' embeds 1000 t.
    """
    cl = "dit.timestep_embedding"
    dim = V.scalar(cl, "dim", dim, 1, 2**16, integer=True)
    P = V.scalar(cl, "max_period", max_period, 1.0, low_closed=False)
    t = V.array(cl, "t", t, ndim=1)
    V.choice(cl, "order", order, ORDERS)
    V.choice(cl, "freq_shift", freq_shift, FREQ_SHIFTS)
    V.choice(cl, "time_scale", time_scale, TIME_SCALES)
    h = dim // 2
    denom = h - (1 if freq_shift == "shift_1" else 0)
    if h and denom <= 0:
        raise SpecInputError(cl, "dim", "at least 4 with freq_shift = shift_1 (h − 1 > 0)", str(dim))
    f = np.exp(-np.log(P) * np.arange(h) / denom) if h else np.zeros(0)
    arg = (1000.0 * t if time_scale == "times_1000" else t)[:, None] * f[None, :]
    halves = [np.cos(arg), np.sin(arg)] if order == "cos_sin" else [np.sin(arg), np.cos(arg)]
    return np.concatenate(halves + [np.zeros((t.shape[0], dim % 2))], axis=1)


def adaln(h, gamma, beta, eps=1e-6, modulation="gamma_beta"):
    """γ ⊙ (h − μ)/√(σ² + ε) + β over the last axis, biased σ² (03); 'one_plus_scale': (h, s, shift) → γ = 1 + s."""
    cl = "dit.adaln"
    h = V.array(cl, "h", h, min_ndim=1)
    gamma, beta = V.array(cl, "gamma", gamma), V.array(cl, "beta", beta)
    eps = V.scalar(cl, "eps", eps, 0.0, low_closed=False)
    V.choice(cl, "modulation", modulation, MODULATIONS)
    V.broadcastable(cl, ("h", "gamma", "beta"), h, gamma, beta)
    if modulation == "one_plus_scale":
        gamma = 1.0 + gamma
    mu = h.mean(axis=-1, keepdims=True)
    var = ((h - mu) ** 2).mean(axis=-1, keepdims=True)
    return gamma * ((h - mu) / np.sqrt(var + eps)) + beta


def film(h, gamma, beta):
    """FiLM(h) = γ ⊙ h + β (03: "transform features as γ · h + β")."""
    cl = "unet.film"
    h = V.array(cl, "h", h, min_ndim=1)
    gamma, beta = V.array(cl, "gamma", gamma), V.array(cl, "beta", beta)
    V.broadcastable(cl, ("h", "gamma", "beta"), h, gamma, beta)
    return gamma * h + beta


def gated_residual(x, gate, branch):
    """AdaLN-Zero: x + g ⊙ F; g = 0 (the initialisation) gives x."""
    cl = "dit.adaln_zero"
    x = V.array(cl, "x", x, min_ndim=1)
    gate, branch = V.array(cl, "gate", gate), V.array(cl, "branch", branch)
    V.broadcastable(cl, ("x", "gate", "branch"), x, gate, branch)
    return x + gate * branch
