"""Conformance checks of the consistency family: the closed form for Gaussian data derived and proved invariant along
the probability-flow ODE (sympy), the numerical consistency function for mixtures checked along trajectories solved
with scipy, and the consistency loss (its zero, its O(Δt⁴) decay with the exact function and the oracle teacher)."""
from __future__ import annotations

import numpy as np
import sympy as sp
from hypothesis import strategies as st

from genspec.reference import consistency as R
from genspec.spec.schema import Tolerance

from ..fixtures import oracle, random_mixture
from ..harness.arrays import T_EDGES, draw_edges, edge_values
from ..harness.declare import ClauseChecks, Dual, Proof, Property
from .optimal import X_HAT, Z_HAT, a, b, mu, s, xt

PROP, GAUSS, LOSS = "consistency.property", "consistency.gaussian", "consistency.loss"

# ---- sympy: the Gaussian consistency function ----------------------------------------------------
t = sp.Symbol("t", real=True)
_rf = {a: 1 - t, b: t}
VELOCITY = sp.simplify((Z_HAT - X_HAT).subs(_rf))                 # oracle velocity E[z − x | x_t] for N(μ, s²)
SIGMA_T = sp.sqrt((1 - t) ** 2 * s**2 + t**2)
F_GAUSS = mu + s * (xt - (1 - t) * mu) / SIGMA_T                    # the catalog's formula
_f_gauss = sp.lambdify((xt, t, mu, s), F_GAUSS)


def _symbolic_gaussian(x_t, t, mu, s):
    tt = np.broadcast_to(t, (x_t.shape[0],))[:, None]
    return _f_gauss(x_t, tt, mu, s)


def _floor(ctx, clause, atol):
    """The clause's tolerance, but no tighter than atol (comparisons with an ODE solve at rtol 1e-11)."""
    tol = ctx.tolerance(clause)
    return Tolerance(rtol=max(tol.rtol, atol), atol=max(tol.atol, atol))


def smooth_field(alpha, beta, label="smooth field"):
    """g(x, t) = x (1 − α t) + β t sin x, a smooth stand-in for a network, in both backends."""
    import torch
    return Dual(numpy=lambda x, t: x * (1 - alpha * t[:, None]) + beta * t[:, None] * np.sin(x),
                torch=lambda x, t: x * (1 - alpha * t[:, None]) + beta * t[:, None] * torch.sin(x), label=label)


def gaussian_field(mu_, s_):
    """The exact consistency function of N(μ, diag(s²)) as a Dual."""
    import torch

    from genspec.accelerated import consistency as A
    return Dual(numpy=lambda x, t: R.gaussian_consistency_function(x, t, mu_, s_),
                torch=lambda x, t: A.gaussian_consistency_function(x, t, *(torch.as_tensor(v, device=x.device)
                                                                          for v in (mu_, s_))),
                label="exact consistency function")


# ---- strategies ---------------------------------------------------------------------------------
def _times(rng, n):
    tt = rng.uniform(0.0, 1.0, n)
    tt[rng.random(n) < 0.2], tt[rng.random(n) < 0.2] = 0.0, 1.0
    return tt


@st.composite
def _property_cases(draw):
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    w, m, c = random_mixture(rng, draw(st.integers(1, 2)), draw(st.integers(1, 2)), lam=(0.1, 2.0))
    n = draw(st.integers(1, 4))
    t = draw_edges(draw, _times(rng, n), T_EDGES)                  # t within 1e-9..1e-3 of 0 and 1
    return {"x_t": rng.standard_normal((n, m.shape[1])) * 1.5, "t": t, "weights": w, "means": m, "covs": c}


@st.composite
def _gaussian_cases(draw):
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    d, n = draw(st.integers(1, 3)), draw(st.integers(1, 6))
    m_ = rng.uniform(-3, 3, d)
    s_ = float(rng.uniform(0.1, 3.0)) if draw(st.booleans()) else rng.uniform(0.1, 3.0, d)
    tt = draw_edges(draw, _times(rng, n), T_EDGES)                # t within 1e-9..1e-3 of 0 and 1
    if draw(st.booleans()):
        tt = float(tt[0])
    tn = np.broadcast_to(tt, (n,))[:, None]
    x_t = (1 - tn) * m_ + np.sqrt((1 - tn) ** 2 * np.asarray(s_) ** 2 + tn**2) * rng.standard_normal((n, d))
    return {"x_t": x_t, "t": tt, "mu": m_, "s": s_}


LOSS_T_EDGES = tuple(v for v in T_EDGES if v >= 1e-40)
"""t_{n+1} within 1e-9..1e-3 of 0 (down to a float32 subnormal) and of 1, with t_n = 0 below ½ and t_n = 1 − 2⁻⁸
above: t_n < t_{n+1} stays strict after rounding to float32 and bfloat16 (5e-324 and 1e-300 round to 0 there)."""


@st.composite
def _loss_cases(draw):
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    d, B = draw(st.integers(1, 2)), draw(st.integers(1, 6))
    w, m, c = random_mixture(rng, 2, d, lam=(0.1, 2.0))
    t_next = rng.uniform(0.05, 1.0, B)
    t_prev = np.maximum(t_next - rng.uniform(0.01, 0.05, B), 0.0)
    if draw(st.integers(0, 2)) == 0:                                # one draw in three: t at the edges of [0, 1]
        t_next = edge_values(LOSS_T_EDGES, B, draw(st.integers(0, 63)))
        t_prev = np.where(t_next > 0.5, 1.0 - 2.0**-8, 0.0)
    return {"f": smooth_field(*rng.uniform(0.2, 0.8, 2), label="f"),
            "f_ema": smooth_field(*rng.uniform(0.2, 0.8, 2), label="f_ema"),
            "velocity": oracle(w, m, c), "x": rng.standard_normal((B, d)) + m[0], "z": rng.standard_normal((B, d)),
            "t_next": t_next, "t_prev": t_prev}


# ---- properties ---------------------------------------------------------------------------------
def _boundary(clause):
    def check(ctx, fn, inp):
        x = inp["x_t"]
        ctx.assert_close(clause, fn(**{**inp, "t": np.zeros(x.shape[0])}), x, what="f(x, 0) vs x")
    return check


def _along_trajectory(ctx, fn, inp):
    """f(x_t, t) = f(x_{t'}, t') with x_{t'} on the same trajectory (scipy DOP853 from t to t' = 0.4 t)."""
    w, m, c = inp["weights"], inp["means"], inp["covs"]
    tn = np.broadcast_to(inp["t"], (inp["x_t"].shape[0],))
    x_mid = R.flow_map(inp["x_t"], tn, 0.4 * tn, w, m, c)
    ctx.assert_close(PROP, fn(x_t=x_mid, t=0.4 * tn, weights=w, means=m, covs=c), fn(**inp),
                     what="f(x_t', t') vs f(x_t, t) on one trajectory", tol=_floor(ctx, PROP, 1e-8))


def _mixture_of_one(ctx, fn, inp):
    """For one Gaussian component N(μ, diag s²) the numerical function equals the closed form."""
    rng = np.random.default_rng(int(abs(inp["x_t"]).sum() * 1e6) % 2**32)
    d = inp["x_t"].shape[1]
    m_, s_ = rng.uniform(-2, 2, d), rng.uniform(0.4, 1.5, d)
    got = fn(x_t=inp["x_t"], t=inp["t"], weights=np.ones(1), means=m_[None], covs=np.diag(s_**2)[None])
    ctx.assert_close(PROP, got, R.gaussian_consistency_function(inp["x_t"], inp["t"], m_, s_),
                     what="one Gaussian: numerical vs closed form")


def _gauss_vs_ode(ctx, fn, inp):
    """The closed form equals the end of the oracle ODE's trajectory (scipy, rtol 1e-11), and is constant along it."""
    m_, s_ = inp["mu"], np.broadcast_to(inp["s"], inp["mu"].shape)
    cov = np.diag(np.asarray(s_, dtype=float) ** 2)[None]
    tn = np.broadcast_to(inp["t"], (inp["x_t"].shape[0],))
    tol = _floor(ctx, GAUSS, 1e-8)
    ctx.assert_close(GAUSS, fn(**inp), R.flow_map(inp["x_t"], tn, 0.0, np.ones(1), m_[None], cov, clause=GAUSS),
                     what="closed form vs ODE solution at t = 0", tol=tol)
    x_mid = R.flow_map(inp["x_t"], tn, 0.5 * tn, np.ones(1), m_[None], cov, clause=GAUSS)
    ctx.assert_close(GAUSS, fn(x_t=x_mid, t=0.5 * tn, mu=inp["mu"], s=inp["s"]), fn(**inp),
                     what="f(x_t', t') vs f(x_t, t) on one trajectory", tol=tol)


def _loss_zero(ctx, fn, inp):
    """d ≥ 0, and L = 0 when f and f⁻ are one constant map."""
    import torch
    const = Dual(numpy=lambda x, t: np.ones_like(x), torch=lambda x, t: torch.ones_like(x), label="constant")
    L = fn(**{**inp, "f": const, "f_ema": const})
    ctx.assert_close(LOSS, L, 0.0, what="L with f = f⁻ = 1")
    ctx.require(LOSS, float(fn(**inp)) >= 0.0, "the loss is negative")


def _loss_order(ctx, fn, inp):
    """With f = f⁻ = the exact consistency function of N(μ, s²) and the oracle teacher, L is the squared Euler local
    error: O(Δt⁴), so halving Δt divides it by ≈ 16 (only for the default distillation / squared_l2 conventions)."""
    conv = ctx.conventions(LOSS)
    if conv["mode"] != "distillation" or conv["distance"] != "squared_l2" or ctx.dtype == "bfloat16":
        return                     # bfloat16: the inputs' rounding (2^-8) swamps an O(Δt²) = 1e-4 difference
    rng = np.random.default_rng(3)
    m_, s_ = np.array([1.0, -0.5]), np.array([0.5, 1.5])
    f = gaussian_field(m_, s_)
    v = oracle(np.ones(1), m_[None], np.diag(s_**2)[None])
    x, z = m_ + s_ * rng.standard_normal((64, 2)), rng.standard_normal((64, 2))
    t1 = rng.uniform(0.2, 0.9, 64)
    Ls = [float(fn(f=f, f_ema=f, velocity=v, x=x, z=z, t_next=t1, t_prev=t1 - dt)) for dt in (0.04, 0.02, 0.01)]
    ratios = [Ls[0] / Ls[1], Ls[1] / Ls[2]]
    lo = 8.0 if ctx.dtype == "float64" else 4.0        # rounding of tiny losses blunts the ratio in low precision
    ctx.require(LOSS, all(lo < r < 24.0 for r in ratios),
                f"L at Δt = 0.04, 0.02, 0.01: {Ls}; ratios {ratios}, expected ≈ 16 (squared Euler local error)")


def _loss_ema_used(ctx, fn, inp):
    """ema: the target network is f_ema (changing it changes L); stopgrad: f_ema is ignored."""
    conv = ctx.conventions(LOSS)
    other = smooth_field(0.1, 1.5, label="another f_ema")
    L1, L2 = float(fn(**inp)), float(fn(**{**inp, "f_ema": other}))
    L_self = float(fn(**{**inp, "f_ema": inp["f"]}))
    if conv["target_network"] == "stopgrad":
        ctx.assert_close(LOSS, np.array([L1, L2]), np.array([L_self, L_self]), what="stopgrad ignores f_ema")
    else:
        ref = R.consistency_loss(inp["f"].numpy, other.numpy, inp["velocity"].numpy, inp["x"], inp["z"],
                                 inp["t_next"], inp["t_prev"], **conv)
        ctx.assert_close(LOSS, L2, ref, what="L with another f_ema")


CHECKS = [
    ClauseChecks(
        clause=PROP,
        cases=_property_cases(),
        properties=(Property("f(x, 0) = x", _boundary(PROP)),
                    Property("constant along a probability-flow trajectory", _along_trajectory),
                    Property("one Gaussian: equals consistency.gaussian's closed form", _mixture_of_one)),
        max_examples=5,
        example=lambda: {"x_t": np.array([[0.5, -1.0], [1.0, 1.0]]), "t": np.array([1.0, 0.5]),
                         "weights": np.array([0.5, 0.5]), "means": np.array([[-2.0, 0.0], [2.0, 0.0]]),
                         "covs": np.stack([0.1 * np.eye(2)] * 2)},
    ),
    ClauseChecks(
        clause=GAUSS,
        cases=_gaussian_cases(),
        proofs=(Proof("constant along the probability-flow ODE: ∂f/∂t + (∂f/∂x_t) E[z − x | x_t] = 0",
                      lambda: sp.simplify(sp.diff(F_GAUSS, t) + sp.diff(F_GAUSS, xt) * VELOCITY.subs(a, 1 - t))),
                Proof("f(x, 0) = x (s > 0)",
                      lambda: sp.simplify(F_GAUSS.subs(t, 0).subs(s, sp.Symbol("s", positive=True))
                                                                - xt)),
                Proof("f carries N((1 − t)μ, σ_t²) to N(μ, s²): f((1 − t)μ) = μ and slope s/σ_t",
                      lambda: [sp.simplify(F_GAUSS.subs(xt, (1 - t) * mu) - mu),
                               sp.simplify(sp.diff(F_GAUSS, xt) - s / SIGMA_T)]),
                Proof("the oracle velocity of N(μ, s²) is affine: E[z − x | x_t] = −μ + σ_t'/σ_t (x_t − (1 − t)μ)",
                      lambda: sp.simplify(VELOCITY - (-mu + sp.diff(SIGMA_T, t) / SIGMA_T * (xt - (1 - t) * mu))))),
        symbolic=_symbolic_gaussian,
        properties=(Property("f(x, 0) = x", _boundary(GAUSS)),
                    Property("equals the end of the oracle ODE and is constant along it", _gauss_vs_ode)),
        max_examples=10,
        example=lambda: {"x_t": np.array([[0.3], [2.0]]), "t": np.array([1.0, 0.5]), "mu": np.array([1.0]), "s": 0.5},
    ),
    ClauseChecks(
        clause=LOSS,
        cases=_loss_cases(),
        properties=(Property("L ≥ 0; L = 0 for f = f⁻ constant", _loss_zero),
                    Property("exact consistency function + oracle teacher: L = O(Δt⁴)", _loss_order, cases=st.just({})),
                    Property("the target network is f_ema (ema) or f itself (stopgrad)", _loss_ema_used)),
        max_examples=12,
        example=lambda: {"f": smooth_field(0.5, 0.3, "f"), "f_ema": smooth_field(0.4, 0.3, "f_ema"),
                         "velocity": oracle(np.ones(1), np.zeros((1, 2)), np.eye(2)[None]),
                         "x": np.array([[1.0, 0.0], [0.0, -1.0]]), "z": np.array([[0.3, 0.2], [-1.0, 0.5]]),
                         "t_next": np.array([0.5, 0.8]), "t_prev": np.array([0.45, 0.7])},
    ),
]
