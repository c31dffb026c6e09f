"""Consistency functions and the consistency loss in torch (spec/consistency.py; 03): the functions and arguments of
reference/consistency.py. Any device, batched, dtype-preserving (half precisions are computed in float32)."""
from __future__ import annotations

import math

import torch

from genspec.spec.bind import implements
from genspec.spec.errors import SpecInputError

from . import optimal as O
from ._tensors import per_sample, work_dtype

PROPERTY, GAUSSIAN, LOSS = "consistency.property", "consistency.gaussian", "consistency.loss"
RK4_STEPS = 96


def rk4_to_data(x_t, t, weights, means, covs, steps: int = RK4_STEPS):
    """x(0) along dx/ds = f*(x, s) from x(t) = x_t, for arguments consistency.property checked: classical RK4 with
    ``steps`` equal steps in σ ∈ [0, 1], s = t (1 − σ), so every row integrates over its own [0, t] in one batched
    loop; t = 0 returns x_t."""
    m = O.Mixture(weights, means, covs, PROPERTY, device=x_t.device, dtype=work_dtype(x_t.dtype))
    t, x = per_sample(t, x_t), x_t.to(m.mu.dtype)

    def rhs(y, sigma):
        return -t[:, None] * m.rf_velocity(y, t * (1.0 - sigma))

    h = 1.0 / steps
    for k in range(steps):
        s0 = k * h
        k1 = rhs(x, s0)
        k2 = rhs(x + 0.5 * h * k1, s0 + 0.5 * h)
        k3 = rhs(x + 0.5 * h * k2, s0 + 0.5 * h)
        k4 = rhs(x + h * k3, s0 + h)
        x = x + (h / 6.0) * (k1 + 2 * k2 + 2 * k3 + k4)
    return x.to(x_t.dtype)


@implements(PROPERTY)
def consistency_function(x_t, t, weights, means, covs):
    """f(x_t, t) = x(0) along dx/ds = f*(x, s) from x(t) = x_t (the oracle probability-flow ODE, 03), by RK4 with
    RK4_STEPS steps."""
    return rk4_to_data(x_t, t, weights, means, covs)


@implements(GAUSSIAN)
def gaussian_consistency_function(x_t, t, mu, s):
    """f(x_t, t) = μ + s (x_t − (1 − t) μ) / √((1 − t)² s² + t²) for data N(μ, diag(s²))  (03, catalog)."""
    wd = work_dtype(x_t.dtype)
    t, mu, s = per_sample(t, x_t)[:, None], mu.to(wd), torch.as_tensor(s, dtype=wd, device=x_t.device)
    out = mu + s * (x_t.to(wd) - (1.0 - t) * mu) / torch.sqrt((1.0 - t) ** 2 * s**2 + t**2)
    if not bool(torch.isfinite(out).all()):
        raise SpecInputError(GAUSSIAN, "x_t/mu/s", f"values for which f(x_t, t) is finite in {wd}", "overflow")
    return out.to(x_t.dtype)


@implements(LOSS)
def consistency_loss(f, f_ema, velocity, x, z, t_next, t_prev, distance="squared_l2", mode="distillation",
                     target_network="ema"):
    """L = mean_i d(f(x_{t_{n+1}}, t_{n+1}), f⁻(x̂_{t_n}, t_n)), x_{t_{n+1}} = (1 − t_{n+1}) x + t_{n+1} z  (03).

    x̂_{t_n} = x_{t_{n+1}} − (t_{n+1} − t_n) v(x_{t_{n+1}}, t_{n+1}) (distillation) or (1 − t_n) x + t_n z (training);
    d = ‖·‖² or √(‖·‖² + c²) − c (pseudo_huber, c = 0.00054 √d); f⁻ = f_ema or f (stopgrad). f⁻ and the teacher
    step run without gradient, so the gradient of L flows through f only. t is in x's dtype, as f receives it.
    """
    t1, t0 = (torch.as_tensor(v, dtype=x.dtype, device=x.device).expand(len(x)) for v in (t_next, t_prev))
    if bool((t0 >= t1).any()):
        raise SpecInputError(LOSS, "t_prev", "strictly below t_next (adjacent timesteps t_n < t_{n+1})",
                             "t_prev ≥ t_next")
    x1 = (1.0 - t1)[:, None] * x + t1[:, None] * z
    with torch.no_grad():
        x0 = (x1 - (t1 - t0)[:, None] * velocity(x1, t1) if mode == "distillation"
              else (1.0 - t0)[:, None] * x + t0[:, None] * z)
        target = (f if target_network == "stopgrad" else f_ema)(x0, t0)
    sq = ((f(x1, t1) - target).to(work_dtype(x.dtype)) ** 2).sum(dim=1)
    if distance == "pseudo_huber":
        c = 0.00054 * math.sqrt(x.shape[1])
        sq = torch.sqrt(sq + c * c) - c
    return sq.mean().to(x.dtype)
