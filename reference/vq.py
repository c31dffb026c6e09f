"""Vector quantisation and the token-level autoregressive clauses, float64 NumPy reference (spec/vq.py; 00, 03).

Tokens are int64 arrays; gradients are returned explicitly (NumPy has no autograd): the stop-gradient sg[·] of
the notes is the statement of which gradient is zero.
"""
from __future__ import annotations

import numpy as np

from genspec.spec import validate as V
from genspec.spec.bind import implements
from genspec.spec.errors import SpecInputError

from .cfg import cfg_combine


@implements("vq.quantize")
def quantize(z, codebook):
    """k(z) = argmin_k ‖z − e_k‖² (ties: the lowest k; 03's VQ-VAE "grid of discrete tokens"); z (n, D), codebook
    (K, D), K ≥ 1 → int64 (n,)."""
    if len(codebook) == 0:
        raise SpecInputError("vq.quantize", "codebook", "K ≥ 1 entries", f"shape {codebook.shape}")
    d2 = ((z[:, None, :] - codebook[None, :, :]) ** 2).sum(axis=2)     # (n, K), the direct form
    return np.argmin(d2, axis=1).astype(np.int64)                        # argmin returns the first minimum


@implements("vq.straight_through")
def straight_through(z, z_q, g, estimator="straight_through"):
    """z̃ = z + sg[z_q − z]: forward value z_q; ∂⟨g, z̃⟩/∂z = g, ∂⟨g, z̃⟩/∂z_q = 0 (van den Oord et al. 2017).
    z, z_q, g (n, D).

    'rotation' (Fifty et al. 2024): z̃ = sg[λR] z per row, λ = ‖z_q‖/‖z‖, R = I − 2wwᵀ + 2q̂ûᵀ; the gradient to z
    is λRᵀg. Rows with z = 0, z_q = 0 or z_q antipodal to z have no rotation: SpecInputError.
    """
    if estimator == "straight_through":
        return z + (z_q - z), g.copy(), np.zeros_like(g)
    nz, nq = np.linalg.norm(z, axis=1, keepdims=True), np.linalg.norm(z_q, axis=1, keepdims=True)
    if np.any(nz == 0) or np.any(nq == 0):
        raise SpecInputError("vq.straight_through", "z, z_q", "nonzero rows under estimator='rotation'",
                             "a zero row")
    u, q = z / nz, z_q / nq
    s = u + q
    ns = np.linalg.norm(s, axis=1, keepdims=True)
    if np.any(ns == 0):
        raise SpecInputError("vq.straight_through", "z_q", "no row antipodal to z under estimator='rotation'",
                             "z_q = −c z")
    w, lam = s / ns, nq / nz
    dot = lambda a, b: (a * b).sum(axis=1, keepdims=True)     # noqa: E731 - row-wise a·b
    return (lam * (z - 2 * w * dot(w, z) + 2 * q * dot(u, z)), lam * (g - 2 * w * dot(w, g) + 2 * u * dot(q, g)),
            np.zeros_like(g))


@implements("vq.loss")
def vq_loss(z, e, beta=0.25, codebook="loss", reduction="batch_mean_sq_norm"):
    """L = mean_i ‖sg[z_i] − e_i‖² + β‖z_i − sg[e_i]‖²; returns (L, ∂L/∂z, ∂L/∂e). z, e (n, D), n ≥ 1.

    'ema': the codebook term is dropped (the codebook follows moving averages): L = β mean‖z − e‖², ∂L/∂e = 0.
    'symmetric': one β term without stop-gradient, L = β mean‖z − e‖², ∂L/∂e = 2β(e − z)/n.
    reduction 'mse_all_elements' (F.mse_loss): the mean over all n·D elements, every output divided by D.
    """
    n = V.nonempty("vq.loss", "z", z).shape[0]
    m = n * z.shape[1] if reduction == "mse_all_elements" else n
    sq = ((z - e) ** 2).sum() / m
    gz = 2.0 * beta * (z - e) / m
    if codebook == "ema":
        return beta * sq, gz, np.zeros_like(e)
    if codebook == "symmetric":
        return beta * sq, gz, 2.0 * beta * (e - z) / m
    return sq + beta * sq, gz, 2.0 * (e - z) / m


@implements("ar.raster_order")
def raster_order(grid):
    """s_{iW + j} = k_{ij}: rows top to bottom, each left to right (03: "left-to-right, top-to-bottom");
    (n, H, W) → (n, H·W)."""
    return grid.reshape(grid.shape[0], -1).copy()


@implements("ar.causal_mask")
def causal_mask(L, device=None, mask_polarity="true_attends"):
    """M_ij = [j ≤ i]: position i attends to itself and the past (bool (L, L), True = may attend; 'true_masks': the
    complement, True = hidden). ``device``: where the mask lives (a NumPy array lives on the host: ignored here)."""
    keep = np.tril(np.ones((L, L), dtype=bool))
    return ~keep if mask_polarity == "true_masks" else keep


@implements("ar.sampling_distribution")
def sampling_probs(logits, temperature=1.0, top_k=0, top_k_ties="keep_ties"):
    """p = softmax(ℓ̃/τ), ℓ̃_j = ℓ_j if ℓ_j ≥ ℓ_(k) else −∞ (nanoGPT's generate); k = 0 keeps every token.
    logits (n, K), K ≥ 1; exactly_k keeps k tokens, ties by the lowest index; torch_topk keeps k tokens, any of the
    tied (this function: the lowest index)."""
    n, K = logits.shape
    if K == 0:
        raise SpecInputError("ar.sampling_distribution", "logits", "at least one token (K ≥ 1)", f"shape {(n, K)}")
    keep = np.ones_like(logits, dtype=bool)
    if 0 < top_k < K:
        if top_k_ties == "keep_ties":
            keep = logits >= -np.sort(-logits, axis=1)[:, top_k - 1:top_k]
        else:       # exactly_k; torch_topk leaves the tie order open: the lowest index is one valid choice
            order = np.argsort(-logits, axis=1, kind="stable")                # ties: the lowest index first
            keep = np.zeros_like(keep)
            np.put_along_axis(keep, order[:, :top_k], True, axis=1)
    scaled = np.where(keep, logits / temperature, -np.inf)
    ex = np.where(keep, np.exp(scaled - scaled.max(axis=1, keepdims=True)), 0.0)
    return ex / ex.sum(axis=1, keepdims=True)


@implements("ar.logit_guidance")
def guided_logits(l_y, l_null, w, form="one_plus_w"):
    """ℓ_cfg = (1 + w) ℓ_y − w ℓ_∅ = ℓ_∅ + s (ℓ_y − ℓ_∅), s = 1 + w (LlamaGen's cfg_scale is s); l_y, l_null
    (n, K): cfg.combine on logits."""
    return cfg_combine.raw(l_y, l_null, w, form)


@implements("ar.plausibility")
def plausible_tokens(l_y, alpha):
    """V = {j : p_y,j ≥ α max p_y} = {j : ℓ_y,j ≥ max ℓ_y + log α}; α = 0 keeps every token (Li et al. 2023)."""
    if alpha == 0.0:
        return np.ones_like(l_y, dtype=bool)
    return l_y - l_y.max(axis=1, keepdims=True) >= np.log(alpha)
