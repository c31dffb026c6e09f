"""Vector quantisation and the token-level autoregressive clauses in PyTorch (spec/vq.py): the functions and arguments
of reference/vq.py, every convention (codebook, top_k_ties, the cfg form).

Any device, dtype-preserving; bfloat16/float16 are computed in float32 and rounded once. Gradients come from
autograd: straight_through and vq_loss return the values and the gradients torch computes for them.
"""
from __future__ import annotations

import math

import torch

from genspec.spec import validate as V
from genspec.spec.bind import implements
from genspec.spec.errors import SpecInputError

from ._tensors import upcast
from .cfg import cfg_combine


def squared_distances(z: torch.Tensor, codebook: torch.Tensor) -> torch.Tensor:
    """‖z_i − e_k‖² of every pair, (n, K), by the direct Σ_d (z_d − e_kd)² (no cancellation)."""
    return (z[:, None, :] - codebook[None, :, :]).square().sum(dim=2)


@implements("vq.quantize")
def quantize(z, codebook):
    """k(z) = argmin_k ‖z − e_k‖², ties by the lowest k (torch.argmin returns the first minimum); int64 (n,)."""
    if len(codebook) == 0:
        raise SpecInputError("vq.quantize", "codebook", "K ≥ 1 entries", f"shape {tuple(codebook.shape)}")
    (z, codebook), _ = upcast(z, codebook.to(z.dtype))
    if z.shape[0] == 0:
        return torch.zeros(0, dtype=torch.long, device=z.device)
    return squared_distances(z, codebook.to(z.device)).argmin(dim=1)


def straight_through_value(z: torch.Tensor, z_q: torch.Tensor) -> torch.Tensor:
    """z̃ = z + sg[z_q − z]: the value z_q with the gradient of z (the model stack's form)."""
    return z + (z_q - z).detach()


def rotation_trick_value(z: torch.Tensor, z_q: torch.Tensor) -> torch.Tensor:
    """z̃ = sg[λR] z per row (Fifty et al. 2024): the value z_q, the gradient λRᵀg to z, none to z_q; λ = ‖z_q‖/‖z‖,
    R = I − 2wwᵀ + 2q̂ûᵀ, w = (û + q̂)/‖û + q̂‖. Rows with z = 0, z_q = 0 or z_q = −c z raise SpecInputError."""
    nz, nq = z.norm(dim=1, keepdim=True).detach(), z_q.norm(dim=1, keepdim=True).detach()
    if bool((nz == 0).any()) or bool((nq == 0).any()):
        raise SpecInputError("vq.straight_through", "z, z_q", "nonzero rows under estimator='rotation'", "a zero row")
    u, q = z.detach() / nz, z_q.detach() / nq
    s = u + q
    ns = s.norm(dim=1, keepdim=True)
    if bool((ns == 0).any()):
        raise SpecInputError("vq.straight_through", "z_q", "no row antipodal to z under estimator='rotation'",
                             "z_q = −c z")
    w = s / ns
    return nq / nz * (z - 2 * w * (z * w).sum(1, keepdim=True) + 2 * q * (z * u).sum(1, keepdim=True))


@implements("vq.straight_through")
def straight_through(z, z_q, g, estimator="straight_through"):
    """(z̃, ∂⟨g, z̃⟩/∂z, ∂⟨g, z̃⟩/∂z_q) for z̃ = z + sg[z_q − z] (van den Oord et al. 2017) or the rotation trick
    ('rotation', Fifty et al. 2024), by autograd."""
    value = rotation_trick_value if estimator == "rotation" else straight_through_value
    (zw, qw, gw), dt = upcast(z, z_q, g)
    with torch.enable_grad():
        zz, qq = zw.detach().clone().requires_grad_(True), qw.detach().clone().requires_grad_(True)
        out = value(zz, qq)
        gz, gq = torch.autograd.grad(out, (zz, qq), grad_outputs=gw.to(out.dtype), allow_unused=True)
    return out.detach().to(dt), gz.to(dt), (torch.zeros_like(qq) if gq is None else gq).to(dt)


def commitment_loss(z: torch.Tensor, e: torch.Tensor, beta: float = 0.25, codebook: str = "loss",
                    reduction: str = "batch_mean_sq_norm") -> torch.Tensor:
    """L = mean_i ‖sg[z_i] − e_i‖² + β ‖z_i − sg[e_i]‖² (the model stack's form; differentiable); 'ema': β ‖z_i −
    sg[e_i]‖² alone (the codebook follows moving averages); 'symmetric': β ‖z_i − e_i‖², no stop-gradient.
    reduction 'mse_all_elements': F.mse_loss's mean over all elements (÷ D more)."""
    def mean(d: torch.Tensor) -> torch.Tensor:
        return d.square().mean() if reduction == "mse_all_elements" else d.square().flatten(1).sum(1).mean()
    if codebook == "symmetric":
        return beta * mean(z - e)
    commit = mean(z - e.detach())
    return beta * commit + (mean(z.detach() - e) if codebook == "loss" else 0.0)


@implements("vq.loss")
def vq_loss(z, e, beta=0.25, codebook="loss", reduction="batch_mean_sq_norm"):
    """(L, ∂L/∂z, ∂L/∂e) of L = mean_i ‖sg[z_i] − e_i‖² + β‖z_i − sg[e_i]‖² ('ema': the β term alone; 'symmetric':
    β‖z_i − e_i‖²; 'mse_all_elements': ÷ D), gradients by autograd."""
    V.nonempty("vq.loss", "z", z)
    (zw, ew), dt = upcast(z, e)
    with torch.enable_grad():
        zz, ee = zw.detach().clone().requires_grad_(True), ew.detach().clone().requires_grad_(True)
        L = commitment_loss(zz, ee, beta, codebook, reduction)
        gz, ge = torch.autograd.grad(L, (zz, ee), allow_unused=True)
    return (L.detach().to(dt), (torch.zeros_like(zz) if gz is None else gz).to(dt),
            (torch.zeros_like(ee) if ge is None else ge).to(dt))


@implements("ar.raster_order")
def raster_order(grid):
    """s_{iW + j} = k_{ij}: rows top to bottom, each left to right (row-major flattening)."""
    return grid.reshape(grid.shape[0], -1)


@implements("ar.causal_mask")
def causal_mask(L, device=None, mask_polarity="true_attends"):
    """M_ij = [j ≤ i], bool (L, L), True = may attend (the mask of accelerated.attention.sdpa), on ``device``;
    'true_masks': True = hidden, triu(1) (nn.MultiheadAttention's bool attn_mask)."""
    ones = torch.ones(L, L, dtype=torch.bool, device=device)
    return ones.triu(1) if mask_polarity == "true_masks" else ones.tril()


@implements("ar.sampling_distribution")
def sampling_probs(logits, temperature=1.0, top_k=0, top_k_ties="keep_ties"):
    """p = softmax(ℓ̃/τ), ℓ̃_j = ℓ_j if ℓ_j ≥ ℓ_(k) else −∞ (nanoGPT: ties at the k-th value are kept); exactly_k
    keeps k tokens, ties by the lowest index; torch_topk the k tokens torch.topk returns."""
    if logits.shape[1] == 0:
        raise SpecInputError("ar.sampling_distribution", "logits", "at least one token (K ≥ 1)",
                             f"shape {tuple(logits.shape)}")
    (lw,), dt = upcast(logits)
    if 0 < top_k < lw.shape[1]:
        if top_k_ties == "keep_ties":
            keep = lw >= torch.topk(lw, top_k, dim=1).values[:, -1:]
        elif top_k_ties == "torch_topk":                                      # ties: torch.topk's own choice
            keep = torch.zeros_like(lw, dtype=torch.bool).scatter(1, torch.topk(lw, top_k, dim=1).indices, True)
        else:
            order = torch.argsort(-lw, dim=1, stable=True)[:, :top_k]           # ties: the lowest index first
            keep = torch.zeros_like(lw, dtype=torch.bool).scatter(1, order, True)
        lw = lw.masked_fill(~keep, -torch.inf)
    return torch.softmax(lw / temperature, dim=1).to(dt)


@implements("ar.logit_guidance")
def guided_logits(l_y, l_null, w, form="one_plus_w"):
    """ℓ_cfg = (1 + w) ℓ_y − w ℓ_∅ (= ℓ_∅ + s (ℓ_y − ℓ_∅), s = 1 + w: LlamaGen's cfg_scale): cfg.combine on logits."""
    return cfg_combine.raw(l_y, l_null, w, form)


@implements("ar.plausibility")
def plausible_tokens(l_y, alpha):
    """V = {j : p_y,j ≥ α max p_y} = {j : ℓ_y,j ≥ max ℓ_y + log α}; α = 0 keeps every token (Li et al. 2023)."""
    if alpha == 0.0:
        return torch.ones_like(l_y, dtype=torch.bool)
    (lw,), _ = upcast(l_y)
    return lw - lw.amax(dim=1, keepdim=True) >= math.log(alpha)
