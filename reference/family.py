"""The affine family of diffusion/flow formulations, float64 NumPy reference (spec/family.py; 00, 03).

    x_t = a(t) x + b(t) z,    y = c(t) x + d(t) z,    L = ‖f(x_t, t) − y‖²

t = 0 is data, t = 1 is noise on every path. Paths fix (a, b); targets fix (c, d):

    path  "rf"  a = 1 − t, b = t                                   (rectified flow)
          "vp"  a = √ᾱ(t), b = √(1 − ᾱ(t))   schedule "linear" (default) or "cosine"
          "ve"  a = 1,     b = σ(t)           schedule "geometric"
    target "velocity" (a'(t), b'(t))   "epsilon" (0, 1)   "x" (1, 0)   "v" (−b(t), a(t))   "score" (0, −1/b(t))

Everything that goes through the 2×2 matrix M = [[a, b], [c, d]] raises SpecInputError where det M = ad − bc = 0
or a coefficient is infinite (see the clauses' `singular`).
"""
from __future__ import annotations

import math

import numpy as np

from spec import validate as V
from spec.errors import SpecInputError

PATHS = ("rf", "vp", "ve")
TARGETS = ("velocity", "epsilon", "x", "v", "score")
SCHEDULES = {"rf": ("none",), "vp": ("linear", "cosine"), "ve": ("geometric",)}
DEFAULT_SCHEDULE = {"rf": "none", "vp": "linear", "ve": "geometric"}

# Named schedule parameters (spec/family.py states them).
VP_BETA_MIN, VP_BETA_MAX = 0.1, 20.0          # Song et al. 2021, continuous limit of Ho et al.'s 1e-4..0.02, T = 1000
COSINE_S = 0.008                               # Nichol & Dhariwal 2021
VE_SIGMA_MIN, VE_SIGMA_MAX = 0.01, 50.0        # Song et al. 2021 (CIFAR-10)


# ---- validation -----------------------------------------------------------------------------------------
def _times(clause, t):
    t = V.array(clause, "t", t)
    return V.interval(clause, "t", t, 0.0, 1.0)


def _path(clause, path, schedule):
    V.choice(clause, "path", path, PATHS)
    if schedule is None:
        schedule = DEFAULT_SCHEDULE[path]
    V.choice(clause, "schedule", schedule, SCHEDULES[path])
    return schedule


def _per_sample(clause, t, x):
    """t of shape () or (n,) against x of shape (n, ...): returns t shaped to broadcast over x's trailing axes."""
    if t.ndim == 0:
        return t
    if t.ndim != 1 or x.ndim == 0 or t.shape[0] != x.shape[0]:
        raise SpecInputError(clause, "t", f"a scalar or one time per sample, shape ({x.shape[0] if x.ndim else 1},)",
                             f"shape {tuple(t.shape)}")
    return t.reshape(t.shape + (1,) * (x.ndim - 1))


def _pair(clause, names, u, w):
    u = V.array(clause, names[0], u, min_ndim=1)
    w = V.array(clause, names[1], w, min_ndim=1)
    V.same_shape(clause, names, u, w)
    return u, w


# ---- schedules ------------------------------------------------------------------------------------------
def vp_alpha_bar(t, schedule="linear"):
    """ᾱ(t): "linear" exp(−½t²(β_max − β_min) − tβ_min) (Song et al. 2021);
    "cosine" cos²(π/2·(t+s)/(1+s))/cos²(π/2·s/(1+s)) (Nichol & Dhariwal 2021)."""
    c = "family.vp_schedule"
    t = _times(c, t)
    V.choice(c, "schedule", schedule, SCHEDULES["vp"])
    a, _, _, _ = _path_ab(t, "vp", schedule)
    return a * a


def ve_sigma(t):
    """σ(t) = σ_min (σ_max/σ_min)^t, σ_min = 0.01, σ_max = 50 (Song et al. 2021)."""
    t = _times("family.ve_schedule", t)
    return VE_SIGMA_MIN * (VE_SIGMA_MAX / VE_SIGMA_MIN) ** t


def _path_ab(t, path, schedule):
    """(a, b, a', b') of a path at t, in forms without cancellation near t = 0 and t = 1."""
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
    a, b, da, db = _path_ab(t, path, schedule)
    c, d = _target_cd(target, a, b, da, db)
    bad = ~(np.isfinite(c) & np.isfinite(d))
    if np.any(bad):
        ts = ", ".join(f"{v:g}" for v in np.unique(t[bad])[:4])
        raise SpecInputError(clause, "t", f"a time where the {target!r} target of the {path!r} path is finite "
                                          f"(it is singular where b(t) = 0)", f"t = {ts}")
    return a, b, c, d


def coefficients(t, path="rf", target="velocity", schedule=None):
    """(a(t), b(t), c(t), d(t)) of x_t = a x + b z, y = c x + d z  (03's table; see module docstring)."""
    cl = "family.affine"
    t = _times(cl, t)
    schedule = _path(cl, path, schedule)
    V.choice(cl, "target", target, TARGETS)
    return _coefficients(cl, t, path, target, schedule)


# ---- the template ---------------------------------------------------------------------------------------
def affine_interpolate(x, z, t, path="rf", schedule=None):
    """x_t = a(t) x + b(t) z  (00: "x_t = a(t)x + b(t)z"); t is a scalar or one time per sample."""
    cl = "family.interpolate"
    x, z = _pair(cl, ("x", "z"), x, z)
    t = _per_sample(cl, _times(cl, t), x)
    schedule = _path(cl, path, schedule)
    a, b, _, _ = _path_ab(t, path, schedule)
    return a * x + b * z


def affine_target(x, z, t, path="rf", target="velocity", schedule=None):
    """y = c(t) x + d(t) z  (00: "y_gt = c(t)x + d(t)z")."""
    cl = "family.target"
    x, z = _pair(cl, ("x", "z"), x, z)
    t = _per_sample(cl, _times(cl, t), x)
    schedule = _path(cl, path, schedule)
    V.choice(cl, "target", target, TARGETS)
    _, _, c, d = _coefficients(cl, t, path, target, schedule)
    return c * x + d * z


def affine_loss(f, x, z, t, path="rf", target="velocity", schedule=None, reduction="batch_mean_sq_norm"):
    """L = mean over the batch of ‖f − y‖² (sum over each sample's elements); "mse_all_elements" divides by dim."""
    cl = "family.loss"
    f = V.array(cl, "f", f, min_ndim=1)
    x, z = _pair(cl, ("x", "z"), x, z)
    V.same_shape(cl, ("f", "x"), f, x)
    t = _per_sample(cl, _times(cl, t), x)
    schedule = _path(cl, path, schedule)
    V.choice(cl, "target", target, TARGETS)
    V.choice(cl, "reduction", reduction, ("batch_mean_sq_norm", "mse_all_elements"))
    if f.shape[0] == 0:
        raise SpecInputError(cl, "f", "a non-empty batch", "0 samples")
    _, _, c, d = _coefficients(cl, t, path, target, schedule)
    sq = ((f - (c * x + d * z)) ** 2).reshape(f.shape[0], -1).sum(axis=1)
    L = sq.mean()
    return L / (f[0].size) if reduction == "mse_all_elements" else L


# ---- changing targets -----------------------------------------------------------------------------------
def _inverse(clause, t, path, target, schedule):
    a, b, c, d = _coefficients(clause, t, path, target, schedule)
    det = a * d - b * c
    if np.any(det == 0):
        ts = ", ".join(f"{v:g}" for v in np.unique(np.broadcast_to(t, det.shape)[det == 0])[:4])
        raise SpecInputError(clause, "t", f"a time where det[[a, b], [c, d]] = ad − bc ≠ 0 for the {target!r} "
                                          f"target on the {path!r} path (x and z cannot both be recovered)",
                             f"singular at t = {ts}")
    return a, b, c, d, det


def recover(x_t, y, t, path="rf", target="velocity", schedule=None):
    """(x̂, ẑ) = M⁻¹ (x_t, y),  M = [[a, b], [c, d]]:  x̂ = (d x_t − b y)/det,  ẑ = (a y − c x_t)/det,  det = ad − bc."""
    cl = "family.recover"
    x_t, y = _pair(cl, ("x_t", "y"), x_t, y)
    t = _per_sample(cl, _times(cl, t), x_t)
    schedule = _path(cl, path, schedule)
    V.choice(cl, "target", target, TARGETS)
    a, b, c, d, det = _inverse(cl, t, path, target, schedule)
    return (d * x_t - b * y) / det, (a * y - c * x_t) / det


def convert(x_t, y, t, from_target, to_target, path="rf", schedule=None):
    """y' = c'(t) x̂ + d'(t) ẑ with (x̂, ẑ) = recover(x_t, y, t, from_target); identity when the targets agree."""
    cl = "family.convert"
    x_t, y = _pair(cl, ("x_t", "y"), x_t, y)
    t = _per_sample(cl, _times(cl, t), x_t)
    schedule = _path(cl, path, schedule)
    V.choice(cl, "from_target", from_target, TARGETS)
    V.choice(cl, "to_target", to_target, TARGETS)
    if from_target == to_target:
        return y.copy()
    a, b, c, d, det = _inverse(cl, t, path, from_target, schedule)
    x_hat, z_hat = (d * x_t - b * y) / det, (a * y - c * x_t) / det
    _, _, c2, d2 = _coefficients(cl, t, path, to_target, schedule)
    return c2 * x_hat + d2 * z_hat
