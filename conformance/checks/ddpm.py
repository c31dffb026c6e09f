"""Conformance checks of discrete-time DDPM and DDIM (ddpm.*)."""
from __future__ import annotations

import math

import numpy as np
import sympy as sp
from hypothesis import strategies as st

from reference import ddpm as R
from spec.schema import Tolerance

from ..harness.arrays import gaussian, uniform
from ..harness.declare import ClauseChecks, Proof, Property

HO = R.linear_betas(1000, 1e-4, 0.02)            # Ho et al.'s schedule, the long sequence in every check

# ---- derivations --------------------------------------------------------------------------------
b1, b2, b3, beta, Pp, ab_prev, ab = sp.symbols("beta_1 beta_2 beta_3 beta P abar_prev abar", positive=True)
x0s, eps_s, xt_s, e1, e2 = sp.symbols("x_0 epsilon x_t e_1 e_2", real=True)


def _iterate_moments(betas):
    """Mean coefficient m_t and variance v_t of t one-step corruptions q(x_t | x_{t−1}) = N(√(1−β_t) x_{t−1}, β_t)."""
    m, v = sp.Integer(1), sp.Integer(0)
    out = []
    for b in betas:
        m, v = sp.sqrt(1 - b) * m, (1 - b) * v + b
        out.append((m, v))
    return out


def _unrolled_claims():
    bs = (b1, b2, b3)
    claims = []
    for k, (m, v) in enumerate(_iterate_moments(bs), start=1):
        abar = sp.prod([1 - b for b in bs[:k]])
        claims += [sp.simplify(m**2 - abar), sp.expand(v - (1 - abar))]   # m ≥ 0, so m² = ᾱ ⇔ m = √ᾱ
    return claims


def _posterior():
    """q(x_{t−1} | x_t, x_0) by Gaussian conditioning: x_{t−1} = √ᾱ_{t−1} x0 + √(1−ᾱ_{t−1}) e1,
    x_t = √α x_{t−1} + √β e2."""
    alpha = ab / ab_prev                                          # α_t = ᾱ_t/ᾱ_{t−1}, β_t = 1 − α_t
    cov = sp.sqrt(alpha) * (1 - ab_prev)                          # Cov(x_{t−1}, x_t | x0)
    var_t = alpha * (1 - ab_prev) + (1 - alpha)                   # Var(x_t | x0)
    mean = sp.sqrt(ab_prev) * x0s + cov / var_t * (xt_s - sp.sqrt(ab) * x0s)
    var = (1 - ab_prev) - cov**2 / var_t
    return alpha, mean, var, var_t


def _posterior_mean_claim():
    alpha, mean, _, _ = _posterior()
    x0_hat = (xt_s - sp.sqrt(1 - ab) * eps_s) / sp.sqrt(ab)
    step_mean = (xt_s - (1 - alpha) / sp.sqrt(1 - ab) * eps_s) / sp.sqrt(alpha)
    return sp.simplify(mean.subs(x0s, x0_hat) - step_mean)


def _posterior_var_claim():
    alpha, _, var, var_t = _posterior()
    return [sp.simplify(var_t - (1 - ab)), sp.simplify(var - (1 - ab_prev) / (1 - ab) * (1 - alpha))]


def _ddim_claim():
    """With the true ε, DDIM maps forward(x0, ε, t) to forward(x0, ε, t') exactly."""
    xt = sp.sqrt(ab) * x0s + sp.sqrt(1 - ab) * eps_s
    x0_hat = (xt - sp.sqrt(1 - ab) * eps_s) / sp.sqrt(ab)
    return sp.simplify(sp.sqrt(ab_prev) * x0_hat + sp.sqrt(1 - ab_prev) * eps_s
                       - (sp.sqrt(ab_prev) * x0s + sp.sqrt(1 - ab_prev) * eps_s))


_t_sym = sp.Symbol("t", positive=True)
_T_sym = sp.Symbol("T", positive=True)
_lin = sp.Symbol("beta_first", positive=True) + (_t_sym - 1) / (_T_sym - 1) * (
    sp.Symbol("beta_last", positive=True) - sp.Symbol("beta_first", positive=True))


# ---- strategies ---------------------------------------------------------------------------------
@st.composite
def _schedule(draw):
    if draw(st.integers(0, 3)) == 0:
        return HO
    T = draw(st.integers(1, 40))
    return draw(uniform((T,), 1e-4, 0.3))


def _shift(conv):
    return 1 if conv.get("indexing") == "zero_based" else 0


@st.composite
def _forward_cases(draw, shift=0):
    betas = draw(_schedule())
    n = draw(st.integers(1, 4))
    shape = draw(st.sampled_from([(n,), (n, 3), (n, 2, 2)]))
    T = betas.size
    t = np.array(draw(st.lists(st.sampled_from([0, 1, T] + list(range(T + 1))), min_size=n, max_size=n)))
    if shift:
        t = np.maximum(t, 1)
    return {"x0": draw(gaussian(shape)), "eps": draw(gaussian(shape)), "t": t.astype(np.int64) - shift, "betas": betas}


@st.composite
def _step_cases(draw, shift=0, with_noise=True, with_prev=False):
    betas = draw(_schedule())
    n = draw(st.integers(1, 4))
    shape = draw(st.sampled_from([(n,), (n, 3), (n, 2, 2)]))
    T = betas.size
    t = np.array(draw(st.lists(st.sampled_from([1, T] + list(range(1, T + 1))), min_size=n, max_size=n)),
                 dtype=np.int64)
    out = {"x_t": draw(gaussian(shape)), "eps_pred": draw(gaussian(shape)), "t": t - shift}
    if with_prev:
        frac = draw(uniform((n,), 0.0, 1.0))
        t_prev = np.minimum(np.floor(frac * t).astype(np.int64), t - 1)
        if draw(st.booleans()):
            t_prev[0] = 0                                       # jump straight to the data
        out["t_prev"] = t_prev - shift
    out["betas"] = betas
    if with_noise:
        out["noise"] = draw(gaussian(shape))
    return out


# ---- helpers ------------------------------------------------------------------------------------
# Properties draw their inputs in the spec's default indexing (one_based: t = 0..T) and hand the target its
# declared variant (zero_based: k = t − 1) through `_declared`: a zero_based target never receives t = T.
def _declared(ctx, clause, inp):
    """One-based inputs in the target's declared indexing (t and t_prev shifted by −1 for zero_based)."""
    s = _shift(ctx.target.conventions_for(clause))
    return {k: (np.asarray(v) - s if k in ("t", "t_prev") else v) for k, v in inp.items()}


def _bc(v, x):
    return np.asarray(v).reshape(np.shape(v) + (1,) * (x.ndim - np.ndim(v)))


def _iterated(betas):
    """Mean coefficients and variances of 0..T iterated corruptions (a loop, not a product formula)."""
    m, var = [1.0], [0.0]
    for b in betas:
        m.append(math.sqrt(1.0 - b) * m[-1])
        var.append((1.0 - b) * var[-1] + b)
    return np.array(m), np.array(var)


# ---- properties ---------------------------------------------------------------------------------
def _forward_moments(ctx, fn, inp):
    """Mean coefficient and standard deviation of the closed form equal those of t iterated one-step corruptions."""
    t1 = np.asarray(inp["t"])
    m, var = _iterated(inp["betas"])
    ones, zeros = np.ones_like(inp["x0"]), np.zeros_like(inp["x0"])
    t = _declared(ctx, "ddpm.forward", inp)["t"]
    got_m = fn(x0=ones, eps=zeros, t=t, betas=inp["betas"])
    got_s = fn(x0=zeros, eps=ones, t=t, betas=inp["betas"])
    ctx.assert_close("ddpm.forward", got_m, _bc(m[t1], ones) * ones,
                     what="mean coefficient vs iterated √(1−β) products")
    ctx.assert_close("ddpm.forward", got_s, _bc(np.sqrt(var[t1]), ones) * ones, what="std vs iterated variance")


def _forward_t0(ctx, fn, inp):
    """t = 0 (one_based; k = −1 zero_based) is the data: x_0 = x0."""
    t0 = _declared(ctx, "ddpm.forward", {"t": np.zeros_like(inp["t"])})["t"]
    ctx.assert_close("ddpm.forward", fn(x0=inp["x0"], eps=inp["eps"], t=t0, betas=inp["betas"]), inp["x0"],
                     what=f"x_t at t = {int(t0.flat[0])} (the data in the declared indexing)")


def _alpha_bar_product(ctx, fn, inp):
    """ᾱ_t is the running product (a loop) and strictly decreases."""
    got = fn(**inp)
    m, _ = _iterated(inp["betas"])
    ctx.assert_close("ddpm.alpha_bar", got, m[1:] ** 2, what="ᾱ vs iterated product")
    d = np.diff(got)
    ok = np.all(d < 0) if ctx.dtype == "float64" else np.all(d <= 0)   # rounding to 8 or 24 bits may tie neighbours
    ctx.require("ddpm.alpha_bar", bool(ok), "ᾱ_t must strictly decrease")


def _beta_defaults(ctx, fn, inp):
    """Ho et al.: T = 1000, β_1 = 1e-4, β_T = 0.02, equally spaced."""
    b = fn(T=1000, beta_1=1e-4, beta_T=0.02)
    ctx.require("ddpm.beta_schedule", b.shape == (1000,), f"shape {b.shape}, expected (1000,)")
    ctx.assert_close("ddpm.beta_schedule", b[[0, -1]], np.array([1e-4, 0.02]), what="β_1, β_T")
    ctx.assert_close("ddpm.beta_schedule", np.diff(b), np.full(999, (0.02 - 1e-4) / 999), what="equal spacing",
                     tol=Tolerance(rtol=1e-6 if ctx.dtype == "float64" else 1e-2, atol=1e-12))


def _loss_zero_and_unit(ctx, fn, inp):
    e = inp["eps"]
    ctx.assert_close("ddpm.loss", fn(eps_pred=e, eps=e), 0.0, what="L at ε_θ = ε")
    u = np.zeros_like(e).reshape(e.shape[0], -1)
    u[:, 0] = 1.0
    red = ctx.target.conventions_for("ddpm.loss")["reduction"]
    f = ctx.round({"f": e + u.reshape(e.shape)})["f"]           # the target sees f rounded to its dtype
    want = ((f - e) ** 2).reshape(e.shape[0], -1).sum(axis=1).mean()
    ctx.assert_close("ddpm.loss", fn(eps_pred=f, eps=e), want if red == "batch_mean_sq_norm" else want / u.shape[1],
                     what="L of a (nearly) unit residual")


def _ancestral_posterior(ctx, fn, inp):
    """With ξ = 0 the step is the posterior mean μ̃(x_t, x̂_0) (Ho et al. eq. 7), x̂_0 from ε_θ."""
    t1 = np.asarray(inp["t"])
    m, _ = _iterated(inp["betas"])
    abf = m**2
    x = inp["x_t"]
    a_t, a_p, b_t = _bc(abf[t1], x), _bc(abf[t1 - 1], x), _bc(inp["betas"][t1 - 1], x)
    x0_hat = (x - np.sqrt(1 - a_t) * inp["eps_pred"]) / np.sqrt(a_t)
    mu = np.sqrt(a_p) * b_t / (1 - a_t) * x0_hat + np.sqrt(1 - b_t) * (1 - a_p) / (1 - a_t) * x
    got = fn(**_declared(ctx, "ddpm.ancestral_step", {**inp, "noise": np.zeros_like(x)}))
    scale = float(np.max(np.abs(x)) + np.max(np.abs(inp["eps_pred"]))) / math.sqrt(float(np.min(a_t)))
    tol = ctx.tolerance("ddpm.ancestral_step")
    ctx.assert_close("ddpm.ancestral_step", got, mu, what="step with ξ = 0 vs posterior mean μ̃",
                     tol=Tolerance(rtol=tol.rtol, atol=max(tol.atol, 1e-13) * scale))


def _ancestral_noise(ctx, fn, inp):
    """The noise enters as σ_t ξ, σ_t² = β̃_t (or β_t), and not at all at t = 1."""
    conv = ctx.target.conventions_for("ddpm.ancestral_step")
    t1 = np.asarray(inp["t"])
    m, _ = _iterated(inp["betas"])
    abf = m**2
    b_t = inp["betas"][t1 - 1]
    var = (1 - abf[t1 - 1]) / (1 - abf[t1]) * b_t if conv["sigma"] == "beta_tilde" else b_t
    var = np.where(t1 == 1, 0.0, var)
    dec = _declared(ctx, "ddpm.ancestral_step", inp)
    d = fn(**dec) - fn(**{**dec, "noise": np.zeros_like(inp["noise"])})
    ctx.assert_close("ddpm.ancestral_step", d, _bc(np.sqrt(var), d) * inp["noise"], what="x(ξ) − x(0) vs σ_t ξ",
                     tol=Tolerance(rtol=1e-2 if ctx.dtype != "float64" else 1e-9,
                                   atol=(1e-2 if ctx.dtype != "float64" else 1e-12)
                                   * (1 + float(np.max(np.abs(inp["x_t"]))))))


def _ddim_scale(inputs, conv):
    t1 = np.asarray(inputs["t"]) + _shift(conv)
    tp = np.asarray(inputs["t_prev"]) + _shift(conv)
    m, _ = _iterated(inputs["betas"])
    ratio = m[tp] / m[t1]                                       # √(ᾱ_{t'}/ᾱ_t)
    return _bc(ratio, inputs["x_t"]) * (np.abs(inputs["x_t"]) + np.abs(inputs["eps_pred"]))


EPS = {"float64": 2.0**-52, "float32": 2.0**-23, "bfloat16": 2.0**-8}


def _ddim_compare(ctx, got, expected, inputs, rounding_steps=0):
    """|got − expected| ≤ atol·(1 + scale) + rtol|expected|, scale = √(ᾱ_{t'}/ᾱ_t)(|x_t| + |ε|); each intermediate
    output rounded to the run's dtype adds 4 eps per unit of scale."""
    tol = ctx.tolerance("ddpm.ddim_step")
    tol = Tolerance(rtol=tol.rtol, atol=tol.atol + 4 * EPS[ctx.dtype] * rounding_steps)
    conv = ctx.target.conventions_for("ddpm.ddim_step") if ctx.target is not None else {}
    scale = _ddim_scale(inputs, conv)
    ctx.assert_close("ddpm.ddim_step", got / (1 + scale), expected / (1 + scale), what="x_{t'} / (1 + scale)",
                     tol=tol)


def _ddim_exact(ctx, fn, inp):
    """With the true ε, DDIM(forward(x0, ε, t)) = forward(x0, ε, t') (deterministic, same ε)."""
    x0, eps = inp["x_t"], inp["eps_pred"]                      # reuse the drawn arrays as (x0, ε)
    t1, tp = np.asarray(inp["t"]), np.asarray(inp["t_prev"])
    xt = R.forward(x0, eps, t1, inp["betas"])
    xt_r = ctx.round({"x": xt})["x"]                            # what the target sees in its dtype
    dec = _declared(ctx, "ddpm.ddim_step", {**inp, "x_t": xt_r})
    got = fn(**dec)
    m, _ = _iterated(inp["betas"])
    # DDIM is affine in x_t with slope √(ᾱ_{t'}/ᾱ_t): the rounding of x_t propagates exactly by that factor
    want = R.forward(x0, eps, tp, inp["betas"]) + _bc(m[tp] / m[t1], xt) * (xt_r - xt)
    _ddim_compare(ctx, got, want, dec)


def _ddim_composes(ctx, fn, inp):
    """Deterministic and path-consistent: t → t' in one jump equals t → m → t' with the same ε."""
    t1, tp = np.asarray(inp["t"]), np.asarray(inp["t_prev"])
    mid = (t1 + tp + 1) // 2                                    # tp < mid ≤ t1 − … (mid < t1 when t1 − tp ≥ 2)
    ok = (t1 - tp) >= 2
    if not np.any(ok):
        return
    sel = {k: (v[ok] if isinstance(v, np.ndarray) and v.shape[:1] == ok.shape and k != "betas" else v)
           for k, v in inp.items()}
    dec = lambda d: _declared(ctx, "ddpm.ddim_step", d)         # noqa: E731
    one = fn(**dec(sel))
    half = fn(**dec({**sel, "t_prev": mid[ok]}))
    two = fn(**dec({**sel, "x_t": half, "t": mid[ok]}))
    _ddim_compare(ctx, two, one, dec(sel), rounding_steps=1)


# ---- the checks ---------------------------------------------------------------------------------
CHECKS = [
    ClauseChecks(
        clause="ddpm.beta_schedule",
        cases=st.fixed_dictionaries({"T": st.sampled_from([1, 2, 10, 1000]), "beta_1": st.floats(1e-5, 1e-2),
                                     "beta_T": st.floats(1e-3, 0.1)}),
        proofs=(Proof("β at t = 1 is β_1 and at t = T is β_T", lambda: [
            _lin.subs(_t_sym, 1) - sp.Symbol("beta_first", positive=True),
            _lin.subs(_t_sym, _T_sym) - sp.Symbol("beta_last", positive=True)]),),
        properties=(Property("Ho et al.'s defaults: T = 1000, 1e-4..0.02, equally spaced", _beta_defaults,
                             cases=st.just({})),),
        example=lambda: {"T": 5, "beta_1": 1e-4, "beta_T": 0.02},
    ),
    ClauseChecks(
        clause="ddpm.alpha_bar",
        cases=st.fixed_dictionaries({"betas": _schedule()}),
        properties=(Property("running product, strictly decreasing", _alpha_bar_product),),
        example=lambda: {"betas": np.array([0.1, 0.2, 0.3])},
    ),
    ClauseChecks(
        clause="ddpm.forward",
        cases=_forward_cases(),
        convention_cases=lambda conv: _forward_cases(shift=_shift(conv)),
        proofs=(Proof("induction step: v_{t−1} = 1 − P ⇒ (1−β) v_{t−1} + β = 1 − (1−β) P",
                      lambda: sp.expand((1 - beta) * (1 - Pp) + beta - (1 - (1 - beta) * Pp))),
                Proof("induction step: m_{t−1} = √P ⇒ √(1−β) m_{t−1} = √((1−β) P)",
                      lambda: sp.sqrt(1 - beta) * sp.sqrt(Pp) - sp.sqrt((1 - beta) * Pp)),
                Proof("unrolled for symbolic β_1, β_2, β_3: m_t² = ᾱ_t, v_t = 1 − ᾱ_t", _unrolled_claims)),
        properties=(Property("mean and std equal t iterated one-step corruptions", _forward_moments),
                    Property("t = 0 returns the data", _forward_t0)),
        example=lambda: {"x0": np.array([[1.0, -1.0]]), "eps": np.array([[0.5, 0.5]]), "t": np.array([500]),
                         "betas": HO},
    ),
    ClauseChecks(
        clause="ddpm.loss",
        cases=st.integers(1, 5).flatmap(lambda n: st.fixed_dictionaries(
            {"eps_pred": gaussian((n, 3)), "eps": gaussian((n, 3))})),
        properties=(Property("L(ε_θ = ε) = 0; a unit residual gives 1 (or 1/D)", _loss_zero_and_unit),),
        example=lambda: {"eps_pred": np.array([[0.0, 1.0]]), "eps": np.array([[0.0, 0.0]])},
    ),
    ClauseChecks(
        clause="ddpm.ancestral_step",
        cases=_step_cases(),
        convention_cases=lambda conv: _step_cases(shift=_shift(conv)),
        proofs=(Proof("the ε-form mean equals the posterior mean μ̃(x_t, x̂_0) of q(x_{t−1} | x_t, x_0)",
                      _posterior_mean_claim),
                Proof("Var(x_t | x_0) = 1 − ᾱ_t and the posterior variance is β̃_t = (1 − ᾱ_{t−1})/(1 − ᾱ_t) β_t",
                      _posterior_var_claim)),
        properties=(Property("ξ = 0 gives the posterior mean", _ancestral_posterior),
                    Property("noise enters as σ_t ξ, none at t = 1", _ancestral_noise)),
        example=lambda: {"x_t": np.array([[1.0, -1.0]]), "eps_pred": np.array([[0.5, 0.5]]), "t": np.array([10]),
                         "betas": HO, "noise": np.array([[0.1, -0.2]])},
    ),
    ClauseChecks(
        clause="ddpm.ddim_step",
        cases=_step_cases(with_noise=False, with_prev=True),
        convention_cases=lambda conv: _step_cases(shift=_shift(conv), with_noise=False, with_prev=True),
        proofs=(Proof("with the true ε, DDIM maps x_t = forward(x0, ε, t) to forward(x0, ε, t')", _ddim_claim),),
        compare=_ddim_compare,
        properties=(Property("exact on forward(x0, ε, t) with the true ε", _ddim_exact),
                    Property("one jump t → t' equals two jumps t → m → t'", _ddim_composes)),
        example=lambda: {"x_t": np.array([[1.0, -1.0]]), "eps_pred": np.array([[0.5, 0.5]]), "t": np.array([1000]),
                         "t_prev": np.array([0]), "betas": HO},
    ),
]
