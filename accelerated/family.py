"""The affine family in PyTorch (spec/family.py): the functions, names and arguments of reference/family.py.

    x_t = a(t) x + b(t) z,    y = c(t) x + d(t) z,    L = ‖f(x_t, t) − y‖²

Any device, dtype-preserving; bfloat16/float16 inputs are computed in float32 and rounded once at the end.
"""
from __future__ import annotations

import math

import torch

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

from ._tensors import per_sample_column, upcast


def _times(t):
    """t as a tensor in the working dtype (a number: the default dtype), and the dtype to return."""
    if not isinstance(t, torch.Tensor):
        t = torch.tensor(float(t), dtype=torch.get_default_dtype())
    (t,), dt = upcast(t)
    return t, dt


# ---- schedules ------------------------------------------------------------------------------------------
def _path_ab(t, path, schedule):
    """(a, b, a', b') of a path at t, in the reference's cancellation-free forms."""
    if path == "rf":
        return 1.0 - t, t, -torch.ones_like(t), torch.ones_like(t)
    if path == "ve":
        b = VE_SIGMA_MIN * torch.exp(t * math.log(VE_SIGMA_MAX / VE_SIGMA_MIN))
        return torch.ones_like(t), b, torch.zeros_like(t), b * math.log(VE_SIGMA_MAX / VE_SIGMA_MIN)
    if schedule == "linear":
        log_ab = -0.5 * t * t * (VP_BETA_MAX - VP_BETA_MIN) - t * VP_BETA_MIN
        a = torch.exp(0.5 * log_ab)
        b = torch.sqrt(-torch.expm1(log_ab))
        da = -0.5 * (t * (VP_BETA_MAX - VP_BETA_MIN) + VP_BETA_MIN) * a
    elif schedule == "trig":
        k = 0.5 * math.pi
        a, b = torch.sin(k * (1.0 - t)), torch.sin(k * t)
        return a, b, -k * b, k * a
    else:
        s = COSINE_S
        k = 0.5 * math.pi / (1.0 + s)
        c0 = math.cos(k * s)
        a = torch.sin(k * (1.0 - t)) / c0
        b = torch.sqrt(torch.sin(k * (t + 2.0 * s)) * torch.sin(k * t)) / c0
        da = -k * torch.cos(k * (1.0 - t)) / c0
    db = torch.where(b == 0, torch.full_like(b, math.inf), -a * da / torch.where(b == 0, torch.ones_like(b), b))
    return a, b, da, db


@implements("family.vp_schedule")
def vp_alpha_bar(t, schedule="linear", linear_form="song", cosine_form="normalised"):
    """ᾱ(t) of the VP path: "linear" (Song et al. 2021, default), "cosine" (Nichol & Dhariwal 2021) or "trig";
    linear_form 'beta_linear_log_snr' exp(−1e-4 − 10t²), cosine_form 'alpha_cosine_log_snr' the cosine unnormalised
    (denoising-diffusion-pytorch's log-SNR schedules)."""
    t, dt = _times(t)
    if schedule == "linear" and linear_form == "beta_linear_log_snr":
        return torch.exp(-LOG_SNR_OFFSET - 0.5 * VP_BETA_MAX * t * t).to(dt)
    if schedule == "cosine" and cosine_form == "alpha_cosine_log_snr":
        return (torch.sin(0.5 * math.pi / (1.0 + COSINE_S) * (1.0 - t)) ** 2).to(dt)
    a = _path_ab(t, "vp", schedule)[0]
    return (a * a).to(dt)


@implements("family.ve_schedule")
def ve_sigma(t):
    """σ(t) = σ_min (σ_max/σ_min)^t."""
    t, dt = _times(t)
    return (VE_SIGMA_MIN * torch.exp(t * math.log(VE_SIGMA_MAX / VE_SIGMA_MIN))).to(dt)


def _target_cd(target, a, b, da, db):
    if target == "velocity":
        return da, db
    if target == "epsilon":
        return torch.zeros_like(a), torch.ones_like(a)
    if target == "x":
        return torch.ones_like(a), torch.zeros_like(a)
    if target == "v":
        return -b, a
    return torch.zeros_like(a), torch.where(b == 0, torch.full_like(b, -math.inf),
                                            -1.0 / torch.where(b == 0, torch.ones_like(b), b))


def _coefficients(clause, t, path, target, schedule):
    a, b, da, db = _path_ab(t, path, path_schedule(clause, path, schedule))
    c, d = _target_cd(target, a, b, da, db)
    bad = ~(torch.isfinite(c) & torch.isfinite(d))
    if bool(bad.any()):
        ts = ", ".join(f"{v:g}" for v in torch.unique(t.expand_as(bad)[bad])[:4].tolist())
        raise SpecInputError(clause, "t", f"a time where the {target!r} target of the {path!r} path is finite "
                                          f"(it is singular where b(t) = 0)", f"t = {ts}")
    return a, b, c, d


@implements("family.affine")
def coefficients(t, path="rf", target="velocity", schedule=None):
    """(a(t), b(t), c(t), d(t)) of x_t = a x + b z, y = c x + d z, each of t's shape and dtype."""
    t, dt = _times(t)
    return tuple(v.to(dt) for v in _coefficients("family.affine", t, path, target, schedule))


# ---- the template ---------------------------------------------------------------------------------------
@implements("family.interpolate")
def affine_interpolate(x, z, t, path="rf", schedule=None):
    """x_t = a(t) x + b(t) z."""
    (x, z, t), dt = upcast(x, z, per_sample_column(t, x))
    a, b, _, _ = _path_ab(t, path, path_schedule("family.interpolate", path, schedule))
    return (a * x + b * z).to(dt)


@implements("family.target")
def affine_target(x, z, t, path="rf", target="velocity", schedule=None):
    """y = c(t) x + d(t) z."""
    (x, z, t), dt = upcast(x, z, per_sample_column(t, x))
    _, _, c, d = _coefficients("family.target", t, path, target, schedule)
    return (c * x + d * z).to(dt)


@implements("family.loss")
def affine_loss(f, x, z, t, path="rf", target="velocity", schedule=None, reduction="batch_mean_sq_norm"):
    """L = (1/n) Σ_i ‖f_i − (c(t_i) x_i + d(t_i) z_i)‖²; "mse_all_elements" divides by the elements per sample."""
    V.nonempty("family.loss", "f", f)
    (f, x, z, t), dt = upcast(f, x, z, per_sample_column(t, x))
    _, _, c, d = _coefficients("family.loss", t, path, target, schedule)
    L = ((f - (c * x + d * z)) ** 2).reshape(f.shape[0], -1).sum(dim=1).mean()
    return (L / f[0].numel() if reduction == "mse_all_elements" else L).to(dt)


# ---- changing targets -----------------------------------------------------------------------------------
def _inverse(clause, t, path, target, schedule):
    a, b, c, d = _coefficients(clause, t, path, target, schedule)
    det = a * d - b * c
    zero = det == 0
    if bool(zero.any()):
        ts = ", ".join(f"{v:g}" for v in torch.unique(t.expand_as(det)[zero])[:4].tolist())
        raise SpecInputError(clause, "t", f"a time where det[[a, b], [c, d]] = ad − bc ≠ 0 for the {target!r} "
                                          f"target on the {path!r} path (x and z cannot both be recovered)",
                             f"singular at t = {ts}")
    return a, b, c, d, det


@implements("family.recover")
def recover(x_t, y, t, path="rf", target="velocity", schedule=None):
    """(x̂, ẑ) = M⁻¹ (x_t, y): x̂ = (d x_t − b y)/det, ẑ = (a y − c x_t)/det."""
    (x_t, y, t), dt = upcast(x_t, y, per_sample_column(t, x_t))
    a, b, c, d, det = _inverse("family.recover", t, path, target, schedule)
    return ((d * x_t - b * y) / det).to(dt), ((a * y - c * x_t) / det).to(dt)


@implements("family.convert")
def convert(x_t, y, t, from_target, to_target, path="rf", schedule=None):
    """y' = (c', d') M_from⁻¹ (x_t, y), folded into two coefficients (one pass over the data); identity when the
    targets agree."""
    if from_target == to_target:
        return y.clone()
    (x_t, y, t), dt = upcast(x_t, y, per_sample_column(t, x_t))
    a, b, c, d, det = _inverse("family.convert", t, path, from_target, schedule)
    _, _, c2, d2 = _coefficients("family.convert", t, path, to_target, schedule)
    p = (c2 * d - d2 * c) / det
    q = (d2 * a - c2 * b) / det
    return (p * x_t + q * y).to(dt)


# ---- EDM preconditioning --------------------------------------------------------------------------------
@implements("family.edm_precond")
def edm_preconditioning(sigma, sigma_data=0.5):
    """(c_skip, c_out, c_in, c_noise) through h = hypot(σ, σ_d): ((σ_d/h)², σ σ_d/h, 1/h, ¼ ln σ)."""
    (sigma,), dt = upcast(sigma)
    h = torch.hypot(sigma, torch.full_like(sigma, sigma_data))
    r = sigma_data / h
    return tuple(v.to(dt) for v in (r * r, sigma * r, 1.0 / h, 0.25 * torch.log(sigma)))


@implements("family.edm_denoise")
def edm_denoise(x_sigma, F, sigma, sigma_data=0.5):
    """D = c_skip(σ) x_σ + c_out(σ) F."""
    (x, f, s), dt = upcast(x_sigma, F, per_sample_column(sigma, x_sigma))
    c_skip, c_out, _, _ = edm_preconditioning.raw(s, sigma_data)
    return (c_skip * x + c_out * f).to(dt)
