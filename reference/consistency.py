"""Consistency functions and the consistency loss, float64 NumPy reference (spec/consistency.py; 03).

The probability-flow ODE of rectified flow is dx/dt = f*(x, t) (the oracle velocity E[z − x | x_t]); its
consistency function maps any point of a trajectory to the trajectory's end at t = 0.
"""
from __future__ import annotations

import math

import numpy as np
from scipy.integrate import solve_ivp

from spec import validate as V
from spec.errors import SpecInputError

from . import optimal as O

PROPERTY, GAUSSIAN, LOSS = "consistency.property", "consistency.gaussian", "consistency.loss"


def flow_map(x, t_from, t_to, weights, means, covs, clause=PROPERTY):
    """x(t_to) along dx/ds = f*(x, s) from x(t_from) = x, one row per start (t_from, t_to scalars or (n,)).

    Solved for the whole batch at once in σ ∈ [0, 1], s = t_from + (t_to − t_from) σ; scipy DOP853, rtol = atol = 1e-11.
    """
    w, mu, cov = O.mixture(clause, weights, means, covs)
    x = O.points(clause, x, mu.shape[1])
    n, d = x.shape
    t0 = O.per_sample(clause, "t", t_from, n, 0.0, 1.0)
    t1 = O.per_sample(clause, "t_to", t_to, n, 0.0, 1.0)
    span = t1 - t0
    if n == 0 or not np.any(span != 0):
        return x.copy()

    def rhs(sigma, y):
        return (span[:, None] * O.optimal_prediction(y.reshape(n, d), t0 + span * sigma, w, mu, cov)).ravel()

    sol = solve_ivp(rhs, (0.0, 1.0), x.ravel(), method="DOP853", rtol=1e-11, atol=1e-11)
    return sol.y[:, -1].reshape(n, d)


def consistency_function(x_t, t, weights, means, covs):
    """f(x_t, t) = x(0) where dx/ds = f*(x, s), x(t) = x_t: the exact consistency function of the oracle
    probability-flow ODE for Gaussian-mixture data (03: "fθ(xt, t) = x0 for all t along the same trajectory").

    Solved by flow_map from t to 0 (scipy DOP853, rtol = atol = 1e-11). t = 0 returns x_t.
    """
    return flow_map(x_t, t, 0.0, weights, means, covs, clause=PROPERTY)


def gaussian_consistency_function(x_t, t, mu, s):
    """f(x_t, t) = μ + s (x_t − (1 − t) μ) / √((1 − t)² s² + t²) for data N(μ, diag(s²))  (03, catalog);
    per coordinate. At t = 0 it is x_t; at t = 1 it is μ + s x_1 (the noise's image)."""
    c = GAUSSIAN
    mu = V.array(c, "mu", mu, ndim=1)
    s = V.interval(c, "s", V.array(c, "s", s, ndim=(0, 1)), 0.0, low_closed=False, what="positive")
    x_t = V.array(c, "x_t", x_t, ndim=2)
    if x_t.shape[1] != mu.shape[0] or (s.ndim == 1 and s.shape[0] != mu.shape[0]):
        raise SpecInputError(c, "x_t/mu/s", "shapes (n, d), (d,), () or (d,)", f"{x_t.shape}, {mu.shape}, {s.shape}")
    t = O.per_sample(c, "t", t, x_t.shape[0], 0.0, 1.0)[:, None]
    with np.errstate(over="ignore", invalid="ignore"):
        sigma = np.sqrt((1.0 - t) ** 2 * s**2 + t**2)
        out = mu + s * (x_t - (1.0 - t) * mu) / sigma
    if not np.isfinite(out).all():
        raise SpecInputError(c, "x_t/mu/s", "values for which f(x_t, t) is finite in float64", "overflow")
    return out


def _field(c, name, f):
    if not callable(f):
        raise SpecInputError(c, name, "a callable f(x, t)", type(f).__name__)
    return lambda x, t: np.asarray(f(x, t), dtype=np.float64)


def consistency_loss(f, f_ema, velocity, x, z, t_next, t_prev, distance="squared_l2", mode="distillation",
                     target_network="ema"):
    """L = mean_i d(f(x_{t_{n+1}}, t_{n+1}), f⁻(x̂_{t_n}, t_n))  (03: "a consistency loss between adjacent timesteps").

    x_{t_{n+1}} = (1 − t_{n+1}) x + t_{n+1} z;
    mode "distillation": x̂_{t_n} = x_{t_{n+1}} − (t_{n+1} − t_n) v(x_{t_{n+1}}, t_{n+1})
    (one Euler step of the teacher velocity); mode "training": x̂_{t_n} = (1 − t_n) x + t_n z (same x, z; no teacher).
    distance "squared_l2": ‖u − w‖² (summed over coordinates); "pseudo_huber": √(‖u − w‖² + c²) − c, c = 0.00054 √d.
    target_network "ema": f⁻ = f_ema (an EMA of f's parameters, no gradient); "stopgrad": f⁻ = f, no gradient.
    """
    c = LOSS
    V.choice(c, "distance", distance, ("squared_l2", "pseudo_huber"))
    V.choice(c, "mode", mode, ("distillation", "training"))
    V.choice(c, "target_network", target_network, ("ema", "stopgrad"))
    f = _field(c, "f", f)
    f_minus = f if target_network == "stopgrad" else _field(c, "f_ema", f_ema)
    x, z = V.array(c, "x", x, ndim=2), V.array(c, "z", z, ndim=2)
    V.same_shape(c, ("x", "z"), x, z)
    n = x.shape[0]
    t1 = O.per_sample(c, "t_next", t_next, n, 0.0, 1.0)
    t0 = O.per_sample(c, "t_prev", t_prev, n, 0.0, 1.0)
    if np.any(t0 >= t1):
        raise SpecInputError(c, "t_prev", "strictly below t_next (adjacent timesteps t_n < t_{n+1})", "t_prev ≥ t_next")
    x1 = (1.0 - t1)[:, None] * x + t1[:, None] * z
    if mode == "distillation":
        v = _field(c, "velocity", velocity)
        x0 = x1 - (t1 - t0)[:, None] * v(x1, t1)
    else:
        x0 = (1.0 - t0)[:, None] * x + t0[:, None] * z
    sq = np.sum((f(x1, t1) - f_minus(x0, t0)) ** 2, axis=1)
    if distance == "pseudo_huber":
        cc = 0.00054 * math.sqrt(x.shape[1])
        sq = np.sqrt(sq + cc**2) - cc
    return sq.mean()
