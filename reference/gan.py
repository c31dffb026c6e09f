"""GAN family, float64 NumPy reference (spec/gan.py). log 0 = -inf exactly; no epsilon anywhere."""
from __future__ import annotations

import numpy as np

from spec import validate as V
from spec.errors import SpecInputError


def _probs(clause, name, d):
    d = V.array(clause, name, d, ndim=1)
    if d.size == 0:
        raise SpecInputError(clause, name, "a non-empty batch", "0 samples")
    return V.interval(clause, name, d, 0.0, 1.0, what="probabilities in [0, 1]")


def _log(p, log_clamp="exact"):
    with np.errstate(divide="ignore"):
        out = np.log(p)
    if log_clamp == "torch_bce":
        out = np.maximum(out, -100.0)
    return out


def value(d_real, d_fake, log_clamp="exact"):
    """V(D, G) = mean log D(x) + mean log(1 - D(G(z)))  (00, 02)."""
    c = "gan.value"
    d_real, d_fake = _probs(c, "d_real", d_real), _probs(c, "d_fake", d_fake)
    V.choice(c, "log_clamp", log_clamp, ("exact", "torch_bce"))
    return np.mean(_log(d_real, log_clamp)) + np.mean(_log(1.0 - d_fake, log_clamp))


def _xlogy(x, y):
    """x log y with 0 log y = 0 for every y (the convention 0 log 0 = 0)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(x == 0, 0.0, x * np.log(np.where(x == 0, 1.0, y)))


def value_density(p_data, p_g, d, dx):
    """V = Σ_k [p_data log D + p_G log(1 - D)]_k Δx, with 0 log 0 = 0  (03)."""
    c = "gan.value_density"
    p_data = V.interval(c, "p_data", V.array(c, "p_data", p_data, ndim=1), 0.0, what="a density (≥ 0)")
    p_g = V.interval(c, "p_g", V.array(c, "p_g", p_g, ndim=1), 0.0, what="a density (≥ 0)")
    d = V.interval(c, "d", V.array(c, "d", d, ndim=1), 0.0, 1.0, what="probabilities in [0, 1]")
    V.same_shape(c, ("p_data", "p_g", "d"), p_data, p_g, d)
    dx = V.scalar(c, "dx", dx, 0.0, low_closed=False)
    return np.sum(_xlogy(p_data, d) + _xlogy(p_g, 1.0 - d)) * dx


def discriminator_bce(d_real, d_fake, log_clamp="exact"):
    """L_D = BCE(D(x), 1) + BCE(D(G(z)), 0) = -mean log D(x) - mean log(1 - D(G(z))) = -V  (02)."""
    c = "gan.discriminator_bce"
    d_real, d_fake = _probs(c, "d_real", d_real), _probs(c, "d_fake", d_fake)
    V.choice(c, "log_clamp", log_clamp, ("exact", "torch_bce"))
    return -np.mean(_log(d_real, log_clamp)) - np.mean(_log(1.0 - d_fake, log_clamp))


def generator_loss_saturating(d_fake):
    """L_G = mean log(1 - D(G(z))), minimised by G  (00, 03)."""
    d_fake = _probs("gan.generator_loss_saturating", "d_fake", d_fake)
    return np.mean(_log(1.0 - d_fake))


def generator_loss_non_saturating(d_fake, log_clamp="exact"):
    """L_G = -mean log D(G(z)) = BCE(D(G(z)), 1)  (00, 02, 04)."""
    c = "gan.generator_loss_non_saturating"
    d_fake = _probs(c, "d_fake", d_fake)
    V.choice(c, "log_clamp", log_clamp, ("exact", "torch_bce"))
    return -np.mean(_log(d_fake, log_clamp))


def sigmoid(a):
    """σ(a) = 1 / (1 + e^{-a}), evaluated without overflow."""
    e = np.exp(-np.abs(a))
    return np.where(a >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


def saturation_gradients(a, variable="logit"):
    """Per-sample slopes of the two generator losses, D = σ(a)  (03, corrected; see the clause).

    logit:       d/da log(1 - σ(a)) = -σ(a),           d/da (-log σ(a)) = σ(a) - 1 = -σ(-a)
    probability: d/dD log(1 - D)    = -1 / (1 - D),    d/dD (-log D)    = -1 / D
    """
    c = "gan.saturation"
    a = V.array(c, "a", a, ndim=1)
    V.choice(c, "variable", variable, ("logit", "probability"))
    if variable == "logit":
        return -sigmoid(a), -sigmoid(-a)
    d = sigmoid(a)
    with np.errstate(divide="ignore"):
        return -1.0 / (1.0 - d), -1.0 / d


def optimal_discriminator(p_data, p_g):
    """D*(x) = p_data / (p_data + p_G); 1/2 where both densities are 0  (03)."""
    c = "gan.optimal_discriminator"
    p_data = V.interval(c, "p_data", V.array(c, "p_data", p_data), 0.0, what="a density (≥ 0)")
    p_g = V.interval(c, "p_g", V.array(c, "p_g", p_g), 0.0, what="a density (≥ 0)")
    V.broadcastable(c, ("p_data", "p_g"), p_data, p_g)
    s = p_data + p_g
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(s == 0, 0.5, p_data / np.where(s == 0, 1.0, s))


def kl_divergence(p, q, dx):
    """KL(p || q) = Σ p log(p / q) Δx with 0 log(0/q) = 0; +inf where p > 0 = q."""
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(p == 0, 0.0, p * (np.log(np.where(p == 0, 1.0, p)) - np.log(q)))
    return np.sum(terms) * dx


def jsd(p_data, p_g, dx):
    """JSD(p_data || p_G) = ½ KL(p_data || M) + ½ KL(p_G || M), M = (p_data + p_G)/2  (03)."""
    c = "gan.jsd_identity"
    p_data = V.interval(c, "p_data", V.array(c, "p_data", p_data, ndim=1), 0.0, what="a density (≥ 0)")
    p_g = V.interval(c, "p_g", V.array(c, "p_g", p_g, ndim=1), 0.0, what="a density (≥ 0)")
    V.same_shape(c, ("p_data", "p_g"), p_data, p_g)
    dx = V.scalar(c, "dx", dx, 0.0, low_closed=False)
    m = 0.5 * (p_data + p_g)
    return 0.5 * kl_divergence(p_data, m, dx) + 0.5 * kl_divergence(p_g, m, dx)


def latent_interpolation(z0, z1, t, endpoint="t1_is_z0", path="linear"):
    """z_t = t z0 + (1 - t) z1  (00); variants: t ↦ 1 - t, and spherical interpolation."""
    c = "gan.latent_interpolation"
    z0, z1 = V.array(c, "z0", z0, ndim=2), V.array(c, "z1", z1, ndim=2)
    V.same_shape(c, ("z0", "z1"), z0, z1)
    t = V.interval(c, "t", V.array(c, "t", t, ndim=1), 0.0, 1.0)
    if t.shape[0] != z0.shape[0]:
        raise SpecInputError(c, "t", f"one weight per row of z0 ({z0.shape[0]})", f"shape {t.shape}")
    V.choice(c, "endpoint", endpoint, ("t1_is_z0", "t0_is_z0"))
    V.choice(c, "path", path, ("linear", "spherical"))
    s = t if endpoint == "t1_is_z0" else 1.0 - t  # weight of z0
    s = s[:, None]
    if path == "linear":
        return s * z0 + (1.0 - s) * z1
    n0, n1 = np.linalg.norm(z0, axis=1), np.linalg.norm(z1, axis=1)
    denom = n0 * n1
    cos = np.clip(np.sum(z0 * z1, axis=1) / np.where(denom == 0, 1.0, denom), -1.0, 1.0)
    omega = np.arccos(cos)
    parallel = (denom == 0) | (cos >= 1.0 - 1e-12)          # slerp = linear to 1e-12 there
    if np.any(cos <= -1.0 + 1e-12):
        raise SpecInputError(c, "z0/z1", "latents that are not antiparallel (Ω < π) for spherical interpolation")
    so = np.where(parallel, 1.0, np.sin(omega))[:, None]
    om = omega[:, None]
    out = np.sin(s * om) / so * z0 + np.sin((1.0 - s) * om) / so * z1
    return np.where(parallel[:, None], s * z0 + (1.0 - s) * z1, out)


def adain(x, w, b, sigma="population", eps="none"):
    """AdaIN(x, w, b)_i = w_i (x_i - μ(x_i)) / σ(x_i) + b_i, statistics over spatial axes  (00).

    Where σ(x_i) = 0 the normalised value is 0 and the output is b_i.
    """
    c = "gan.adain"
    x = V.array(c, "x", x, min_ndim=3)
    n_, c_ = x.shape[:2]
    w = V.array(c, "w", w, ndim=2)
    b = V.array(c, "b", b, ndim=2)
    for name, a in (("w", w), ("b", b)):
        if a.shape != (n_, c_):
            raise SpecInputError(c, name, f"shape (N, C) = {(n_, c_)} matching x", f"shape {a.shape}")
    V.choice(c, "sigma", sigma, ("population", "unbiased"))
    V.choice(c, "eps", eps, ("none", "inside_sqrt_1e-5"))
    axes = tuple(range(2, x.ndim))
    n = int(np.prod(x.shape[2:]))
    if sigma == "unbiased" and n < 2:
        raise SpecInputError(c, "x", "at least 2 spatial positions for the unbiased σ", f"shape {x.shape}")
    # a constant channel has σ = 0 exactly; test it exactly, since its rounded mean may differ from x by an ulp
    constant = x.max(axis=axes, keepdims=True) == x.min(axis=axes, keepdims=True)
    mu = x.mean(axis=axes, keepdims=True)
    centred = np.where(constant, 0.0, x - mu)
    var = (centred**2).sum(axis=axes, keepdims=True) / (n if sigma == "population" else n - 1)
    if eps != "none":
        var = var + 1e-5
    sd = np.sqrt(var)
    normalised = np.where(sd == 0, 0.0, centred / np.where(sd == 0, 1.0, sd))
    expand = (slice(None), slice(None)) + (None,) * len(axes)
    return w[expand] * normalised + b[expand]
