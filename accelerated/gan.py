"""GAN family in torch (spec/gan.py): any device, dtype-preserving, batched. Default conventions of the spec."""
from __future__ import annotations

import torch

from spec import validate as V
from spec.errors import SpecInputError

from ._tensors import upcast


def _probs(clause, name, d):
    d = V.array(clause, name, d, ndim=1)
    if d.numel() == 0:
        raise SpecInputError(clause, name, "a non-empty batch", "0 samples")
    return V.interval(clause, name, d, 0.0, 1.0, what="probabilities in [0, 1]")


def value(d_real: torch.Tensor, d_fake: torch.Tensor) -> torch.Tensor:
    """V(D, G) = mean log D(x) + mean log(1 - D(G(z)))  (00, 02); log 0 = -inf."""
    c = "gan.value"
    d_real, d_fake = _probs(c, "d_real", d_real), _probs(c, "d_fake", d_fake)
    return torch.log(d_real).mean() + torch.log1p(-d_fake).mean()


def value_density(p_data: torch.Tensor, p_g: torch.Tensor, d: torch.Tensor, dx: float) -> torch.Tensor:
    """V = Σ_k [p_data log D + p_G log(1 - D)]_k Δx with 0 log 0 = 0  (03)."""
    c = "gan.value_density"
    p_data = V.interval(c, "p_data", V.array(c, "p_data", p_data, ndim=1), 0.0, what="a density (≥ 0)")
    p_g = V.interval(c, "p_g", V.array(c, "p_g", p_g, ndim=1), 0.0, what="a density (≥ 0)")
    d = V.interval(c, "d", V.array(c, "d", d, ndim=1), 0.0, 1.0, what="probabilities in [0, 1]")
    V.same_shape(c, ("p_data", "p_g", "d"), p_data, p_g, d)
    dx = V.scalar(c, "dx", dx, 0.0, low_closed=False)
    return (torch.xlogy(p_data, d) + torch.xlogy(p_g, 1.0 - d)).sum() * dx


def discriminator_bce(d_real: torch.Tensor, d_fake: torch.Tensor) -> torch.Tensor:
    """L_D = BCE(D(x), 1) + BCE(D(G(z)), 0) = -V  (02), without BCELoss's clamp at -100."""
    c = "gan.discriminator_bce"
    d_real, d_fake = _probs(c, "d_real", d_real), _probs(c, "d_fake", d_fake)
    return -torch.log(d_real).mean() - torch.log1p(-d_fake).mean()


def generator_loss_saturating(d_fake: torch.Tensor) -> torch.Tensor:
    """L_G = mean log(1 - D(G(z)))  (00, 03)."""
    d_fake = _probs("gan.generator_loss_saturating", "d_fake", d_fake)
    return torch.log1p(-d_fake).mean()


def generator_loss_non_saturating(d_fake: torch.Tensor) -> torch.Tensor:
    """L_G = -mean log D(G(z)) = BCE(D(G(z)), 1)  (00, 02, 04)."""
    d_fake = _probs("gan.generator_loss_non_saturating", "d_fake", d_fake)
    return -torch.log(d_fake).mean()


def saturation_gradients(a: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Slopes of the per-sample generator losses w.r.t. the logit a, D = σ(a), by autograd  (03, corrected).

    d/da log(1 - σ(a)) = -σ(a) → 0 as a → -∞;   d/da (-log σ(a)) = σ(a) - 1 → -1.
    """
    a = V.array("gan.saturation", "a", a, ndim=1)
    with torch.enable_grad():
        a = a.detach().clone().requires_grad_(True)
        # log(1 - σ(a)) = logsigmoid(-a) and -log σ(a) = -logsigmoid(a): stable in both tails
        g_sat, = torch.autograd.grad(torch.nn.functional.logsigmoid(-a).sum(), a)
        g_ns, = torch.autograd.grad((-torch.nn.functional.logsigmoid(a)).sum(), a)
    return g_sat, g_ns


def optimal_discriminator(p_data: torch.Tensor, p_g: torch.Tensor) -> torch.Tensor:
    """D*(x) = p_data / (p_data + p_G); 1/2 where both densities are 0  (03)."""
    c = "gan.optimal_discriminator"
    p_data = V.interval(c, "p_data", V.array(c, "p_data", p_data), 0.0, what="a density (≥ 0)")
    p_g = V.interval(c, "p_g", V.array(c, "p_g", p_g), 0.0, what="a density (≥ 0)")
    V.broadcastable(c, ("p_data", "p_g"), p_data, p_g)
    s = p_data + p_g
    zero = s == 0
    return torch.where(zero, torch.full_like(s, 0.5), p_data / torch.where(zero, torch.ones_like(s), s))


def jsd(p_data: torch.Tensor, p_g: torch.Tensor, dx: float) -> torch.Tensor:
    """JSD(p_data || p_G) = ½ KL(p_data || M) + ½ KL(p_G || M), M = (p_data + p_G)/2, 0 log 0 = 0  (03)."""
    c = "gan.jsd_identity"
    p_data = V.interval(c, "p_data", V.array(c, "p_data", p_data, ndim=1), 0.0, what="a density (≥ 0)")
    p_g = V.interval(c, "p_g", V.array(c, "p_g", p_g, ndim=1), 0.0, what="a density (≥ 0)")
    V.same_shape(c, ("p_data", "p_g"), p_data, p_g)
    dx = V.scalar(c, "dx", dx, 0.0, low_closed=False)
    (p_data, p_g), dtype = upcast(p_data, p_g)  # half precisions: logs and the sum in float32
    m = 0.5 * (p_data + p_g)
    kl = lambda p: torch.where(p == 0, torch.zeros_like(p), p * (torch.log(p) - torch.log(m))).sum()
    return (0.5 * (kl(p_data) + kl(p_g)) * dx).to(dtype)


def latent_interpolation(z0: torch.Tensor, z1: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """z_t = t z0 + (1 - t) z1  (00: t = 1 gives z0), one t per row."""
    c = "gan.latent_interpolation"
    z0, z1 = V.array(c, "z0", z0, ndim=2), V.array(c, "z1", z1, ndim=2)
    V.same_shape(c, ("z0", "z1"), z0, z1)
    t = V.interval(c, "t", V.array(c, "t", t, ndim=1), 0.0, 1.0)
    if t.shape[0] != z0.shape[0]:
        raise SpecInputError(c, "t", f"one weight per row of z0 ({z0.shape[0]})", f"shape {tuple(t.shape)}")
    (z0, z1, t), dtype = upcast(z0, z1, t)  # half precisions: t z0 + (1 - t) z1 cancels; compute in float32
    return (t[:, None] * z0 + (1.0 - t[:, None]) * z1).to(dtype)


def adain(x: torch.Tensor, w: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """AdaIN(x, w, b)_i = w_i (x_i - μ(x_i)) / σ(x_i) + b_i, population σ, no ε; b_i where σ = 0  (00).

    Statistics of bfloat16/float16 inputs are accumulated in float32.
    """
    c = "gan.adain"
    x = V.array(c, "x", x, min_ndim=3)
    w, b = V.array(c, "w", w, ndim=2), V.array(c, "b", b, ndim=2)
    for name, a in (("w", w), ("b", b)):
        if tuple(a.shape) != tuple(x.shape[:2]):
            raise SpecInputError(c, name, f"shape (N, C) = {tuple(x.shape[:2])} matching x", f"shape {tuple(a.shape)}")
    dims = tuple(range(2, x.ndim))
    xs = x.float() if x.dtype in (torch.bfloat16, torch.float16) else x
    # σ = 0 exactly on a constant channel: test it exactly, since its rounded mean may differ from x by an ulp
    flat = xs.flatten(2)
    constant = (flat.amax(dim=2) == flat.amin(dim=2)).reshape(tuple(x.shape[:2]) + (1,) * len(dims))
    mu = xs.mean(dim=dims, keepdim=True)
    centred = torch.where(constant, torch.zeros_like(xs), xs - mu)
    sd = centred.square().mean(dim=dims, keepdim=True).sqrt()
    normalised = torch.where(sd == 0, torch.zeros_like(centred),
                             centred / torch.where(sd == 0, torch.ones_like(sd), sd))
    shape = tuple(x.shape[:2]) + (1,) * len(dims)
    return (w.reshape(shape) * normalised.to(x.dtype) + b.reshape(shape)).to(x.dtype)
