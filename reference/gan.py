"""GAN family, float64 NumPy reference (spec/gan.py). log 0 = -inf exactly; no epsilon anywhere.

Arguments are checked by spec.bind from the clauses' symbols: probabilities in [0, 1] of shape (n,) and (m,),
densities ≥ 0 sharing the grid's n, latents (n, k) with one t per row, activations (N, C, H, ...) with styles (N, C).
"""
from __future__ import annotations

import numpy as np

from genspec.spec.bind import implements
from genspec.spec.errors import SpecInputError
from genspec.spec.validate import nonempty


def _log(p, log_clamp="exact"):
    """log p with log 0 = -inf; torch_bce clamps each log term at -100 (torch.nn.BCELoss)."""
    with np.errstate(divide="ignore"):
        out = np.log(p)
    return np.maximum(out, -100.0) if log_clamp == "torch_bce" else out


def _xlogy(x, y):
    """x log y with 0 log y = 0 for every y (the convention 0 log 0 = 0)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(x == 0, 0.0, x * np.log(np.where(x == 0, 1.0, y)))


@implements("gan.value")
def value(d_real, d_fake, log_clamp="exact"):
    """V(D, G) = mean log D(x) + mean log(1 - D(G(z)))  (00, 02)."""
    d_real, d_fake = nonempty("gan.value", "d_real", d_real), nonempty("gan.value", "d_fake", d_fake)
    return np.mean(_log(d_real, log_clamp)) + np.mean(_log(1.0 - d_fake, log_clamp))


@implements("gan.value_density")
def value_density(p_data, p_g, d, dx):
    """V = Σ_k [p_data log D + p_G log(1 - D)]_k Δx, with 0 log 0 = 0  (03)."""
    return np.sum(_xlogy(p_data, d) + _xlogy(p_g, 1.0 - d)) * dx


@implements("gan.discriminator_bce")
def discriminator_bce(d_real, d_fake, log_clamp="exact"):
    """L_D = BCE(D(x), 1) + BCE(D(G(z)), 0) = -mean log D(x) - mean log(1 - D(G(z)))  (02); = -V (gan.value)."""
    d_real, d_fake = nonempty("gan.discriminator_bce", "d_real", d_real), nonempty("gan.discriminator_bce", "d_fake",
                                                                                     d_fake)
    return -np.mean(_log(d_real, log_clamp)) - np.mean(_log(1.0 - d_fake, log_clamp))


@implements("gan.generator_loss_saturating")
def generator_loss_saturating(d_fake):
    """L_G = mean log(1 - D(G(z))), minimised by G  (00, 03)."""
    return np.mean(_log(1.0 - nonempty("gan.generator_loss_saturating", "d_fake", d_fake)))


@implements("gan.generator_loss_non_saturating")
def generator_loss_non_saturating(d_fake, log_clamp="exact"):
    """L_G = -mean log D(G(z)) = BCE(D(G(z)), 1)  (00, 02, 04)."""
    return -np.mean(_log(nonempty("gan.generator_loss_non_saturating", "d_fake", d_fake), log_clamp))


def sigmoid(a):
    """σ(a) = 1 / (1 + e^{-a}), evaluated without overflow."""
    e = np.exp(-np.abs(a))
    return np.where(a >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


@implements("gan.saturation")
def saturation_gradients(a, variable="logit"):
    """Per-sample slopes of the two generator losses, D = σ(a)  (03, corrected; see the clause).

    logit:       d/da log(1 - σ(a)) = -σ(a),           d/da (-log σ(a)) = σ(a) - 1 = -σ(-a)
    probability: d/dD log(1 - D)    = -1 / (1 - D),    d/dD (-log D)    = -1 / D
    """
    if variable == "logit":
        return -sigmoid(a), -sigmoid(-a)
    with np.errstate(divide="ignore"):                # 1 − D = σ(−a) exactly: no cancellation as D → 1
        return -1.0 / sigmoid(-a), -1.0 / sigmoid(a)


@implements("gan.optimal_discriminator")
def optimal_discriminator(p_data, p_g):
    """D*(x) = p_data / (p_data + p_G); 1/2 where both densities are 0  (03)."""
    s = p_data + p_g
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(s == 0, 0.5, p_data / np.where(s == 0, 1.0, s))


def kl_divergence(p, q, dx):
    """KL(p || q) = Σ p log(p / q) Δx with 0 log(0/q) = 0; +inf where p > 0 = q."""
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(p == 0, 0.0, p * (np.log(np.where(p == 0, 1.0, p)) - np.log(q)))
    return np.sum(terms) * dx


@implements("gan.jsd_identity")
def jsd(p_data, p_g, dx):
    """JSD(p_data || p_G) = ½ KL(p_data || M) + ½ KL(p_G || M), M = (p_data + p_G)/2  (03)."""
    m = 0.5 * (p_data + p_g)
    return 0.5 * kl_divergence(p_data, m, dx) + 0.5 * kl_divergence(p_g, m, dx)


@implements("gan.latent_interpolation")
def latent_interpolation(z0, z1, t, endpoint="t1_is_z0", path="linear"):
    """z_t = s z0 + (1 - s) z1 with s = t (00) or 1 - t (t0_is_z0); spherical: slerp with cos Ω = ẑ0 · ẑ1.

    Args: z0, z1 (n, k) latents; t (n,) one weight per row.
    """
    s = (t if endpoint == "t1_is_z0" else 1.0 - t)[:, None]  # the weight of z0
    linear = s * z0 + (1.0 - s) * z1
    if path == "linear":
        return linear
    denom = np.linalg.norm(z0, axis=1) * np.linalg.norm(z1, axis=1)
    cos = np.clip(np.sum(z0 * z1, axis=1) / np.where(denom == 0, 1.0, denom), -1.0, 1.0)
    if np.any(cos <= -1.0 + 1e-12):
        raise SpecInputError("gan.latent_interpolation", "z0/z1",
                             "latents that are not antiparallel (Ω < π) for spherical interpolation")
    parallel = ((denom == 0) | (cos >= 1.0 - 1e-12))[:, None]        # slerp = linear to 1e-12 there
    om = np.arccos(cos)[:, None]
    so = np.where(parallel, 1.0, np.sin(om))
    return np.where(parallel, linear, np.sin(s * om) / so * z0 + np.sin((1.0 - s) * om) / so * z1)


@implements("gan.adain")
def adain(x, w, b, sigma="population", eps="none"):
    """AdaIN(x, w, b)_i = w_i (x_i - μ(x_i)) / σ(x_i) + b_i, statistics over the spatial axes  (00).

    Args: x (N, C, H, ...) activations; w, b (N, C) styles. Where σ(x_i) = 0 the output is b_i.
    """
    axes = tuple(range(2, x.ndim))
    n = int(np.prod(x.shape[2:]))
    if sigma == "unbiased" and n < 2:
        raise SpecInputError("gan.adain", "x", "at least 2 spatial positions for the unbiased σ", f"shape {x.shape}")
    # a constant channel has σ = 0 exactly; test it exactly, since its rounded mean may differ from x by an ulp
    constant = x.max(axis=axes, keepdims=True) == x.min(axis=axes, keepdims=True)
    centred = np.where(constant, 0.0, x - x.mean(axis=axes, keepdims=True))
    var = (centred**2).sum(axis=axes, keepdims=True) / (n if sigma == "population" else n - 1)
    sd = np.sqrt(var + (1e-5 if eps != "none" else 0.0))
    normalised = np.where(sd == 0, 0.0, centred / np.where(sd == 0, 1.0, sd))
    expand = (slice(None), slice(None)) + (None,) * len(axes)
    return w[expand] * normalised + b[expand]
