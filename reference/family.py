"""The affine family of diffusion/flow formulations, float64 NumPy reference (spec/family.py; 00, 03).

    x_t = a(t) x + b(t) z,    y = c(t) x + d(t) z,    L = ‖f(x_t, t) − y‖²

t = 0 is data, t = 1 is noise on every path. Paths fix (a, b); targets fix (c, d):

    path  "rf"  a = 1 − t, b = t                                   (rectified flow)
          "vp"  a = √ᾱ(t), b = √(1 − ᾱ(t))   schedule "linear" (default), "cosine" or "trig" (cos, sin of πt/2)
          "ve"  a = 1,     b = σ(t)           schedule "geometric"
    target "velocity" (a'(t), b'(t))   "epsilon" (0, 1)   "x" (1, 0)   "v" (−b(t), a(t))   "score" (0, −1/b(t))

Shapes: x, z, f, x_t, y (n, ...); t a scalar or one time per sample (n,). Everything that goes through the 2×2
matrix M = [[a, b], [c, d]] raises SpecInputError where det M = ad − bc = 0 or a coefficient is infinite (see the
clauses' `singular`).
"""
from __future__ import annotations

import math

import numpy as np

from genspec.spec import validate as V
from genspec.spec.bind import implements
from genspec.spec.errors import SpecInputError
from genspec.spec.family import (
    COSINE_S,
    LOG_SNR_OFFSET,
    VE_SIGMA_MAX,
    VE_SIGMA_MIN,
    VP_BETA_MAX,
    VP_BETA_MIN,
    path_schedule,
)


def _per_sample(t, x):
    """t (a number or shape (n,)) shaped to broadcast over x's trailing axes."""
    t = np.asarray(t, dtype=np.float64)
    return t.reshape(t.shape + (1,) * (x.ndim - t.ndim)) if t.ndim else t


# ---- schedules ------------------------------------------------------------------------------------------
def _path_ab(t, path, schedule):
    """(a, b, a', b') of a path at t, in forms without cancellation near t = 0 and t = 1."""
    t = np.asarray(t, dtype=np.float64)
    if path == "rf":
        return 1.0 - t, t.copy(), -np.ones_like(t), np.ones_like(t)
    if path == "ve":
        b = VE_SIGMA_MIN * (VE_SIGMA_MAX / VE_SIGMA_MIN) ** t
        return np.ones_like(t), b, np.zeros_like(t), b * math.log(VE_SIGMA_MAX / VE_SIGMA_MIN)
    if schedule == "linear":
        log_ab = -0.5 * t * t * (VP_BETA_MAX - VP_BETA_MIN) - t * VP_BETA_MIN
        a = np.exp(0.5 * log_ab)
        b = np.sqrt(-np.expm1(log_ab))                       # √(1 − ᾱ) without cancellation at small t
        da = -0.5 * (t * (VP_BETA_MAX - VP_BETA_MIN) + VP_BETA_MIN) * a
    elif schedule == "trig":   # a = cos(πt/2) written sin(π(1 − t)/2): exact 1 − t, no cancellation at t = 1
        k = 0.5 * math.pi
        a, b = np.sin(k * (1.0 - t)), np.sin(k * t)
        return a, b, -k * b, k * a
    else:  # cosine: a = cos θ / cos θ0, θ = π/2 (t + s)/(1 + s); cos θ = sin(π/2 (1 − t)/(1 + s)) is 0 at t = 1
        s = COSINE_S
        k = 0.5 * math.pi / (1.0 + s)
        c0 = math.cos(k * s)
        a = np.sin(k * (1.0 - t)) / c0
        # 1 − ᾱ = (cos²θ0 − cos²θ)/cos²θ0 = sin(θ + θ0) sin(θ − θ0)/cos²θ0
        b = np.sqrt(np.sin(k * (t + 2.0 * s)) * np.sin(k * t)) / c0
        da = -k * np.cos(k * (1.0 - t)) / c0
    with np.errstate(divide="ignore", invalid="ignore"):
        db = np.where(b == 0, np.inf, -a * da / np.where(b == 0, 1.0, b))   # a² + b² = 1  ⇒  b' = −a a'/b
    return a, b, da, db


@implements("family.vp_schedule")
def vp_alpha_bar(t, schedule="linear", linear_form="song", cosine_form="normalised"):
    """ᾱ(t): "linear" exp(−½t²(β_max − β_min) − tβ_min) (Song et al. 2021);
    "cosine" cos²(π/2·(t+s)/(1+s))/cos²(π/2·s/(1+s)) (Nichol & Dhariwal 2021); "trig" cos²(πt/2). t: any shape.

    Variants (denoising-diffusion-pytorch's log-SNR schedules, ᾱ = sigmoid(log SNR)): linear_form
    'beta_linear_log_snr' exp(−1e-4 − 10t²); cosine_form 'alpha_cosine_log_snr' cos²(π/2·(t+s)/(1+s)), unnormalised."""
    if schedule == "linear" and linear_form == "beta_linear_log_snr":
        t = np.asarray(t, dtype=np.float64)
        return np.exp(-LOG_SNR_OFFSET - 0.5 * VP_BETA_MAX * t * t)
    if schedule == "cosine" and cosine_form == "alpha_cosine_log_snr":   # cos θ = sin(π/2 (1 − t)/(1 + s))
        return np.sin(0.5 * math.pi / (1.0 + COSINE_S) * (1.0 - np.asarray(t, dtype=np.float64))) ** 2
    a = _path_ab(t, "vp", schedule)[0]
    return a * a


@implements("family.ve_schedule")
def ve_sigma(t):
    """σ(t) = σ_min (σ_max/σ_min)^t, σ_min = 0.01, σ_max = 50 (Song et al. 2021). t: any shape."""
    return VE_SIGMA_MIN * (VE_SIGMA_MAX / VE_SIGMA_MIN) ** np.asarray(t, dtype=np.float64)


def _target_cd(target, a, b, da, db):
    if target == "velocity":
        return da, db
    if target == "epsilon":
        return np.zeros_like(a), np.ones_like(a)
    if target == "x":
        return np.ones_like(a), np.zeros_like(a)
    if target == "v":
        return -b, a.copy()
    with np.errstate(divide="ignore"):  # score: ∇_{x_t} log p(x_t | x) = −(x_t − a x)/b² = −z/b
        return np.zeros_like(a), np.where(b == 0, -np.inf, -1.0 / np.where(b == 0, 1.0, b))


def _coefficients(clause, t, path, target, schedule):
    """(a, b, c, d) at t, or SpecInputError where c or d is infinite."""
    a, b, da, db = _path_ab(t, path, path_schedule(clause, path, schedule))
    c, d = _target_cd(target, a, b, da, db)
    bad = ~(np.isfinite(c) & np.isfinite(d))
    if np.any(bad):
        ts = ", ".join(f"{v:g}" for v in np.unique(np.broadcast_to(t, bad.shape)[bad])[:4])
        raise SpecInputError(clause, "t", f"a time where the {target!r} target of the {path!r} path is finite "
                                          f"(it is singular where b(t) = 0)", f"t = {ts}")
    return a, b, c, d


@implements("family.affine")
def coefficients(t, path="rf", target="velocity", schedule=None):
    """(a(t), b(t), c(t), d(t)) of x_t = a x + b z, y = c x + d z  (03's table; see module docstring), each of t's
    shape."""
    return _coefficients("family.affine", t, path, target, schedule)


# ---- the template ---------------------------------------------------------------------------------------
@implements("family.interpolate")
def affine_interpolate(x, z, t, path="rf", schedule=None):
    """x_t = a(t) x + b(t) z  (00: "x_t = a(t)x + b(t)z")."""
    a, b, _, _ = _path_ab(_per_sample(t, x), path, path_schedule("family.interpolate", path, schedule))
    return a * x + b * z


@implements("family.target")
def affine_target(x, z, t, path="rf", target="velocity", schedule=None):
    """y = c(t) x + d(t) z  (00: "y_gt = c(t)x + d(t)z")."""
    _, _, c, d = _coefficients("family.target", _per_sample(t, x), path, target, schedule)
    return c * x + d * z


@implements("family.loss")
def affine_loss(f, x, z, t, path="rf", target="velocity", schedule=None, reduction="batch_mean_sq_norm"):
    """L = (1/n) Σ_i ‖f_i − (c(t_i) x_i + d(t_i) z_i)‖²; "mse_all_elements" divides by the elements per sample."""
    V.nonempty("family.loss", "f", f)
    _, _, c, d = _coefficients("family.loss", _per_sample(t, x), path, target, schedule)
    L = ((f - (c * x + d * z)) ** 2).reshape(f.shape[0], -1).sum(axis=1).mean()
    return L / f[0].size if reduction == "mse_all_elements" else L


# ---- changing targets -----------------------------------------------------------------------------------
def _inverse(clause, t, path, target, schedule):
    """(a, b, c, d, det) at t, or SpecInputError where det = ad − bc = 0."""
    a, b, c, d = _coefficients(clause, t, path, target, schedule)
    det = a * d - b * c
    if np.any(det == 0):
        ts = ", ".join(f"{v:g}" for v in np.unique(np.broadcast_to(t, det.shape)[det == 0])[:4])
        raise SpecInputError(clause, "t", f"a time where det[[a, b], [c, d]] = ad − bc ≠ 0 for the {target!r} "
                                          f"target on the {path!r} path (x and z cannot both be recovered)",
                             f"singular at t = {ts}")
    return a, b, c, d, det


@implements("family.recover")
def recover(x_t, y, t, path="rf", target="velocity", schedule=None):
    """(x̂, ẑ) = M⁻¹ (x_t, y),  M = [[a, b], [c, d]]:  x̂ = (d x_t − b y)/det,  ẑ = (a y − c x_t)/det,  det = ad − bc."""
    a, b, c, d, det = _inverse("family.recover", _per_sample(t, x_t), path, target, schedule)
    return (d * x_t - b * y) / det, (a * y - c * x_t) / det


@implements("family.convert")
def convert(x_t, y, t, from_target, to_target, path="rf", schedule=None):
    """y' = c'(t) x̂ + d'(t) ẑ with (x̂, ẑ) = recover(x_t, y, t, from_target); identity when the targets agree."""
    if from_target == to_target:
        return y.copy()
    t = _per_sample(t, x_t)
    a, b, c, d, det = _inverse("family.convert", t, path, from_target, schedule)
    x_hat, z_hat = (d * x_t - b * y) / det, (a * y - c * x_t) / det
    _, _, c2, d2 = _coefficients("family.convert", t, path, to_target, schedule)
    return c2 * x_hat + d2 * z_hat


# ---- EDM preconditioning: the network F as a target on the path (a, b) = (1, σ) -------------------------
@implements("family.edm_precond")
def edm_preconditioning(sigma, sigma_data=0.5):
    """(c_skip, c_out, c_in, c_noise) = (σ_d²/(σ² + σ_d²), σ σ_d/√(σ² + σ_d²), 1/√(σ² + σ_d²), ¼ ln σ)  (Karras et al.
    2022, Table 1), through h = hypot(σ, σ_d) (no overflow of σ²). sigma: any shape; each output of its shape."""
    h = np.hypot(sigma, sigma_data)
    r = sigma_data / h
    return r * r, sigma * r, 1.0 / h, 0.25 * np.log(sigma)


@implements("family.edm_denoise")
def edm_denoise(x_sigma, F, sigma, sigma_data=0.5):
    """D = c_skip(σ) x_σ + c_out(σ) F  (Karras et al. 2022, eq. 7; diffusers' precondition_outputs).
    x_sigma, F: (n, ...); sigma: a number or (n,)."""
    c_skip, c_out, _, _ = edm_preconditioning.raw(_per_sample(sigma, x_sigma), sigma_data)
    return c_skip * x_sigma + c_out * F
