"""GAN family in torch (spec/gan.py): the functions, names and arguments of reference/gan.py; any device,
dtype-preserving, batched. Half precisions compute cancelling sums and statistics in float32."""
from __future__ import annotations

import torch
import torch.nn.functional as F

from genspec.spec.bind import implements
from genspec.spec.errors import SpecInputError
from genspec.spec.validate import nonempty

from ._tensors import upcast


def _log(p, log_clamp="exact"):
    """log p with log 0 = -inf; torch_bce clamps each log term at -100 (torch.nn.BCELoss)."""
    out = torch.log(p)
    return out.clamp_min(-100.0) if log_clamp == "torch_bce" else out


def _log1m(p, log_clamp="exact"):
    out = torch.log1p(-p)
    return out.clamp_min(-100.0) if log_clamp == "torch_bce" else out


@implements("gan.value")
def value(d_real, d_fake, log_clamp="exact"):
    """V(D, G) = mean log D(x) + mean log(1 - D(G(z)))  (00, 02); log 0 = -inf."""
    d_real, d_fake = nonempty("gan.value", "d_real", d_real), nonempty("gan.value", "d_fake", d_fake)
    return _log(d_real, log_clamp).mean() + _log1m(d_fake, log_clamp).mean()


@implements("gan.value_density")
def value_density(p_data, p_g, d, dx):
    """V = Σ_k [p_data log D + p_G log(1 - D)]_k Δx with 0 log 0 = 0  (03)."""
    return (torch.xlogy(p_data, d) + torch.xlogy(p_g, 1.0 - d)).sum() * dx


@implements("gan.discriminator_bce")
def discriminator_bce(d_real, d_fake, log_clamp="exact"):
    """L_D = BCE(D(x), 1) + BCE(D(G(z)), 0) = -mean log D(x) - mean log(1 - D(G(z)))  (02); exact logs unless
    log_clamp = torch_bce (BCELoss's clamp at -100)."""
    bce = lambda d, target_is_real: -(_log if target_is_real else _log1m)(d, log_clamp).mean()   # noqa: E731
    return (bce(nonempty("gan.discriminator_bce", "d_real", d_real), True)
            + bce(nonempty("gan.discriminator_bce", "d_fake", d_fake), False))


@implements("gan.generator_loss_saturating")
def generator_loss_saturating(d_fake):
    """L_G = mean log(1 - D(G(z)))  (00, 03)."""
    return _log1m(nonempty("gan.generator_loss_saturating", "d_fake", d_fake)).mean()


@implements("gan.generator_loss_non_saturating")
def generator_loss_non_saturating(d_fake, log_clamp="exact"):
    """L_G = -mean log D(G(z)) = BCE(D(G(z)), 1)  (00, 02, 04)."""
    return -_log(nonempty("gan.generator_loss_non_saturating", "d_fake", d_fake), log_clamp).mean()


@implements("gan.saturation")
def saturation_gradients(a, variable="logit"):
    """Slopes of the per-sample generator losses, D = σ(a)  (03, corrected).

    logit (by autograd): d/da log(1 - σ(a)) = -σ(a) → 0 as a → -∞;  d/da (-log σ(a)) = σ(a) - 1 → -1.
    probability: d/dD log(1 - D) = -1/(1 - D),  d/dD (-log D) = -1/D.
    """
    if variable == "probability":                    # 1 − D = σ(−a): no cancellation as D → 1
        return -1.0 / torch.sigmoid(-a), -1.0 / torch.sigmoid(a)
    with torch.enable_grad():
        a = a.detach().clone().requires_grad_(True)
        # log(1 - σ(a)) = logsigmoid(-a) and -log σ(a) = -logsigmoid(a): stable in both tails
        g_sat, = torch.autograd.grad(F.logsigmoid(-a).sum(), a)
        g_ns, = torch.autograd.grad((-F.logsigmoid(a)).sum(), a)
    return g_sat, g_ns


@implements("gan.optimal_discriminator")
def optimal_discriminator(p_data, p_g):
    """D*(x) = p_data / (p_data + p_G); 1/2 where both densities are 0  (03)."""
    s = p_data + p_g
    zero = s == 0
    return torch.where(zero, torch.full_like(s, 0.5), p_data / torch.where(zero, torch.ones_like(s), s))


@implements("gan.jsd_identity")
def jsd(p_data, p_g, dx):
    """JSD(p_data || p_G) = ½ KL(p_data || M) + ½ KL(p_G || M), M = (p_data + p_G)/2, 0 log 0 = 0  (03)."""
    (p_data, p_g), dtype = upcast(p_data, p_g)
    m = 0.5 * (p_data + p_g)
    kl = lambda p: torch.where(p == 0, torch.zeros_like(p), p * (torch.log(p) - torch.log(m))).sum()
    return (0.5 * (kl(p_data) + kl(p_g)) * dx).to(dtype)


@implements("gan.latent_interpolation")
def latent_interpolation(z0, z1, t, endpoint="t1_is_z0", path="linear"):
    """z_t = s z0 + (1 - s) z1 with s = t (00) or 1 - t (t0_is_z0); spherical: slerp with cos Ω = ẑ0 · ẑ1."""
    (z0, z1, t), dtype = upcast(z0, z1, t)    # half precisions: s z0 + (1 - s) z1 cancels; compute in float32
    s = (t if endpoint == "t1_is_z0" else 1.0 - t)[:, None]
    linear = s * z0 + (1.0 - s) * z1
    if path == "linear":
        return linear.to(dtype)
    denom = z0.norm(dim=1) * z1.norm(dim=1)
    cos = ((z0 * z1).sum(dim=1) / torch.where(denom == 0, torch.ones_like(denom), denom)).clamp(-1.0, 1.0)
    if bool((cos <= -1.0 + 1e-12).any()):
        raise SpecInputError("gan.latent_interpolation", "z0/z1",
                             "latents that are not antiparallel (Ω < π) for spherical interpolation")
    parallel = ((denom == 0) | (cos >= 1.0 - 1e-12))[:, None]
    om = torch.arccos(cos)[:, None]
    so = torch.where(parallel, torch.ones_like(om), torch.sin(om))
    return torch.where(parallel, linear, torch.sin(s * om) / so * z0 + torch.sin((1.0 - s) * om) / so * z1).to(dtype)


@implements("gan.adain")
def adain(x, w, b, sigma="population", eps="none"):
    """AdaIN(x, w, b)_i = w_i (x_i - μ(x_i)) / σ(x_i) + b_i, statistics over the spatial axes; b_i where σ = 0  (00).

    Statistics of bfloat16/float16 inputs are accumulated in float32.
    """
    dims = tuple(range(2, x.ndim))
    n = x[0, 0].numel()
    if sigma == "unbiased" and n < 2:
        raise SpecInputError("gan.adain", "x", "at least 2 spatial positions for the unbiased σ",
                             f"shape {tuple(x.shape)}")
    (xs,), _ = upcast(x)
    # σ = 0 exactly on a constant channel: test it exactly, since its rounded mean may differ from x by an ulp
    flat = xs.flatten(2)
    shape = tuple(x.shape[:2]) + (1,) * len(dims)
    constant = (flat.amax(dim=2) == flat.amin(dim=2)).reshape(shape)
    centred = torch.where(constant, torch.zeros_like(xs), xs - xs.mean(dim=dims, keepdim=True))
    var = centred.square().sum(dim=dims, keepdim=True) / (n if sigma == "population" else n - 1)
    sd = (var + (1e-5 if eps != "none" else 0.0)).sqrt()
    zero = sd == 0
    normalised = torch.where(zero, torch.zeros_like(centred), centred / torch.where(zero, torch.ones_like(sd), sd))
    return (w.reshape(shape) * normalised.to(x.dtype) + b.reshape(shape)).to(x.dtype)
