"""Conformance checks of the sampler family (and family.equivalence): the Euler sampler's grid, evaluation count and
states step by step, exactness on straight paths, measured first order with the oracle velocity against an adaptive
solve, and the equivalence of parameterisations in the infinite-step limit.
"""
from __future__ import annotations

import math

import numpy as np
from hypothesis import strategies as st
from scipy.integrate import solve_ivp

from genspec.accelerated.metrics import energy_distance
from genspec.reference import optimal as O
from genspec.reference import sampler as R

from ..fixtures import BIMODAL, Recorder, oracle, random_mixture, sample_mixture
from ..harness.declare import ClauseChecks, Dual, Property

EULER, EQUIV = "sampler.euler", "family.equivalence"


# ---- callables ----------------------------------------------------------------------------------




def in_convention(numpy_fn, torch_fn, time, label):
    """A field written in the default time (t = 1 noise, 0 data) as the callable a sampler of ``time`` expects:
    noise_at_0 (02) takes f_fm(x, s) = −f(x, 1 − s); the other variants take f itself."""
    if time == "noise_at_0":
        return Dual(numpy=lambda x, s: -numpy_fn(x, 1.0 - s), torch=lambda x, s: -torch_fn(x, 1.0 - s), label=label)
    return Dual(numpy=numpy_fn, torch=torch_fn, label=label)


def _grid(T, time, grid="uniform"):
    """The times f is evaluated at, written here from the variants' statements (not spec.sampler.time_grid, which
    both implementations use): uniform t_k = 1 − k/T; linspace_1000 t_k = 1 − k (1 − 1/N)/(T − 1), N = 1000 (t_0 = 1
    at T = 1); s_k = 1 − t_k in 02's time."""
    k = np.arange(T)
    if grid == "uniform":
        return k / T if time == "noise_at_0" else (T - k) / T
    ts = 1.0 - k * (1.0 - 1e-3) / max(T - 1, 1)
    return 1.0 - ts if time == "noise_at_0" else ts


def point_mass_field(mu):
    """The oracle velocity of data = one point μ: f(x, t) = (x − μ)/t, constant along each straight trajectory."""
    import torch

    def torch_fn(x, t):
        return (x - torch.as_tensor(mu, dtype=x.dtype, device=x.device)) / t[:, None]

    def numpy_fn(x, t):
        with np.errstate(divide="ignore", invalid="ignore"):     # a wrong grid reaching t = 0 gives inf, and fails
            return (x - mu) / t[:, None]

    return numpy_fn, torch_fn


def linear_coupling_field(A, mu):
    """Data x = A z + μ coupled to its noise z: x_t = M_t z + (1 − t)μ with M_t = (1 − t)A + tI, velocity
    z − x = (I − A) z − μ, so f(x, t) = (I − A) M_t⁻¹ (x − (1 − t)μ) − μ; straight trajectories, x(0) = A x1 + μ."""
    import torch
    d = len(mu)
    I = np.eye(d)

    def numpy_fn(x, t):
        M = (1 - t)[:, None, None] * A + t[:, None, None] * I
        zz = np.linalg.solve(M, (x - (1 - t)[:, None] * mu)[..., None])[..., 0]
        return zz @ (I - A).T - mu

    def torch_fn(x, t):
        wd = x.dtype if x.dtype in (torch.float32, torch.float64) else torch.float32   # no half-precision solve
        xw, tw = x.to(wd), t.to(wd)
        At, mut, It = (torch.as_tensor(v, dtype=wd, device=x.device) for v in (A, mu, I))
        M = (1 - tw)[:, None, None] * At + tw[:, None, None] * It
        zz = torch.linalg.solve(M, (xw - (1 - tw)[:, None] * mut)[..., None])[..., 0]
        return (zz @ (It - At).T - mut).to(x.dtype)

    return numpy_fn, torch_fn


# ---- strategies ---------------------------------------------------------------------------------
@st.composite
def _euler_cases(draw):
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    d, K = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    w, m, c = random_mixture(rng, K, d, lam=(0.1, 2.0))
    n, T = draw(st.integers(1, 6)), draw(st.integers(1, 12))
    return {"f": oracle(w, m, c), "x1": rng.standard_normal((n, d)), "T": T}


@st.composite
def _straight_cases(draw):
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    d, n, T = draw(st.integers(1, 3)), draw(st.integers(1, 6)), draw(st.sampled_from([1, 2, 3, 7, 16, 50]))
    q, _ = np.linalg.qr(rng.standard_normal((d, d)))
    A = q @ np.diag(rng.uniform(0.2, 2.0, d)) @ q.T           # symmetric positive definite: M_t invertible on [0, 1]
    return {"mu": rng.uniform(-3, 3, d), "A": 0.5 * (A + A.T), "x1": rng.standard_normal((n, d)), "T": T}


# ---- properties ---------------------------------------------------------------------------------
def _step_by_step(ctx, fn, inp):
    """Exactly T evaluations, at the grid of the declared time convention, on states equal to the reference's."""
    conv = ctx.conventions(EULER)
    mine, ref = Recorder(inp["f"]), Recorder(inp["f"])
    fn(f=mine.dual, x1=inp["x1"], T=inp["T"])
    R.euler_sample(ref.dual.numpy, inp["x1"], inp["T"], **conv)
    T = inp["T"]
    ctx.require(EULER, len(mine.calls) == T, f"{len(mine.calls)} evaluations of f for T = {T}, expected T")
    grid = _grid(T, conv["time"], conv["grid"])
    for k, ((x, t), (xr, _)) in enumerate(zip(mine.calls, ref.calls, strict=True)):
        ctx.require(EULER, t.shape == (x.shape[0],), f"step {k}: t has shape {t.shape}, expected ({x.shape[0]},)")
        ctx.assert_close(EULER, t, np.full_like(t, grid[k]), what=f"t at evaluation {k} (grid {grid[k]:g})")
        ctx.assert_close(EULER, x, xr, what=f"state at evaluation {k}")


def _exact_straight(ctx, fn, inp):
    """One step or fifty: Euler lands exactly on straight trajectories (a point mass; a linear coupling)."""
    time = ctx.convention(EULER, "time")
    mu, A, x1, T = inp["mu"], inp["A"], inp["x1"], inp["T"]
    f = in_convention(*point_mass_field(mu), time, "point mass")
    ctx.assert_close(EULER, fn(f=f, x1=x1, T=T), np.broadcast_to(mu, x1.shape), what=f"point mass, T = {T}")
    f = in_convention(*linear_coupling_field(A, mu), time, "linear coupling")
    ctx.assert_close(EULER, fn(f=f, x1=x1, T=T), x1 @ A.T + mu, what=f"linear coupling x = A z + μ, T = {T}")


_CONV_N = 64


def exact_flow(x1, mixture=BIMODAL):
    """x(0) of the oracle probability-flow ODE from x(1) = x1, by scipy's DOP853 at rtol = atol = 1e-11."""
    w, m, c = mixture
    n, d = x1.shape
    rhs = lambda t, y: O.optimal_prediction(y.reshape(n, d), t, w, m, c).ravel()
    sol = solve_ivp(rhs, (1.0, 0.0), x1.ravel(), method="DOP853", rtol=1e-11, atol=1e-11)
    return sol.y[:, -1].reshape(n, d)


def convergence(fn, time, Ts=(8, 16, 32, 64), seed=0):
    """RMS error of Euler with the oracle velocity against exact_flow for each T, and the fitted order."""
    x1 = np.random.default_rng(seed).standard_normal((_CONV_N, 2))
    exact = exact_flow(x1)
    f0 = oracle(*BIMODAL)
    f = in_convention(f0.numpy, f0.torch, time, "oracle")
    errs = np.array([math.sqrt(np.mean(np.sum((fn(f=f, x1=x1, T=T) - exact) ** 2, axis=1))) for T in Ts])
    order = -np.polyfit(np.log(Ts), np.log(errs), 1)[0]
    return errs, order


def _first_order(ctx, fn, inp):
    time = ctx.convention(EULER, "time")
    Ts = (4, 8, 16) if ctx.dtype == "bfloat16" else (8, 16, 32, 64)     # bfloat16 rounding floors the error at ~1e-2
    errs, order = convergence(fn, time, Ts)
    ctx.require(EULER, 0.8 <= order <= 1.2, f"fitted order {order:.3f} (errors {errs} at T = {Ts}), expected ≈ 1")
    ratios = errs[:-1] / errs[1:]
    ctx.require(EULER, bool(np.all((ratios > 1.6) & (ratios < 2.5))),
                f"error ratios per doubling of T: {ratios}, expected ≈ 2 (first order)")


# ---- family.equivalence ---------------------------------------------------------------------------
PARAMETERISATIONS = (("rf", None, "velocity"), ("rf", None, "x"), ("rf", None, "v"),
                     ("vp", "linear", "epsilon"), ("vp", "linear", "velocity"), ("vp", "linear", "score"),
                     ("vp", "cosine", "v"), ("ve", None, "epsilon"), ("ve", None, "x"))


def equivalence_samples(T, n=256, seed=1, combos=PARAMETERISATIONS, mixture=BIMODAL):
    z = np.random.default_rng(seed).standard_normal((n, 2))
    return {cmb: R.oracle_sample(z, T, *mixture, target=cmb[2], path=cmb[0], schedule=cmb[1]) for cmb in combos}


def _rms(u, v):
    return math.sqrt(np.mean(np.sum((u - v) ** 2, axis=1)))


def _same_path_identical(ctx, fn, inp):
    """On one path the conversion of exact predictors is exact: identical iterates at every T (here T = 6)."""
    out = equivalence_samples(6, n=64)
    for path, sched in (("rf", None), ("vp", "linear"), ("ve", None)):
        group = [v for (p, s, _), v in out.items() if (p, s) == (path, sched)]
        for v in group[1:]:
            ctx.require(EQUIV, np.allclose(v, group[0], rtol=1e-9, atol=1e-9),
                        f"{path}: parameterisations differ by {np.abs(v - group[0]).max():.2e} at T = 6")


def _across_paths_converge(ctx, fn, inp):
    """Samples from the same noise on different paths converge to one another as T grows (first order)."""
    combos = (("rf", None, "velocity"), ("vp", "linear", "epsilon"), ("vp", "cosine", "v"), ("ve", None, "x"))
    spread = []
    for T in (8, 32, 128):
        out = list(equivalence_samples(T, n=128, combos=combos).values())
        spread.append(max(_rms(u, v) for i, u in enumerate(out) for v in out[i + 1:]))
    ctx.require(EQUIV, spread[0] / spread[1] > 2.5 and spread[1] / spread[2] > 2.5,
                f"largest RMS distance between paths' samples at T = 8, 32, 128: {spread}; expected to shrink ~4× per "
                f"4× T")


def _reaches_data(ctx, fn, inp):
    """Energy distance to the data: at T = 128 every path is within the data-vs-data baseline's spread."""
    rng = np.random.default_rng(7)
    data = sample_mixture(rng, 1000, *BIMODAL)
    base = [energy_distance(sample_mixture(rng, 256, *BIMODAL), data) for _ in range(8)]
    hi = np.mean(base) + 4 * np.std(base)
    combos = (("rf", None, "velocity"), ("vp", "linear", "epsilon"), ("ve", None, "x"))
    for cmb, x in equivalence_samples(128, combos=combos).items():
        e = energy_distance(x, data)
        ctx.require(EQUIV, e <= hi, f"{cmb}: energy distance {e:.4f} at T = 128 above the data baseline "
                                    f"{np.mean(base):.4f} + 4·{np.std(base):.4f}")


def _eps_rf_singular(ctx, fn, inp):
    """epsilon on rf has det = a(1) = 0 at the first grid point: the sampler raises, it does not guess."""
    from genspec.spec.errors import SpecInputError
    try:
        R.oracle_sample(np.zeros((2, 2)), 4, *BIMODAL, target="epsilon", path="rf")
    except SpecInputError:
        return
    raise AssertionError(f"{EQUIV}: epsilon on rf at t = 1 (det = 0) did not raise SpecInputError")




CHECKS = [
    ClauseChecks(
        clause=EULER,
        cases=_euler_cases(),
        properties=(Property("T evaluations on the grid, states step by step", _step_by_step),
                    Property("exact on straight paths at any T", _exact_straight, cases=_straight_cases()),
                    Property("first order with the oracle velocity (error halves as T doubles)", _first_order,
                             cases=st.just({}))),
        max_examples=15,
        example=lambda: {"f": oracle(*BIMODAL), "x1": np.array([[0.5, -1.0], [1.5, 0.3]]), "T": 4},
    ),
    ClauseChecks(
        clause=EQUIV,
        properties=(Property("same path: every target gives identical iterates at every T", _same_path_identical),
                    Property("across paths: samples from the same noise converge as T grows", _across_paths_converge),
                    Property("every path reaches the data (energy distance) at large T", _reaches_data),
                    Property("epsilon on rf is singular at t = 1", _eps_rf_singular)),
    ),
]
