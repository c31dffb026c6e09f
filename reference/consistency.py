"""Consistency functions and the consistency loss, float64 NumPy reference (spec/consistency.py; 03).

The probability-flow ODE of rectified flow is dx/dt = f*(x, t) (the oracle velocity E[z − x | x_t]); its
consistency function maps any point of a trajectory to the trajectory's end at t = 0.
"""
from __future__ import annotations

import math

import numpy as np
from scipy.integrate import solve_ivp

from genspec.spec.bind import implements
from genspec.spec.errors import SpecInputError

from . import optimal as O

PROPERTY, GAUSSIAN, LOSS = "consistency.property", "consistency.gaussian", "consistency.loss"


def flow_map(x, t_from, t_to, weights, means, covs, clause=PROPERTY):
    """x(t_to) along dx/ds = f*(x, s) from x(t_from) = x, one row per start (t_from, t_to scalars or (n,)).

    Solved for the whole batch at once in σ ∈ [0, 1], s = t_from + (t_to − t_from) σ; scipy DOP853, rtol = atol = 1e-11.
    Checks its arguments itself (the conformance checks call it directly), errors naming ``clause``.
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


@implements(PROPERTY)
def consistency_function(x_t, t, weights, means, covs):
    """f(x_t, t) = x(0) where dx/ds = f*(x, s), x(t) = x_t: the exact consistency function of the oracle
    probability-flow ODE for Gaussian-mixture data (03: "fθ(xt, t) = x0 for all t along the same trajectory").

    x_t (n, d), t a number or (n,), mixture (K,), (K, d), (K, d, d). Solved by flow_map from t to 0 (scipy DOP853,
    rtol = atol = 1e-11). t = 0 returns x_t.
    """
    return flow_map(x_t, t, 0.0, weights, means, covs, clause=PROPERTY)


@implements(GAUSSIAN)
def gaussian_consistency_function(x_t, t, mu, s):
    """f(x_t, t) = μ + s (x_t − (1 − t) μ) / √((1 − t)² s² + t²) for data N(μ, diag(s²))  (03, catalog);
    per coordinate. At t = 0 it is x_t; at t = 1 it is μ + s x_1 (the noise's image).

    x_t (n, d), t a number or (n,), μ (d,), s > 0 a number or (d,)."""
    t, s = np.broadcast_to(t, (len(x_t),))[:, None], np.asarray(s, dtype=np.float64)   # s² overflows to inf
    with np.errstate(over="ignore", invalid="ignore"):
        out = mu + s * (x_t - (1.0 - t) * mu) / np.sqrt((1.0 - t) ** 2 * s**2 + t**2)
    if not np.isfinite(out).all():
        raise SpecInputError(GAUSSIAN, "x_t/mu/s", "values for which f(x_t, t) is finite in float64", "overflow")
    return out


@implements(LOSS)
def consistency_loss(f, f_ema, velocity, x, z, t_next, t_prev, distance="squared_l2", mode="distillation",
                     target_network="ema"):
    """L = mean_i d(f(x_{t_{n+1}}, t_{n+1}), f⁻(x̂_{t_n}, t_n))  (03: "a consistency loss between adjacent timesteps").

    x_{t_{n+1}} = (1 − t_{n+1}) x + t_{n+1} z;
    mode "distillation": x̂_{t_n} = x_{t_{n+1}} − (t_{n+1} − t_n) v(x_{t_{n+1}}, t_{n+1})
    (one Euler step of the teacher velocity); mode "training": x̂_{t_n} = (1 − t_n) x + t_n z (same x, z; no teacher).
    distance "squared_l2": ‖u − w‖² (summed over coordinates); "pseudo_huber": √(‖u − w‖² + c²) − c, c = 0.00054 √d.
    target_network "ema": f⁻ = f_ema (an EMA of f's parameters, no gradient); "stopgrad": f⁻ = f, no gradient.
    x, z (B, d); t_next, t_prev numbers or (B,), t_prev < t_next.
    """
    t1, t0 = (np.broadcast_to(v, (len(x),)).astype(np.float64) for v in (t_next, t_prev))
    if np.any(t0 >= t1):
        raise SpecInputError(LOSS, "t_prev", "strictly below t_next (adjacent timesteps t_n < t_{n+1})",
                             "t_prev ≥ t_next")
    f_minus = f if target_network == "stopgrad" else f_ema
    x1 = (1.0 - t1)[:, None] * x + t1[:, None] * z
    if mode == "distillation":
        x0 = x1 - (t1 - t0)[:, None] * np.asarray(velocity(x1, t1), dtype=np.float64)
    else:
        x0 = (1.0 - t0)[:, None] * x + t0[:, None] * z
    sq = np.sum((np.asarray(f(x1, t1), dtype=np.float64) - np.asarray(f_minus(x0, t0), dtype=np.float64)) ** 2, axis=1)
    if distance == "pseudo_huber":
        c = 0.00054 * math.sqrt(x.shape[1])
        sq = np.sqrt(sq + c**2) - c
    return sq.mean()
