"""Vector quantisation and the token-level autoregressive clauses in PyTorch (spec/vq.py): the spec's default
conventions (codebook 'loss', top-k 'keep_ties', cfg form 'one_plus_w').

Any device, dtype-preserving; bfloat16/float16 are computed in float32 and rounded once. Gradients come from
autograd: straight_through and vq_loss return the values and the gradients torch computes for them.
"""
from __future__ import annotations

import torch

from spec import validate as V
from spec.errors import SpecInputError

from ._tensors import upcast
from .cond import integers
from .cond import tensor as _tensor

BETA_MAX = 1e3
MAX_L = 4096


def _vectors(clause, names, *arrays):
    out = [_tensor(clause, n, a, ndim=2) for n, a in zip(names, arrays, strict=True)]
    V.same_shape(clause, names, *out)
    return out


def squared_distances(z: torch.Tensor, codebook: torch.Tensor) -> torch.Tensor:
    """‖z_i − e_k‖² of every pair, (n, K), by the direct Σ_d (z_d − e_kd)² (no cancellation)."""
    return (z[:, None, :] - codebook[None, :, :]).square().sum(dim=2)


def quantize(z: torch.Tensor, codebook: torch.Tensor) -> torch.Tensor:
    """k(z) = argmin_k ‖z − e_k‖², ties by the lowest k (torch.argmin returns the first minimum); int64 (n,)."""
    c = "vq.quantize"
    z = _tensor(c, "z", z, ndim=2)
    codebook = _tensor(c, "codebook", codebook, ndim=2)
    if codebook.shape[0] == 0 or codebook.shape[1] != z.shape[1]:
        raise SpecInputError(c, "codebook", f"K ≥ 1 entries of width D = {z.shape[1]}",
                             f"shape {tuple(codebook.shape)}")
    (z, codebook), _ = upcast(z, codebook.to(z.dtype))
    if z.shape[0] == 0:
        return torch.zeros(0, dtype=torch.long, device=z.device)
    return squared_distances(z, codebook.to(z.device)).argmin(dim=1)


def straight_through_value(z: torch.Tensor, z_q: torch.Tensor) -> torch.Tensor:
    """z̃ = z + sg[z_q − z]: the value z_q with the gradient of z (the model stack's form)."""
    return z + (z_q - z).detach()


def straight_through(z: torch.Tensor, z_q: torch.Tensor, g: torch.Tensor):
    """(z̃, ∂⟨g, z̃⟩/∂z, ∂⟨g, z̃⟩/∂z_q) for z̃ = z + sg[z_q − z], by autograd (van den Oord et al. 2017)."""
    z, z_q, g = _vectors("vq.straight_through", ("z", "z_q", "g"), z, z_q, g)
    with torch.enable_grad():
        zz, qq = z.detach().clone().requires_grad_(True), z_q.detach().clone().requires_grad_(True)
        out = straight_through_value(zz, qq)
        gz, gq = torch.autograd.grad(out, (zz, qq), grad_outputs=g.to(out.dtype), allow_unused=True)
    gq = torch.zeros_like(qq) if gq is None else gq
    return out.detach(), gz, gq


def commitment_loss(z: torch.Tensor, e: torch.Tensor, beta: float = 0.25) -> torch.Tensor:
    """L = mean_i ‖sg[z_i] − e_i‖² + β ‖z_i − sg[e_i]‖² (the model stack's form; differentiable)."""
    cb = (z.detach() - e).square().flatten(1).sum(1).mean()
    commit = (z - e.detach()).square().flatten(1).sum(1).mean()
    return cb + beta * commit


def vq_loss(z: torch.Tensor, e: torch.Tensor, beta: float = 0.25):
    """(L, ∂L/∂z, ∂L/∂e) of L = mean_i ‖sg[z_i] − e_i‖² + β‖z_i − sg[e_i]‖², gradients by autograd."""
    c = "vq.loss"
    z, e = _vectors(c, ("z", "e"), z, e)
    beta = V.scalar(c, "beta", beta, 0.0, BETA_MAX)
    if z.shape[0] == 0:
        raise SpecInputError(c, "z", "a non-empty batch", "0 rows")
    (zw, ew), dt = upcast(z, e)
    with torch.enable_grad():
        zz, ee = zw.detach().clone().requires_grad_(True), ew.detach().clone().requires_grad_(True)
        L = commitment_loss(zz, ee, beta)
        gz, ge = torch.autograd.grad(L, (zz, ee))
    return L.detach().to(dt), gz.to(dt), ge.to(dt)


def raster_order(grid: torch.Tensor) -> torch.Tensor:
    """s_{iW + j} = k_{ij}: rows top to bottom, each left to right (row-major flattening)."""
    grid = integers("ar.raster_order", "grid", grid, ndim=3)
    return grid.reshape(grid.shape[0], -1)


def causal_mask(L: int, device=None) -> torch.Tensor:
    """M_ij = [j ≤ i], bool (L, L), True = may attend (the mask of accelerated.attention.sdpa)."""
    n = int(V.scalar("ar.causal_mask", "L", L, 1, MAX_L, integer=True))
    return torch.ones(n, n, dtype=torch.bool, device=device).tril()


def sampling_probs(logits: torch.Tensor, temperature: float = 1.0, top_k: int = 0) -> torch.Tensor:
    """p = softmax(ℓ̃/τ), ℓ̃_j = ℓ_j if ℓ_j ≥ ℓ_(k) else −∞ (nanoGPT: ties at the k-th value are kept)."""
    c = "ar.sampling_distribution"
    logits = _tensor(c, "logits", logits, ndim=2)
    if logits.shape[1] == 0:
        raise SpecInputError(c, "logits", "at least one token (K ≥ 1)", f"shape {tuple(logits.shape)}")
    tau = V.scalar(c, "temperature", temperature, 1e-3, 1e3)
    k = int(V.scalar(c, "top_k", top_k, 0, 2**31 - 1, integer=True))
    (lw,), dt = upcast(logits)
    if 0 < k < lw.shape[1]:
        kth = torch.topk(lw, k, dim=1).values[:, -1:]
        lw = lw.masked_fill(lw < kth, -torch.inf)
    return torch.softmax(lw / tau, dim=1).to(dt)


def guided_logits(l_y: torch.Tensor, l_null: torch.Tensor, w: float) -> torch.Tensor:
    """ℓ_cfg = (1 + w) ℓ_y − w ℓ_∅ (= ℓ_∅ + s (ℓ_y − ℓ_∅), s = 1 + w: LlamaGen's cfg_scale)."""
    c = "ar.logit_guidance"
    l_y, l_null = _vectors(c, ("l_y", "l_null"), l_y, l_null)
    w = V.scalar(c, "w", w, -1e3, 1e3)
    (a, b), dt = upcast(l_y, l_null)
    return ((1.0 + w) * a - w * b).to(dt)
