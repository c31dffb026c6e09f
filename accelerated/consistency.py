"""Consistency functions and the consistency loss in torch (spec/consistency.py; 03): any device, batched,
dtype-preserving (half precisions are computed in float32)."""
from __future__ import annotations

import torch

from spec import validate as V
from spec.errors import SpecInputError

from . import optimal as O

PROPERTY, GAUSSIAN, LOSS = "consistency.property", "consistency.gaussian", "consistency.loss"
RK4_STEPS = 96


def _work(dtype):
    return dtype if dtype in (torch.float32, torch.float64) else torch.float32


def consistency_function(x_t, t, weights, means=None, covs=None, steps: int = RK4_STEPS):
    """f(x_t, t) = x(0) along dx/ds = f*(x, s) from x(t) = x_t (the oracle probability-flow ODE, 03).

    Classical RK4 with ``steps`` equal steps in σ ∈ [0, 1], s = t (1 − σ), so every row integrates over its own
    [0, t] in one batched loop; t = 0 returns x_t.
    """
    c = PROPERTY
    m = O.Mixture.of(weights, means, covs, c, x_t if isinstance(x_t, torch.Tensor) else torch.zeros(()))
    x_t = O._points(c, x_t, m.d)
    wd = _work(x_t.dtype)
    n = x_t.shape[0]
    t = O._per_sample(c, "t", t, n, x_t, wd, 0.0, 1.0)
    x = x_t.to(wd)

    def rhs(y, sigma):
        return -t[:, None] * O._posterior_velocity(y, t * (1.0 - sigma), m)

    h = 1.0 / steps
    for k in range(steps):
        s0 = k * h
        k1 = rhs(x, s0)
        k2 = rhs(x + 0.5 * h * k1, s0 + 0.5 * h)
        k3 = rhs(x + 0.5 * h * k2, s0 + 0.5 * h)
        k4 = rhs(x + h * k3, s0 + h)
        x = x + (h / 6.0) * (k1 + 2 * k2 + 2 * k3 + k4)
    return x.to(x_t.dtype)


def gaussian_consistency_function(x_t, t, mu, s):
    """f(x_t, t) = μ + s (x_t − (1 − t) μ) / √((1 − t)² s² + t²) for data N(μ, diag(s²))  (03, catalog)."""
    c = GAUSSIAN
    x_t = V.array(c, "x_t", x_t, ndim=2)
    wd = _work(x_t.dtype)
    mu = V.array(c, "mu", torch.as_tensor(mu, dtype=wd, device=x_t.device), ndim=1)
    s = V.interval(c, "s", V.array(c, "s", torch.as_tensor(s, dtype=wd, device=x_t.device), ndim=(0, 1)), 0.0,
                   low_closed=False, what="positive")
    if x_t.shape[1] != mu.shape[0] or (s.ndim == 1 and s.shape[0] != mu.shape[0]):
        raise SpecInputError(c, "x_t/mu/s", "shapes (n, d), (d,), () or (d,)",
                             f"{tuple(x_t.shape)}, {tuple(mu.shape)}, {tuple(s.shape)}")
    t = O._per_sample(c, "t", t, x_t.shape[0], x_t, wd, 0.0, 1.0)[:, None]
    sigma = torch.sqrt((1.0 - t) ** 2 * s**2 + t**2)
    out = mu + s * (x_t.to(wd) - (1.0 - t) * mu) / sigma
    if not bool(torch.isfinite(out).all()):
        raise SpecInputError(c, "x_t/mu/s", f"values for which f(x_t, t) is finite in {wd}", "overflow")
    return out.to(x_t.dtype)


def consistency_loss(f, f_ema, velocity, x, z, t_next, t_prev):
    """L = mean_i ‖f(x_{t_{n+1}}, t_{n+1}) − f⁻(x̂_{t_n}, t_n)‖²,
    x̂_{t_n} = x_{t_{n+1}} − (t_{n+1} − t_n) v(x_{t_{n+1}}, t_{n+1})
    (03: "a consistency loss between adjacent timesteps"; consistency distillation with one Euler step of the teacher).

    f⁻ = f_ema is the EMA target network: evaluated without gradient (and the teacher step too), so the gradient of L
    flows through f only.
    """
    c = LOSS
    for name, g in (("f", f), ("f_ema", f_ema), ("velocity", velocity)):
        if not callable(g):
            raise SpecInputError(c, name, "a callable f(x, t)", type(g).__name__)
    x, z = V.array(c, "x", x, ndim=2), V.array(c, "z", z, ndim=2)
    V.same_shape(c, ("x", "z"), x, z)
    n = x.shape[0]
    t1 = O._per_sample(c, "t_next", t_next, n, x, x.dtype, 0.0, 1.0)
    t0 = O._per_sample(c, "t_prev", t_prev, n, x, x.dtype, 0.0, 1.0)
    if bool((t0 >= t1).any()):
        raise SpecInputError(c, "t_prev", "strictly below t_next (adjacent timesteps t_n < t_{n+1})", "t_prev ≥ t_next")
    x1 = (1.0 - t1)[:, None] * x + t1[:, None] * z
    with torch.no_grad():
        x0 = x1 - (t1 - t0)[:, None] * velocity(x1, t1)
        target = f_ema(x0, t0)
    diff = (f(x1, t1) - target).to(_work(x.dtype))
    return (diff**2).sum(dim=1).mean().to(x.dtype)
