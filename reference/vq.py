"""Vector quantisation and the token-level autoregressive clauses, float64 NumPy reference (spec/vq.py; 00, 03).

Tokens are int64 arrays; gradients are returned explicitly (NumPy has no autograd): the stop-gradient sg[·] of
the notes is the statement of which gradient is zero.
"""
from __future__ import annotations

import numpy as np

from spec import validate as V
from spec.cfg import FORMS
from spec.errors import SpecInputError

from .cfg import cfg_combine
from .cond import choice, integers

CODEBOOKS = ("loss", "ema")
TIES = ("keep_ties", "exactly_k")
BETA_MAX = 1e3
MAX_L = 4096


def _vectors(clause, names, *arrays):
    out = [V.array(clause, n, a, ndim=2) for n, a in zip(names, arrays, strict=True)]
    V.same_shape(clause, names, *out)
    return out


def quantize(z, codebook):
    """k(z) = argmin_k ‖z − e_k‖² (ties: the lowest k; 03's VQ-VAE "grid of discrete tokens"); int64 (n,)."""
    c = "vq.quantize"
    z = V.array(c, "z", z, ndim=2)
    codebook = V.array(c, "codebook", codebook, ndim=2)
    if codebook.shape[0] == 0 or codebook.shape[1] != z.shape[1]:
        raise SpecInputError(c, "codebook", f"K ≥ 1 entries of width D = {z.shape[1]}", f"shape {codebook.shape}")
    d2 = ((z[:, None, :] - codebook[None, :, :]) ** 2).sum(axis=2)     # (n, K), the direct form
    return np.argmin(d2, axis=1).astype(np.int64)                        # argmin returns the first minimum


def straight_through(z, z_q, g):
    """z̃ = z + sg[z_q − z]: forward value z_q; ∂⟨g, z̃⟩/∂z = g, ∂⟨g, z̃⟩/∂z_q = 0 (van den Oord et al. 2017)."""
    z, z_q, g = _vectors("vq.straight_through", ("z", "z_q", "g"), z, z_q, g)
    return z + (z_q - z), g.copy(), np.zeros_like(g)


def vq_loss(z, e, beta=0.25, codebook="loss"):
    """L = mean_i ‖sg[z_i] − e_i‖² + β‖z_i − sg[e_i]‖²; returns (L, ∂L/∂z, ∂L/∂e).

    'ema': the codebook term is dropped (the codebook follows moving averages): L = β mean‖z − e‖², ∂L/∂e = 0.
    """
    c = "vq.loss"
    z, e = _vectors(c, ("z", "e"), z, e)
    beta = V.scalar(c, "beta", beta, 0.0, BETA_MAX)
    choice(c, "codebook", codebook, CODEBOOKS)
    n = z.shape[0]
    if n == 0:
        raise SpecInputError(c, "z", "a non-empty batch", "0 rows")
    sq = ((z - e) ** 2).sum(axis=1).mean()
    if codebook == "ema":
        return beta * sq, 2.0 * beta * (z - e) / n, np.zeros_like(e)
    return sq + beta * sq, 2.0 * beta * (z - e) / n, 2.0 * (e - z) / n


def raster_order(grid):
    """s_{iW + j} = k_{ij}: rows top to bottom, each left to right (03: "left-to-right, top-to-bottom")."""
    grid = integers("ar.raster_order", "grid", grid, ndim=3)
    return grid.reshape(grid.shape[0], -1).copy()


def causal_mask(L):
    """M_ij = [j ≤ i]: position i attends to itself and the past (bool (L, L), True = may attend)."""
    L = V.scalar("ar.causal_mask", "L", L, 1, MAX_L, integer=True)
    return np.tril(np.ones((L, L), dtype=bool))


def sampling_probs(logits, temperature=1.0, top_k=0, top_k_ties="keep_ties"):
    """p = softmax(ℓ̃/τ), ℓ̃_j = ℓ_j if ℓ_j ≥ ℓ_(k) else −∞ (nanoGPT's generate); k = 0 keeps every token."""
    c = "ar.sampling_distribution"
    logits = V.array(c, "logits", logits, ndim=2)
    if logits.shape[1] == 0:
        raise SpecInputError(c, "logits", "at least one token (K ≥ 1)", f"shape {logits.shape}")
    tau = V.scalar(c, "temperature", temperature, 1e-3, 1e3)
    k = V.scalar(c, "top_k", top_k, 0, 2**31 - 1, integer=True)
    choice(c, "top_k_ties", top_k_ties, TIES)
    n, K = logits.shape
    keep = np.ones_like(logits, dtype=bool)
    if 0 < k < K:
        if top_k_ties == "keep_ties":
            kth = -np.sort(-logits, axis=1)[:, k - 1:k]
            keep = logits >= kth
        else:
            order = np.argsort(-logits, axis=1, kind="stable")                # ties: the lowest index first
            keep = np.zeros_like(keep)
            np.put_along_axis(keep, order[:, :k], True, axis=1)
    scaled = np.where(keep, logits / tau, -np.inf)
    m = scaled.max(axis=1, keepdims=True)
    ex = np.where(keep, np.exp(scaled - m), 0.0)
    return ex / ex.sum(axis=1, keepdims=True)


def guided_logits(l_y, l_null, w, form="one_plus_w"):
    """ℓ_cfg = (1 + w) ℓ_y − w ℓ_∅ = ℓ_∅ + s (ℓ_y − ℓ_∅), s = 1 + w (LlamaGen's cfg_scale is s)."""
    c = "ar.logit_guidance"
    choice(c, "form", form, FORMS)
    l_y, l_null = _vectors(c, ("l_y", "l_null"), l_y, l_null)
    w = V.scalar(c, "w", w, -1e3, 1e3)
    return cfg_combine(l_y, l_null, w, form)           # validated above: cfg.combine's checks cannot fire
