"""The affine family in PyTorch (spec/family.py): same functions, names and arguments as reference/family.py.

Any device, dtype-preserving; bfloat16/float16 inputs are computed in float32 and rounded once at the end.
"""
from __future__ import annotations

import math

import torch

# One table for both implementations: the path/target names, the named schedules' parameters and the
# shape/argument checks live in reference/family.py (they touch no array arithmetic).
from reference.family import (  # noqa: F401  (PATHS, DEFAULT_SCHEDULE re-exported for accelerated.optimal)
    COSINE_S,
    DEFAULT_SCHEDULE,
    PATHS,
    SCHEDULES,
    TARGETS,
    VE_SIGMA_MAX,
    VE_SIGMA_MIN,
    VP_BETA_MAX,
    VP_BETA_MIN,
    _path,
    _per_sample,
)
from spec import validate as V
from spec.errors import SpecInputError

from ._tensors import pair as _pair
from ._tensors import tensor as _tensor
from ._tensors import upcast as _work


def _times(clause, t, like=None):
    """t as a tensor in [0, 1]; a Python number becomes a scalar tensor of like's dtype and device
    (else the default)."""
    if isinstance(t, (int, float)) and not isinstance(t, bool):
        t = torch.tensor(float(t), dtype=like.dtype if like is not None else torch.get_default_dtype(),
                         device=like.device if like is not None else None)
    t = _tensor(clause, "t", t)
    return V.interval(clause, "t", t, 0.0, 1.0)


# ---- schedules ------------------------------------------------------------------------------------------
def _path_ab(t, path, schedule):
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
    else:
        s = COSINE_S
        k = 0.5 * math.pi / (1.0 + s)
        c0 = math.cos(k * s)
        a = torch.sin(k * (1.0 - t)) / c0
        b = torch.sqrt(torch.sin(k * (t + 2.0 * s)) * torch.sin(k * t)) / c0
        da = -k * torch.cos(k * (1.0 - t)) / c0
    db = torch.where(b == 0, torch.full_like(b, math.inf), -a * da / torch.where(b == 0, torch.ones_like(b), b))
    return a, b, da, db


def vp_alpha_bar(t, schedule="linear"):
    """ᾱ(t) of the VP path: "linear" (Song et al. 2021, default) or "cosine" (Nichol & Dhariwal 2021)."""
    c = "family.vp_schedule"
    t = _times(c, t)
    V.choice(c, "schedule", schedule, SCHEDULES["vp"])
    (tw,), dt = _work(t)
    a, _, _, _ = _path_ab(tw, "vp", schedule)
    return (a * a).to(dt)


def ve_sigma(t):
    """σ(t) = σ_min (σ_max/σ_min)^t."""
    t = _times("family.ve_schedule", t)
    (tw,), dt = _work(t)
    return (VE_SIGMA_MIN * torch.exp(tw * math.log(VE_SIGMA_MAX / VE_SIGMA_MIN))).to(dt)


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
    a, b, da, db = _path_ab(t, path, schedule)
    c, d = _target_cd(target, a, b, da, db)
    bad = ~(torch.isfinite(c) & torch.isfinite(d))
    if bool(bad.any()):
        ts = ", ".join(f"{v:g}" for v in torch.unique(t.expand_as(bad)[bad])[:4].tolist())
        raise SpecInputError(clause, "t", f"a time where the {target!r} target of the {path!r} path is finite "
                                          f"(it is singular where b(t) = 0)", f"t = {ts}")
    return a, b, c, d


def coefficients(t, path="rf", target="velocity", schedule=None):
    """(a(t), b(t), c(t), d(t)) of x_t = a x + b z, y = c x + d z, each of t's shape and dtype."""
    cl = "family.affine"
    t = _times(cl, t)
    schedule = _path(cl, path, schedule)
    V.choice(cl, "target", target, TARGETS)
    (tw,), dt = _work(t)
    return tuple(v.to(dt) for v in _coefficients(cl, tw, path, target, schedule))


def affine_interpolate(x, z, t, path="rf", schedule=None):
    """x_t = a(t) x + b(t) z."""
    cl = "family.interpolate"
    x, z = _pair(cl, ("x", "z"), x, z)
    t = _per_sample(cl, _times(cl, t, x), x)
    schedule = _path(cl, path, schedule)
    (x, z, t), dt = _work(x, z, t)
    a, b, _, _ = _path_ab(t, path, schedule)
    return (a * x + b * z).to(dt)


def affine_target(x, z, t, path="rf", target="velocity", schedule=None):
    """y = c(t) x + d(t) z."""
    cl = "family.target"
    x, z = _pair(cl, ("x", "z"), x, z)
    t = _per_sample(cl, _times(cl, t, x), x)
    schedule = _path(cl, path, schedule)
    V.choice(cl, "target", target, TARGETS)
    (x, z, t), dt = _work(x, z, t)
    _, _, c, d = _coefficients(cl, t, path, target, schedule)
    return (c * x + d * z).to(dt)


def affine_loss(f, x, z, t, path="rf", target="velocity", schedule=None):
    """L = mean over the batch of ‖f − y‖² (the spec's default reduction)."""
    cl = "family.loss"
    f = _tensor(cl, "f", f)
    x, z = _pair(cl, ("x", "z"), x, z)
    V.same_shape(cl, ("f", "x"), f, x)
    t = _per_sample(cl, _times(cl, t, x), x)
    schedule = _path(cl, path, schedule)
    V.choice(cl, "target", target, TARGETS)
    if f.shape[0] == 0:
        raise SpecInputError(cl, "f", "a non-empty batch", "0 samples")
    (f, x, z, t), dt = _work(f, x, z, t)
    _, _, c, d = _coefficients(cl, t, path, target, schedule)
    return ((f - (c * x + d * z)) ** 2).reshape(f.shape[0], -1).sum(dim=1).mean().to(dt)


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


def recover(x_t, y, t, path="rf", target="velocity", schedule=None):
    """(x̂, ẑ) = M⁻¹ (x_t, y): x̂ = (d x_t − b y)/det, ẑ = (a y − c x_t)/det."""
    cl = "family.recover"
    x_t, y = _pair(cl, ("x_t", "y"), x_t, y)
    t = _per_sample(cl, _times(cl, t, x_t), x_t)
    schedule = _path(cl, path, schedule)
    V.choice(cl, "target", target, TARGETS)
    (x_t, y, t), dt = _work(x_t, y, t)
    a, b, c, d, det = _inverse(cl, t, path, target, schedule)
    return ((d * x_t - b * y) / det).to(dt), ((a * y - c * x_t) / det).to(dt)


def convert(x_t, y, t, from_target, to_target, path="rf", schedule=None):
    """y' = c' x̂ + d' ẑ with (x̂, ẑ) = M_from⁻¹ (x_t, y); identity when the targets agree."""
    cl = "family.convert"
    x_t, y = _pair(cl, ("x_t", "y"), x_t, y)
    t = _per_sample(cl, _times(cl, t, x_t), x_t)
    schedule = _path(cl, path, schedule)
    V.choice(cl, "from_target", from_target, TARGETS)
    V.choice(cl, "to_target", to_target, TARGETS)
    if from_target == to_target:
        return y.clone()
    (x_t, y, t), dt = _work(x_t, y, t)
    a, b, c, d, det = _inverse(cl, t, path, from_target, schedule)
    _, _, c2, d2 = _coefficients(cl, t, path, to_target, schedule)
    # y' = [c', d'] M⁻¹ (x_t, y): fold the 2×2 product into two coefficients, one pass over the data
    p = (c2 * d - d2 * c) / det
    q = (d2 * a - c2 * b) / det
    return (p * x_t + q * y).to(dt)
