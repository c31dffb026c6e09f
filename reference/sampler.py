"""Euler sampling of the probability-flow ODE, float64 NumPy reference (spec/sampler.py; 00, 01, 03).

    x_{k+1} = x_k − (1/T) f(x_k, t_k),   t_k = 1 − k/T,  k = 0, …, T − 1,   x_0 = x1 (noise at t = 1)

f(x, t) is a callable velocity: x of shape (n, …), t of shape (n,) (every entry t_k); it returns x's shape.
Exactly T evaluations of f, each on the whole batch.
"""
from __future__ import annotations

import numpy as np

from genspec.spec.bind import implements
from genspec.spec.errors import SpecInputError
from genspec.spec.sampler import time_grid

from . import family as F
from . import optimal as O


def _call(f, x, t):
    out = np.asarray(f(x, t), dtype=np.float64)
    if out.shape != x.shape:
        raise SpecInputError("sampler.euler", "f", f"a callable returning x's shape {x.shape}", f"shape {out.shape}")
    return out


@implements("sampler.euler")
def euler_sample(f, x1, T, time="data_at_0", grid="uniform"):
    """x ← x − Δ_k f(x, t_k) from t_0 = 1 to t = 0 (00: "x ← x − (1/T) f_θ(x_t, t)"; Δ_k = 1/T on the uniform grid).

    time="data_at_0" (default, 00/01): f is the velocity dx_t/dt in 00's time (t = 1 noise, t = 0 data).
    time="reversed_time" (03's "dx/dt = −f_θ(x, t)"): the same iterates written in τ = 1 − t running 0 → 1,
        x_{k+1} = x_k + Δ_k (−f(x_k, 1 − τ_k)), τ_k = 1 − t_k.
    time="noise_at_0" (02's flow matching): f is the velocity in 02's time s = 1 − t (s = 0 noise, s = 1 data,
        v_fm = −v): x_{k+1} = x_k + Δ_k f(x_k, s_k), s_k = 1 − t_k (= k/T on the uniform grid).
    """
    ts, dts = time_grid(T, grid)
    x, n = x1.copy(), x1.shape[0]
    for k, (t, dt) in enumerate(zip(ts, dts, strict=True)):
        if time == "noise_at_0":
            x = x + dt * _call(f, x, np.full(n, k / T if grid == "uniform" else 1.0 - t))
        elif time == "reversed_time":
            tau = k / T if grid == "uniform" else 1.0 - t
            x = x + dt * (-_call(f, x, np.full(n, 1.0 - tau)))
        else:
            x = x - dt * _call(f, x, np.full(n, t))
    return x


# ---- family.equivalence: samplers in every parameterisation ----------------------------------------
def parameterised_velocity(predict, target, path="rf", schedule=None):
    """The velocity dx_t/dt = a'(t) x̂ + b'(t) ẑ obtained from a predictor of ``target`` through family.convert
    (03's table): the sampler of the ``target`` parameterisation."""
    if target == "velocity":
        return predict
    return lambda x, t: F.convert(x, predict(x, t), t, target, "velocity", path=path, schedule=schedule)


def initial_noise(z, path="rf", schedule=None):
    """x at t = 1 from the noise alone: b(1) z (exact on rf, where a(1) = 0; the terminal approximation elsewhere)."""
    b1 = F.coefficients(np.ones(1), path=path, target="x", schedule=schedule)[1][0]
    return b1 * z


def oracle_sample(z, T, weights, means, covs, target="velocity", path="rf", schedule=None):
    """Euler with the oracle predictor of ``target`` on ``path``, converted to a velocity: the sample at t = 0."""
    predict = lambda x, t: O.optimal_prediction(x, t, weights, means, covs, target=target, path=path, schedule=schedule)
    return euler_sample(parameterised_velocity(predict, target, path, schedule), initial_noise(z, path, schedule), T)
