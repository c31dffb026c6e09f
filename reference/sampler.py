"""Euler sampling of the probability-flow ODE, float64 NumPy reference (spec/sampler.py; 00, 01, 03).

    x_{k+1} = x_k − (1/T) f(x_k, t_k),   t_k = 1 − k/T,  k = 0, …, T − 1,   x_0 = x1 (noise at t = 1)

f(x, t) is a callable velocity: x of shape (n, …), t of shape (n,) (every entry t_k); it returns x's shape.
Exactly T evaluations of f, each on the whole batch.
"""
from __future__ import annotations

import numpy as np

from spec import validate as V
from spec.errors import SpecInputError

from . import family as F
from . import optimal as O

EULER = "sampler.euler"


MAX_STEPS = 10**7


def steps(clause, T):
    """T: an integer in [1, 10^7] (the cap keeps every call finite); bool, NaN and inf raise SpecInputError."""
    v = V.scalar(clause, "T", T, 1, MAX_STEPS)
    if int(v) != v:
        raise SpecInputError(clause, "T", "an integer", repr(T)[:60])
    return int(v)
EQUIV = "family.equivalence"
TIMES = ("data_at_0", "reversed_time", "noise_at_0")


def _callable(clause, name, f):
    if not callable(f):
        raise SpecInputError(clause, name, "a callable f(x, t)", type(f).__name__)
    return f


def _call(clause, f, x, t):
    out = np.asarray(f(x, t), dtype=np.float64)
    if out.shape != x.shape:
        raise SpecInputError(clause, "f", f"a callable returning x's shape {x.shape}", f"shape {out.shape}")
    return out


def euler_sample(f, x1, T, time="data_at_0"):
    """x ← x − (1/T) f(x, t) for t = 1, 1 − 1/T, …, 1/T (00: "x ← x − (1/T) f_θ(x_t, t)"); returns x at t = 0.

    time="data_at_0" (default, 00/01): f is the velocity dx_t/dt in 00's time (t = 1 noise, t = 0 data).
    time="reversed_time" (03's "dx/dt = −f_θ(x, t)"): the same iterates written in τ = 1 − t running 0 → 1,
        x_{k+1} = x_k + (1/T)(−f(x_k, 1 − τ_k)), τ_k = k/T.
    time="noise_at_0" (02's flow matching): f is the velocity in 02's time s = 1 − t
    (s = 0 noise, s = 1 data, v_fm = −v),
        x_{k+1} = x_k + (1/T) f(x_k, s_k), s_k = k/T.
    """
    c = EULER
    f = _callable(c, "f", f)
    x = V.array(c, "x1", x1, min_ndim=2).copy()
    T = steps(c, T)
    V.choice(c, "time", time, TIMES)
    n = x.shape[0]
    for k in range(T):
        if time == "noise_at_0":
            s = np.full(n, k / T)
            x = x + (1.0 / T) * _call(c, f, x, s)
        elif time == "reversed_time":
            tau = k / T
            x = x + (1.0 / T) * (-_call(c, f, x, np.full(n, 1.0 - tau)))
        else:
            t = np.full(n, (T - k) / T)
            x = x - (1.0 / T) * _call(c, f, x, t)
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
