"""Conformance checks of rectified flow (rf.*) and 02's flow-matching convention (fm.convention)."""
from __future__ import annotations

import numpy as np
import sympy as sp
from hypothesis import strategies as st

from genspec.reference import rf as R
from genspec.spec.schema import Tolerance

from ..harness.arrays import T_EDGES, gaussian, with_edges
from ..harness.declare import ClauseChecks, Proof, Property

# ---- symbols and the derivation -----------------------------------------------------------------
x, z, t, tau, dt_ = sp.symbols("x z t tau Delta_t", real=True)
x_t = (1 - t) * x + t * z                       # 00: x_t = (1 - t) x + t z
v = sp.diff(x_t, t)                             # dx_t/dt
x0, x1 = sp.symbols("x_0 x_1", real=True)       # 02: x0 noise, x1 data
x_t_fm = (1 - t) * x0 + t * x1
v_fm = sp.diff(x_t_fm, t)

_interp = sp.lambdify((x, z, t), x_t, "numpy")
_vel = sp.lambdify((x, z), v, "numpy")


# ---- strategies ---------------------------------------------------------------------------------
@st.composite
def _xz(draw, names=("x", "z"), with_t=True):
    n = draw(st.integers(1, 5))
    shape = draw(st.sampled_from([(n,), (n, 3), (n, 2, 2)]))
    out = {names[0]: draw(gaussian(shape)), names[1]: draw(gaussian(shape))}
    if with_t:
        tt = draw(gaussian((n,))).__abs__() % 1.0
        ends = draw(st.lists(st.sampled_from([0.0, 1.0]), min_size=0, max_size=n))
        tt[: len(ends)] = ends                       # the endpoints are in the cases
        out["t"] = tt
    return out


def _ft():
    return _xz(with_t=False).flatmap(lambda d: gaussian(d["x"].shape).map(lambda f: {"f": f, **d}))


def _time(ctx, clause):
    return ctx.convention(clause, "time")


# ---- properties ---------------------------------------------------------------------------------
def _endpoints(ctx, fn, inp):
    """t = 0 gives the data and t = 1 the noise (data_at_0); reversed for noise_at_0."""
    n = inp["x"].shape[0]
    first, last = (inp["x"], inp["z"]) if _time(ctx, "rf.interpolation") == "data_at_0" else (inp["z"], inp["x"])
    ctx.assert_close("rf.interpolation", fn(x=inp["x"], z=inp["z"], t=np.zeros(n)), first, what="x_t at t = 0")
    ctx.assert_close("rf.interpolation", fn(x=inp["x"], z=inp["z"], t=np.ones(n)), last, what="x_t at t = 1")


def _straight(ctx, fn, inp):
    """x_t lies on the segment: x_t − x_0 = t (x_1 − x_0) for every t (checked at t and 1/2)."""
    n = inp["x"].shape[0]
    a, b = fn(x=inp["x"], z=inp["z"], t=np.zeros(n)), fn(x=inp["x"], z=inp["z"], t=np.ones(n))
    mid = fn(x=inp["x"], z=inp["z"], t=np.full(n, 0.5))
    ctx.assert_close("rf.interpolation", mid, 0.5 * (a + b), what="x_{1/2} vs midpoint of the endpoints")


def _velocity_is_derivative(ctx, fn, inp):
    """v = dx_t/dt: the difference quotient of the reference path between any two times (exact: the path is linear)."""
    conv = _time(ctx, "rf.velocity")
    n = inp["x"].shape[0]
    t1, t2 = np.full(n, 0.25), np.full(n, 0.75)
    dq = (R.interpolate(inp["x"], inp["z"], t2, time=conv) - R.interpolate(inp["x"], inp["z"], t1, time=conv)) / 0.5
    ctx.assert_close("rf.velocity", fn(x=inp["x"], z=inp["z"]), dq, what="v vs (x_{3/4} − x_{1/4})/(1/2)")


def _points_to_noise(ctx, fn, inp):
    """data_at_0: x + v = z (the velocity points from data to noise, 00)."""
    got = fn(x=inp["x"], z=inp["z"])
    end = inp["z"] if _time(ctx, "rf.velocity") == "data_at_0" else inp["x"]
    start = inp["x"] if _time(ctx, "rf.velocity") == "data_at_0" else inp["z"]
    tol = ctx.tolerance("rf.velocity")
    scale = float(np.max(np.abs(start - end), initial=0.0))
    ctx.assert_close("rf.velocity", start + got, end, what="x_(t=0) + v = x_(t=1)",
                     tol=Tolerance(rtol=tol.rtol, atol=tol.atol + tol.rtol * scale))


def _loss_zero_and_unit(ctx, fn, inp):
    """L(f = z − x) = 0; a residual of one unit element per sample gives 1 (batch_mean_sq_norm) or 1/D.

    In float32/bfloat16 the target sees f rounded, so the expected value is that of the rounded residual.
    """
    x_, z_ = inp["x"], inp["z"]
    e = np.zeros_like(x_).reshape(x_.shape[0], -1)
    e[:, 0] = 1.0
    red = ctx.convention("rf.loss", "reduction")
    per = 1.0 if red == "batch_mean_sq_norm" else 1.0 / e.shape[1]
    for what, f in (("L at f = v", z_ - x_), ("L of a unit residual", z_ - x_ + e.reshape(x_.shape))):
        f = ctx.round({"f": f})["f"]
        r = ((f - (z_ - x_)) ** 2).reshape(x_.shape[0], -1).sum(axis=1).mean()
        ctx.assert_close("rf.loss", fn(f=f, x=x_, z=z_), r * per, what=what)


def _loss_batch_mean(ctx, fn, inp):
    """The loss of a batch is the mean of the per-sample losses."""
    per = [fn(f=inp["f"][i:i + 1], x=inp["x"][i:i + 1], z=inp["z"][i:i + 1]) for i in range(inp["x"].shape[0])]
    ctx.assert_close("rf.loss", fn(**inp), np.mean(per), what="L(batch) vs mean of L(sample)")


def _fm_maps_to_rf(ctx, fn, inp):
    """02's (x_t, x1 − x0) at t equals (rf x_t at 1 − t, −v_rf) with x = x1 (data), z = x0 (noise)."""
    xt, target = fn(**inp)
    ctx.assert_close("fm.convention", xt, R.interpolate(inp["x1"], inp["x0"], 1.0 - inp["t"]),
                     what="x_t^fm vs x_{1−t}^rf")
    ctx.assert_close("fm.convention", target, -R.velocity(inp["x1"], inp["x0"]), what="v^fm vs −v^rf")


def _fm_endpoints(ctx, fn, inp):
    """02: t = 0 is the noise x0 and t = 1 the data x1."""
    n = inp["x0"].shape[0]
    ctx.assert_close("fm.convention", fn(x0=inp["x0"], x1=inp["x1"], t=np.zeros(n))[0], inp["x0"], what="x_t at t = 0")
    ctx.assert_close("fm.convention", fn(x0=inp["x0"], x1=inp["x1"], t=np.ones(n))[0], inp["x1"], what="x_t at t = 1")


# ---- the checks ---------------------------------------------------------------------------------
CHECKS = [
    ClauseChecks(
        clause="rf.interpolation",
        cases=with_edges(_xz(), t=T_EDGES),
        proofs=(Proof("x_t(0) = x (data)", lambda: x_t.subs(t, 0) - x),
                Proof("x_t(1) = z (noise)", lambda: x_t.subs(t, 1) - z)),
        symbolic=lambda x, z, t: _interp(x, z, t.reshape(t.shape + (1,) * (x.ndim - 1))),
        properties=(Property("endpoints: t = 0 data, t = 1 noise", _endpoints),
                    Property("straight path: x_{1/2} is the midpoint", _straight)),
        example=lambda: {"x": np.array([[1.0, 2.0]]), "z": np.array([[0.0, -1.0]]), "t": np.array([0.25])},
    ),
    ClauseChecks(
        clause="rf.velocity",
        cases=_xz(with_t=False),
        proofs=(Proof("dx_t/dt = z − x", lambda: v - (z - x)),
                Proof("v does not depend on t (straight path: d²x_t/dt² = 0)", lambda: sp.diff(x_t, t, 2))),
        symbolic=lambda x, z: _vel(x, z) + 0 * x,
        properties=(Property("v = dx_t/dt (difference quotient of the path)", _velocity_is_derivative),
                    Property("x + v = z: points from data to noise", _points_to_noise)),
        example=lambda: {"x": np.array([[1.0, 2.0]]), "z": np.array([[0.0, -1.0]])},
    ),
    ClauseChecks(
        clause="rf.loss",
        cases=_ft(),
        proofs=(Proof("mse_all_elements = batch_mean_sq_norm / D (D = 3 elements, n = 2 samples)",
                      lambda: (lambda e: sp.Add(*e) / 6 - (sp.Add(*e[:3]) + sp.Add(*e[3:])) / 2 / 3)(
                          [sp.Symbol(f"e{i}") ** 2 for i in range(6)])),),
        properties=(Property("L(f = v) = 0 and a unit residual gives 1 (or 1/D)", _loss_zero_and_unit),
                    Property("batch loss = mean of per-sample losses", _loss_batch_mean)),
        example=lambda: {"f": np.array([[0.0, 0.0]]), "x": np.array([[1.0, 0.0]]), "z": np.array([[0.0, 1.0]])},
    ),
    ClauseChecks(
        clause="fm.convention",
        cases=with_edges(_xz(names=("x0", "x1")), t=T_EDGES),
        proofs=(Proof("x_t^fm(t) = x_{1−t}^rf with x0 = z, x1 = x", lambda: sp.expand(
                    x_t_fm.subs({x0: z, x1: x}) - x_t.subs(t, 1 - t))),
                Proof("v^fm = dx_t^fm/dt = x1 − x0 = −v^rf", lambda: sp.expand(v_fm.subs({x0: z, x1: x}) + v)),
                Proof("d/dt_fm = −d/dt_rf under t_fm = 1 − t_rf (chain rule)", lambda: sp.diff(
                    x_t.subs(t, 1 - tau), tau) + sp.diff(x_t, t).subs(t, 1 - tau)),
                Proof("an Euler step forward in t_fm is 00's step x ← x − Δ v_rf", lambda: sp.expand(
                    (x + dt_ * v_fm.subs({x0: z, x1: x})) - (x - dt_ * v)))),
        properties=(Property("maps to rf: x_t^fm = x_{1−t}^rf, v^fm = −v^rf", _fm_maps_to_rf),
                    Property("02's endpoints: t = 0 noise, t = 1 data", _fm_endpoints)),
        example=lambda: {"x0": np.array([[0.0, -1.0]]), "x1": np.array([[1.0, 2.0]]), "t": np.array([0.25])},
    ),
]
