"""Conformance checks of discrete-time DDPM and DDIM (ddpm.*): the β schedules, ᾱ, the forward process, the loss, the
ancestral step and DDIM (η = 0, and with η and any prediction type).

Steps are drawn and written here in the spec's default indexing (one_based: t = 0..T); the harness hands a
zero_based target k = t − 1 (spec: the variant's arguments), so it never receives t = T.
"""
from __future__ import annotations

import math

import numpy as np
import sympy as sp
from hypothesis import strategies as st

from genspec import spec
from genspec.reference import ddpm as R
from genspec.spec.ddpm import CLIPPED, COSINE_S, SD_BETAS
from genspec.spec.schema import Tolerance

from ..harness.arrays import uniform
from ..harness.declare import ClauseChecks, Proof, Property
from ..harness.inputs import derived, inputs

SCHED, ALPHA, FORWARD, LOSS = "ddpm.beta_schedule", "ddpm.alpha_bar", "ddpm.forward", "ddpm.loss"
ANCESTRAL, DDIM, DDIM_ETA = "ddpm.ancestral_step", "ddpm.ddim_step", "ddpm.ddim_eta_step"
HO = R.beta_schedule(1000, 1e-4, 0.02)           # Ho et al.'s schedule, the long sequence in every check
SD = R.beta_schedule(1000, *SD_BETAS, beta_schedule="scaled_linear")        # Stable Diffusion's
COSINE = R.beta_schedule(1000, max_beta=0.99, beta_schedule="squaredcos_cap_v2")
"""Nichol & Dhariwal's schedule as an input (ᾱ_T ≈ 2e-8), capped at 0.99: the default cap 0.999 rounds to 1 in bfloat16,
outside the domain (0, 1)."""
EPS = {"float64": 2.0**-52, "float32": 2.0**-23, "bfloat16": 2.0**-8}
SD_SQRT_ALPHA_BAR_T = 0.068265
"""Lin et al. 2024 (Common Diffusion Noise Schedules and Sample Steps are Flawed): Stable Diffusion's schedule ends at
√ᾱ_T = 0.068265, not 0 (a published figure, not computed from the code under test)."""

# ---- derivations --------------------------------------------------------------------------------
b1, b2, b3, beta, Pp, ab_prev, ab = sp.symbols("beta_1 beta_2 beta_3 beta P abar_prev abar", positive=True)
x0s, eps_s, xt_s, m_s, xi_s, eta_s = sp.symbols("x_0 epsilon x_t m xi eta", real=True)


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


def _rederive_is_identity():
    """Where clip leaves x̂_0 unchanged (|x̂_0| ≤ 1), ε̂ re-derived from it, (x_t − a x̂_0)/b, is the prediction's ε̂ for
    every prediction type: clip_rederive (and clip) are then the default."""
    return [sp.simplify((xt_s - _a * fx(xt_s, m_s)) / _b - fe(xt_s, m_s)) for fx, fe in PREDICT.values()]


def _clip_eta_one_claim():
    """η = 1, t' = t − 1 with the clamped x̂_0 = c and ε̂ re-derived, (x_t − a c)/b: the DDIM update √ᾱ_{t−1} c + r ε̂
    is the posterior mean μ̃_t(x_t, c) of the clipped ancestral step, for any c (r² = 1 − ᾱ_{t−1} − β̃_t)."""
    c = sp.Symbol("c", real=True)
    alpha, mean, _, _ = _posterior()
    r = (1 - ab_prev) * _a / (sp.sqrt(ab_prev) * _b)
    return sp.simplify(sp.sqrt(ab_prev) * c + r * (xt_s - _a * c) / _b - mean.subs(x0s, c))


# the β schedules
_t_sym, _T_sym = sp.Symbol("t", positive=True), sp.Symbol("T", positive=True)
_first, _last = sp.Symbol("beta_first", positive=True), sp.Symbol("beta_last", positive=True)
_lin = _first + (_t_sym - 1) / (_T_sym - 1) * (_last - _first)
_scaled = (sp.sqrt(_first) + (_t_sym - 1) / (_T_sym - 1) * (sp.sqrt(_last) - sp.sqrt(_first))) ** 2


def _endpoints(expr):
    return [expr.subs(_t_sym, 1) - _first, sp.simplify(expr.subs(_t_sym, _T_sym) - _last)]


def _cosine_telescopes():
    """Uncapped, Π_{s≤t} (1 − β_s) = Π f(s/T)/f((s−1)/T) = f(t/T)/f(0) (T = 4, any f > 0)."""
    f = sp.Function("f", positive=True)
    return [sp.simplify(sp.prod([f(sp.Rational(s, 4)) / f(sp.Rational(s - 1, 4)) for s in range(1, t + 1)])
                        - f(sp.Rational(t, 4)) / f(0)) for t in range(1, 5)]


def _cosine_difference():
    """1 − cos²b/cos²a = sin(b − a) sin(b + a)/cos²a: the reference's form, free of cancellation for small β."""
    a, b = sp.symbols("a b", real=True)
    c2 = sp.cos(a) ** 2
    return sp.simplify(sp.expand_trig(1 - sp.cos(b) ** 2 / c2 - sp.sin(b - a) * sp.sin(b + a) / c2))


# DDIM with η and any prediction type
_a, _b = sp.sqrt(ab), sp.sqrt(1 - ab)                             # at t; ab_prev at t'
SIGMA2 = eta_s**2 * (1 - ab_prev) / (1 - ab) * (1 - ab / ab_prev)
PREDICT = {"epsilon": (lambda x, m: (x - _b * m) / _a, lambda x, m: m),                  # (x̂_0(x_t, m), ε̂(x_t, m))
           "v_prediction": (lambda x, m: _a * x - _b * m, lambda x, m: _a * m + _b * x),
           "sample": (lambda x, m: m, lambda x, m: (x - _a * m) / _b)}
TRUE_OUTPUT = {"epsilon": eps_s, "v_prediction": _a * eps_s - _b * x0s, "sample": x0s}  # m of the true (x_0, ε)


def _predictions_recover():
    """Each prediction type's (x̂_0, ε̂) at the true output of x_t = a x_0 + b ε is (x_0, ε) (a² + b² = 1)."""
    xt = _a * x0s + _b * eps_s
    return [sp.simplify(g(xt, TRUE_OUTPUT[p]) - want) for p, (fx, fe) in PREDICT.items()
            for g, want in ((fx, x0s), (fe, eps_s))]


def _eta_one_claim():
    """η = 1, t' = t − 1: σ² = β̃_t; 1 − ᾱ_{t−1} − β̃_t = r², r = (1 − ᾱ_{t−1})√ᾱ_t/(√ᾱ_{t−1}√(1 − ᾱ_t)) ≥ 0 (every
    factor positive for 0 < ᾱ_t < ᾱ_{t−1} < 1); and √ᾱ_{t−1} x̂_0 + r ε̂ = (x_t − β_t/√(1 − ᾱ_t) ε̂)/√α_t."""
    beta_t = 1 - ab / ab_prev
    s2 = SIGMA2.subs(eta_s, 1)
    r = (1 - ab_prev) * _a / (sp.sqrt(ab_prev) * _b)
    mean = sp.sqrt(ab_prev) * (xt_s - _b * m_s) / _a + r * m_s
    return [sp.simplify(s2 - (1 - ab_prev) / (1 - ab) * beta_t), sp.simplify(r**2 - (1 - ab_prev - s2)),
            sp.simplify(mean - (xt_s - beta_t / _b * m_s) / sp.sqrt(1 - beta_t))]


def _direction_nonnegative():
    """1 − ᾱ_{t'} − σ_t² = (1 − ᾱ_{t'})(ᾱ_t/ᾱ_{t'} − ᾱ_t + (1 − η²)(1 − ᾱ_t/ᾱ_{t'}))/(1 − ᾱ_t) ≥ 0 for η ≤ 1."""
    return sp.simplify(1 - ab_prev - SIGMA2 - (1 - ab_prev) * (ab / ab_prev - ab + (1 - eta_s**2) * (1 - ab / ab_prev))
                       / (1 - ab))


# ---- strategies ---------------------------------------------------------------------------------
def _schedule(long=(HO,)):
    """A long published schedule (one draw in four), else T ≤ 40 random β in [1e-4, 0.3]."""
    return st.integers(0, 3).flatmap(lambda k: st.sampled_from(long) if k == 0 else st.integers(1, 40).flatmap(
        lambda T: uniform((T,), 1e-4, 0.3)))


def _steps(n, T, lo):
    """n one-based steps in [lo, T], the ends among them."""
    return st.lists(st.sampled_from([lo, T] + list(range(lo, T + 1))), min_size=n, max_size=n).map(
        lambda t: np.array(t, dtype=np.int64))


@st.composite
def _earlier(draw, t):
    """t' ∈ [0, t − 1] per sample, sometimes straight to the data (t' = 0)."""
    t_prev = np.minimum(np.floor(draw(uniform(t.shape, 0.0, 1.0)) * t).astype(np.int64), t - 1)
    if draw(st.booleans()):
        t_prev[0] = 0
    return t_prev


def _step_cases(clause, lo=1, long=(HO,), **given):
    """inputs(clause) with a schedule, one-based steps in [lo, T] (and t' < t)."""
    takes_prev = "t_prev" in {s.name for s in spec.get(clause).inputs}              # the DDIM steps
    t_prev = {"t_prev": derived(lambda v: _earlier(v["t"]))} if takes_prev else {}
    return inputs(clause, betas=_schedule(long), dims={"n": (1, 4)},
                  t=derived(lambda v: _steps(v["n"], v["betas"].size, lo)), **t_prev, **given)


ETAS = st.one_of(st.sampled_from([0.0, 1.0]), st.floats(0.0, 1.0))


# ---- helpers ------------------------------------------------------------------------------------
def _bc(v, x):
    return np.asarray(v).reshape(np.shape(v) + (1,) * (x.ndim - np.ndim(v)))


def _iterated(betas):
    """Mean coefficients and variances of 0..T iterated corruptions (a loop, not a product formula)."""
    m, var = [1.0], [0.0]
    for b in betas:
        m.append(math.sqrt(1.0 - b) * m[-1])
        var.append((1.0 - b) * var[-1] + b)
    return np.array(m), np.array(var)


def _clipped(x0, conv):
    """x̂_0 as the declared clip_sample variant enters the step (clamped to [−1, 1] unless 'none')."""
    return np.clip(x0, -1.0, 1.0) if conv.get("clip_sample", "none") in CLIPPED else x0


def _variant_pair(x_t, m, t1, betas, conv):
    """(x̂_0, ε̂) of output m as the declared prediction_type and clip_sample variants use them (float64, the spec's
    table)."""
    ab_, om, _ = R.schedule(betas)
    a, b = _bc(np.sqrt(ab_[t1]), x_t), _bc(np.sqrt(om[t1]), x_t)
    fx, fe = {"epsilon": (lambda: (x_t - b * m) / a, lambda: m), "v_prediction": (lambda: a * x_t - b * m,
              lambda: a * m + b * x_t), "sample": (lambda: m, lambda: (x_t - a * m) / b)}[
                  conv.get("prediction_type", "epsilon")]
    x0, eps = _clipped(fx(), conv), fe()
    return x0, ((x_t - a * x0) / b if conv.get("clip_sample") == "clip_rederive" else eps)


# ---- properties ---------------------------------------------------------------------------------
def _forward_moments(ctx, fn, inp):
    """Mean coefficient and standard deviation of the closed form equal those of t iterated one-step corruptions."""
    t1 = np.asarray(inp["t"])
    m, var = _iterated(inp["betas"])
    ones, zeros = np.ones_like(inp["x0"]), np.zeros_like(inp["x0"])
    got_m = fn(x0=ones, eps=zeros, t=t1, betas=inp["betas"])
    got_s = fn(x0=zeros, eps=ones, t=t1, betas=inp["betas"])
    ctx.assert_close(FORWARD, got_m, _bc(m[t1], ones) * ones, what="mean coefficient vs iterated √(1−β) products")
    ctx.assert_close(FORWARD, got_s, _bc(np.sqrt(var[t1]), ones) * ones, what="std vs iterated variance")


def _forward_t0(ctx, fn, inp):
    """t = 0 (one_based; k = −1 zero_based) is the data: x_0 = x0."""
    ctx.assert_close(FORWARD, fn(x0=inp["x0"], eps=inp["eps"], t=np.zeros_like(inp["t"]), betas=inp["betas"]),
                     inp["x0"], what="x_t at one-based t = 0 (the data)")


def _alpha_bar_product(ctx, fn, inp):
    """ᾱ_t is the running product (a loop) and strictly decreases."""
    got = fn(**inp)
    m, _ = _iterated(inp["betas"])
    ctx.assert_close(ALPHA, got, m[1:] ** 2, what="ᾱ vs iterated product")
    d = np.diff(got)
    ok = np.all(d < 0) if ctx.dtype == "float64" else np.all(d <= 0)   # rounding to 8 or 24 bits may tie neighbours
    ctx.require(ALPHA, bool(ok), "ᾱ_t must strictly decrease")


def _published_defaults(ctx, fn, inp):
    """The declared schedule at its published settings, T = 1000: Ho et al.'s linear 1e-4..0.02 (equally spaced β);
    Stable Diffusion's scaled_linear 0.00085..0.012 (equally spaced √β, √ᾱ_T = 0.068265 as Lin et al. 2024 report);
    Nichol & Dhariwal's cosine (ᾱ_t = f(t/T)/f(0) until the cap, β_T = 0.999)."""
    kind = ctx.convention(SCHED, "beta_schedule")
    spacing = Tolerance(rtol=1e-6 if ctx.dtype == "float64" else 1e-2, atol=1e-12)
    if kind == "squaredcos_cap_v2":
        b = np.asarray(fn(T=1000), dtype=np.float64)
        ctx.require(SCHED, b.shape == (1000,), f"shape {b.shape}, expected (1000,)")
        f = np.cos((np.arange(1001) / 1000 + COSINE_S) / (1 + COSINE_S) * np.pi / 2) ** 2
        log_ab = np.cumsum(np.log1p(-b))
        # each β rounded to the dtype moves log ᾱ_t by ≤ Σ_{s≤t} ulp(β_s)/(1 − β_s)
        bound = 1e-12 + 4 * EPS[ctx.dtype] * np.cumsum(b / (1 - b))
        err = np.abs(log_ab[:-1] - np.log(f[1:-1] / f[0]))
        ctx.require(SCHED, bool(np.all(err <= bound[:-1])), f"log ᾱ_t vs log f(t/T)/f(0): worst error "
                    f"{np.max(err - bound[:-1]):.3g} beyond its bound at t = {int(np.argmax(err - bound[:-1])) + 1}")
        ctx.assert_close(SCHED, b[-1:], np.array([0.999]), what="the capped last β_T = β_max")
        return
    lo, hi = SD_BETAS if kind == "scaled_linear" else (1e-4, 0.02)
    b = np.asarray(fn(T=1000, beta_1=lo, beta_T=hi), dtype=np.float64)
    ctx.require(SCHED, b.shape == (1000,), f"shape {b.shape}, expected (1000,)")
    ctx.assert_close(SCHED, b[[0, -1]], np.array([lo, hi]), what="β_1, β_T")
    r = np.sqrt(b) if kind == "scaled_linear" else b
    ctx.assert_close(SCHED, np.diff(r), np.full(999, (r[-1] - r[0]) / 999), what=f"equal spacing of {kind}",
                     tol=spacing)
    if kind == "scaled_linear":
        got = math.sqrt(math.exp(np.sum(np.log1p(-b))))
        bound = 1e-6 + got * np.sum(b) * EPS[ctx.dtype]
        ctx.require(SCHED, abs(got - SD_SQRT_ALPHA_BAR_T) <= bound,
                    f"√ᾱ_T = {got:.7f} for SD's schedule, Lin et al. 2024 report {SD_SQRT_ALPHA_BAR_T} (± {bound:.1g})")


def _loss_zero_and_unit(ctx, fn, inp):
    e = inp["eps"]
    ctx.assert_close(LOSS, fn(eps_pred=e, eps=e), 0.0, what="L at ε_θ = ε")
    u = np.zeros_like(e).reshape(e.shape[0], -1)
    u[:, 0] = 1.0
    red = ctx.convention(LOSS, "reduction")
    f = ctx.round({"f": e + u.reshape(e.shape)})["f"]           # the target sees f rounded to its dtype
    want = ((f - e) ** 2).reshape(e.shape[0], -1).sum(axis=1).mean()
    ctx.assert_close(LOSS, fn(eps_pred=f, eps=e), want if red == "batch_mean_sq_norm" else want / u.shape[1],
                     what="L of a (nearly) unit residual")


def _ancestral_posterior(ctx, fn, inp):
    """With ξ = 0 the step is the posterior mean μ̃(x_t, x̂_0) (Ho et al. eq. 7), x̂_0 from ε_θ (clamped to [−1, 1] in
    clip_sample 'clip')."""
    t1 = np.asarray(inp["t"])
    m, _ = _iterated(inp["betas"])
    abf = m**2
    x = inp["x_t"]
    a_t, a_p, b_t = _bc(abf[t1], x), _bc(abf[t1 - 1], x), _bc(inp["betas"][t1 - 1], x)
    x0_hat = _clipped((x - np.sqrt(1 - a_t) * inp["eps_pred"]) / np.sqrt(a_t), ctx.conventions(ANCESTRAL))
    mu = np.sqrt(a_p) * b_t / (1 - a_t) * x0_hat + np.sqrt(1 - b_t) * (1 - a_p) / (1 - a_t) * x
    got = fn(**{**inp, "noise": np.zeros_like(x)})
    scale = float(np.max(np.abs(x)) + np.max(np.abs(inp["eps_pred"]))) / math.sqrt(float(np.min(a_t)))
    tol = ctx.tolerance(ANCESTRAL)
    ctx.assert_close(ANCESTRAL, got, mu, what="step with ξ = 0 vs posterior mean μ̃",
                     tol=Tolerance(rtol=tol.rtol, atol=max(tol.atol, 1e-13) * scale))


def _ancestral_noise(ctx, fn, inp):
    """The noise enters as σ_t ξ, σ_t² = β̃_t (or β_t), and not at all at t = 1."""
    conv = ctx.conventions(ANCESTRAL)
    t1 = np.asarray(inp["t"])
    m, _ = _iterated(inp["betas"])
    abf = m**2
    b_t = inp["betas"][t1 - 1]
    var = (1 - abf[t1 - 1]) / (1 - abf[t1]) * b_t if conv["sigma"] == "beta_tilde" else b_t
    var = np.where(t1 == 1, 0.0, var)
    d = fn(**inp) - fn(**{**inp, "noise": np.zeros_like(inp["noise"])})
    ctx.assert_close(ANCESTRAL, d, _bc(np.sqrt(var), d) * inp["noise"], what="x(ξ) − x(0) vs σ_t ξ",
                     tol=Tolerance(rtol=1e-2 if ctx.dtype != "float64" else 1e-9,
                                   atol=(1e-2 if ctx.dtype != "float64" else 1e-12)
                                   * (1 + float(np.max(np.abs(inp["x_t"]))))))


# ---- DDIM ---------------------------------------------------------------------------------------
def _ddim_coefficients(inp):
    """Per sample (float64, from the one-based steps): a, b at t; √ᾱ_{t'}, √(1 − ᾱ_{t'} − σ²), σ."""
    t1, tp = np.asarray(inp["t"]), np.asarray(inp["t_prev"])
    ab_, om, log_ab = R.schedule(inp["betas"])
    eta = inp.get("eta", 0.0)
    jump = -np.expm1(log_ab[t1] - log_ab[tp])
    var = eta**2 * om[tp] / om[t1] * jump
    return np.sqrt(ab_[t1]), np.sqrt(om[t1]), np.sqrt(ab_[tp]), np.sqrt(np.maximum(om[tp] - var, 0.0)), np.sqrt(var)


def _ddim_scale(inp, conv):
    """√ᾱ_{t'}|x̂_0| + √(1 − ᾱ_{t'} − σ²)|ε̂| + σ|ξ| with |x̂_0|, |ε̂| bounded by the prediction type's formula in |x_t|
    and |m|: the magnitude of the intermediates a step in the dtype rounds."""
    a, b, ap, rest, sig = (_bc(v, inp["x_t"]) for v in _ddim_coefficients(inp))
    x, m = np.abs(inp["x_t"]), np.abs(inp["model_output"] if "model_output" in inp else inp["eps_pred"])
    kind = conv.get("prediction_type", "epsilon")
    x0, e = {"epsilon": ((x + b * m) / a, m), "v_prediction": (a * x + b * m, a * m + b * x),
             "sample": (m, (x + a * m) / b)}[kind]
    if conv.get("clip_sample") == "clip_rederive":        # ε̂ = (x_t − a x̂_0)/b from x̂_0 before it was clamped
        e = (x + a * x0) / b
    noise = inp.get("noise")
    return ap * x0 + rest * e + (0.0 if noise is None else sig * np.abs(noise))


def _ddim_compare(clause):
    def compare(ctx, got, expected, inp, rounding_steps=0):
        """|got − expected| ≤ atol·(1 + scale) + rtol|expected| (see _ddim_scale); each intermediate output rounded
        to the run's dtype adds 4 eps per unit of scale."""
        tol = ctx.tolerance(clause)
        tol = Tolerance(rtol=tol.rtol, atol=tol.atol + 4 * EPS[ctx.dtype] * rounding_steps)
        scale = _ddim_scale(inp, ctx.conventions(clause))
        ctx.assert_close(clause, got / (1 + scale), expected / (1 + scale), what="x_{t'} / (1 + scale)", tol=tol)
    return compare


def _ddim_exact(ctx, fn, inp):
    """With the true ε, DDIM(forward(x0, ε, t)) = forward(x0, ε, t') (deterministic, same ε; x0 in [−1, 1] where the
    declared variant clamps x̂_0)."""
    x0, eps = _clipped(inp["x_t"], ctx.conventions(DDIM)), inp["eps_pred"]     # the drawn arrays as (x0, ε)
    t1, tp = np.asarray(inp["t"]), np.asarray(inp["t_prev"])
    xt = R.forward(x0, eps, t1, inp["betas"])
    xt_r = ctx.round({"x": xt})["x"]                            # what the target sees in its dtype
    one = {**inp, "x_t": xt_r}
    m, _ = _iterated(inp["betas"])
    # DDIM is affine in x_t with slope √(ᾱ_{t'}/ᾱ_t): the rounding of x_t propagates exactly by that factor
    want = R.forward(x0, eps, tp, inp["betas"]) + _bc(m[tp] / m[t1], xt) * (xt_r - xt)
    conv = ctx.conventions(DDIM)
    if conv["clip_sample"] in CLIPPED:   # except where the rounding carries x̂_0 = x0 ± 1 past the clamp: the step of
        x0_r, eps_r = _variant_pair(xt_r, eps, t1, inp["betas"], conv)      # the rounded x_t's clamped (x̂_0, ε̂)
        want = _bc(m[tp], xt) * x0_r + _bc(np.sqrt(1.0 - m[tp] ** 2), xt) * eps_r
    _ddim_compare(DDIM)(ctx, fn(**one), want, one)


def _ddim_composes(ctx, fn, inp):
    """Deterministic and path-consistent: t → t' in one jump equals t → m → t' with the same ε (clip_rederive: the
    second jump gets the ε̂ the first re-derived, (x_t − a clip(x̂_0))/b)."""
    t1, tp = np.asarray(inp["t"]), np.asarray(inp["t_prev"])
    mid = (t1 + tp + 1) // 2                                    # tp < mid < t1 when t1 − tp ≥ 2
    ok = (t1 - tp) >= 2
    if not np.any(ok):
        return
    sel = {k: (v[ok] if isinstance(v, np.ndarray) and v.shape[:1] == ok.shape and k != "betas" else v)
           for k, v in inp.items()}
    one = fn(**sel)
    half = fn(**{**sel, "t_prev": mid[ok]})
    conv = ctx.conventions(DDIM)
    eps = _variant_pair(sel["x_t"], sel["eps_pred"], t1[ok], sel["betas"], conv)[1]
    two = fn(**{**sel, "x_t": half, "t": mid[ok], "eps_pred": eps})
    _ddim_compare(DDIM)(ctx, two, one, sel, rounding_steps=1 if conv["clip_sample"] != "clip_rederive" else 2)


def _as_prediction(ctx, x_t, eps, t1, betas):
    """The declared prediction_type's output m for x_t and the noise ε (x̂_0 = (x_t − b ε)/a): ε, a ε − b x̂_0, x̂_0."""
    ab_, om, _ = R.schedule(betas)
    a, b = _bc(np.sqrt(ab_[t1]), x_t), _bc(np.sqrt(om[t1]), x_t)
    x0 = (x_t - b * eps) / a
    kind = ctx.convention(DDIM_ETA, "prediction_type")
    return {"epsilon": eps, "v_prediction": a * eps - b * x0, "sample": x0}[kind]


ETA_CASES = _step_cases(DDIM_ETA, long=(HO, SD, COSINE), eta=ETAS)


def _eta_zero_is_ddim(ctx, fn, inp):
    """η = 0 (any ξ) is DDIM's deterministic step √ᾱ_{t'} x̂_0 + √(1 − ᾱ_{t'}) ε̂, x̂_0 = (x_t − √(1 − ᾱ_t) ε̂)/√ᾱ_t,
    with ε̂ the prediction's ε and ᾱ, 1 − ᾱ from a loop (not the reference's step); the noise has no effect. A clip
    variant uses its clamped x̂_0 (and re-derived ε̂)."""
    t1, tp, x_t = np.asarray(inp["t"]), np.asarray(inp["t_prev"]), inp["x_t"]
    m = ctx.round({"m": _as_prediction(ctx, x_t, inp["model_output"], t1, inp["betas"])})["m"]
    one = {**inp, "model_output": m, "eta": 0.0}
    conv = ctx.conventions(DDIM_ETA)
    eps = _as_eps(x_t, m, t1, inp["betas"], conv["prediction_type"])
    mean, var = _iterated(inp["betas"])
    x0 = (x_t - _bc(np.sqrt(var[t1]), x_t) * eps) / _bc(mean[t1], x_t)
    if conv["clip_sample"] in CLIPPED:                  # the variant's clamped x̂_0 (and re-derived ε̂)
        x0, eps = _variant_pair(x_t, m, t1, inp["betas"], conv)
    want = _bc(mean[tp], x_t) * x0 + _bc(np.sqrt(var[tp]), x_t) * eps
    _ddim_compare(DDIM_ETA)(ctx, fn(**one), want, {**one, "noise": None}, rounding_steps=1)


def _as_eps(x_t, m, t1, betas, kind):
    """ε̂ of the output m in its prediction type (the spec's table, in float64)."""
    ab_, om, _ = R.schedule(betas)
    a, b = _bc(np.sqrt(ab_[t1]), x_t), _bc(np.sqrt(om[t1]), x_t)
    return {"epsilon": m, "v_prediction": a * m + b * x_t, "sample": (x_t - a * m) / b}[kind]


def _eta_one_is_ancestral(ctx, fn, inp):
    """η = 1 and t' = t − 1: ddpm.ancestral_step with σ_t² = β̃_t and the same ξ (a clip variant: the ancestral step
    of its clamped pair (x̂_0, ε̂), i.e. at x_t' = a x̂_0 + b ε̂; clip_rederive keeps x_t' = x_t: the clipped
    ancestral step)."""
    t1 = np.asarray(inp["t"])
    m = ctx.round({"m": _as_prediction(ctx, inp["x_t"], inp["model_output"], t1, inp["betas"])})["m"]
    one = {**inp, "model_output": m, "t_prev": t1 - 1, "eta": 1.0}
    conv = ctx.conventions(DDIM_ETA)
    eps = _as_eps(inp["x_t"], m, t1, inp["betas"], conv["prediction_type"])
    x_t = inp["x_t"]
    if conv["clip_sample"] in CLIPPED:    # the clamped pair (x̂_0, ε̂)'s step: x_t' = a x̂_0 + b ε̂ (x_t if re-derived)
        x0, eps = _variant_pair(x_t, m, t1, inp["betas"], conv)
        ab_, om, _ = R.schedule(inp["betas"])
        x_t = _bc(np.sqrt(ab_[t1]), x0) * x0 + _bc(np.sqrt(om[t1]), x0) * eps
    want = R.ancestral_step(x_t, eps, t1, inp["betas"], inp["noise"])
    _ddim_compare(DDIM_ETA)(ctx, fn(**one), want, one, rounding_steps=1)


def _eta_noise(ctx, fn, inp):
    """The noise enters as σ_t(η) ξ, σ_t(η)² = η² (1 − ᾱ_{t'})/(1 − ᾱ_t) (1 − ᾱ_t/ᾱ_{t'}) (ᾱ from a loop); the two
    outputs are each rounded to the dtype (2 eps per unit of scale)."""
    t1, tp = np.asarray(inp["t"]), np.asarray(inp["t_prev"])
    m, _ = _iterated(inp["betas"])
    abf = m**2
    sigma = inp["eta"] * np.sqrt((1 - abf[tp]) / (1 - abf[t1]) * (1 - abf[t1] / abf[tp]))
    d = fn(**inp) - fn(**{**inp, "noise": np.zeros_like(inp["noise"])})
    scale = 1 + _ddim_scale(inp, ctx.conventions(DDIM_ETA))
    tol = ctx.tolerance(DDIM_ETA)
    ctx.assert_close(DDIM_ETA, d / scale, _bc(sigma, d) * inp["noise"] / scale, what="(x(ξ) − x(0))/(1 + scale) vs "
                     "σ_t(η) ξ/(1 + scale)", tol=Tolerance(rtol=tol.rtol, atol=2 * tol.atol + 2 * EPS[ctx.dtype]))


def _eta_exact_any_prediction(ctx, fn, inp):
    """At η = 0 the true output of the declared prediction type for x_t = forward(x0, ε, t) lands on
    forward(x0, ε, t') (each type's (x̂_0, ε̂) is (x_0, ε))."""
    x0, eps = _clipped(inp["x_t"], ctx.conventions(DDIM_ETA)), inp["model_output"]   # the drawn arrays as (x0, ε)
    t1, tp = np.asarray(inp["t"]), np.asarray(inp["t_prev"])
    xt = ctx.round({"x": R.forward(x0, eps, t1, inp["betas"])})["x"]
    m = ctx.round({"m": _as_prediction(ctx, xt, eps, t1, inp["betas"])})["m"]
    one = {**inp, "x_t": xt, "model_output": m, "eta": 0.0}
    # x_t and m rounded to the dtype: their rounding propagates through the intermediates the scale bounds
    _ddim_compare(DDIM_ETA)(ctx, fn(**one), R.forward(x0, eps, tp, inp["betas"]), {**one, "noise": None},
                            rounding_steps=2)


# ---- the checks ---------------------------------------------------------------------------------
CHECKS = [
    ClauseChecks(
        clause=SCHED,
        cases=inputs(SCHED, T=st.sampled_from([1, 2, 10, 1000]), beta_1=st.floats(1e-5, 1e-2),
                     beta_T=st.floats(1e-3, 0.1)),
        proofs=(Proof("linear: β at t = 1 is β_1 and at t = T is β_T", lambda: _endpoints(_lin)),
                Proof("scaled_linear: β at t = 1 is β_1 and at t = T is β_T", lambda: _endpoints(_scaled)),
                Proof("squaredcos_cap_v2: uncapped, Π(1 − β_s) telescopes to f(t/T)/f(0)", _cosine_telescopes),
                Proof("1 − cos²b/cos²a = sin(b − a) sin(b + a)/cos²a", _cosine_difference)),
        properties=(Property("the declared schedule at its published settings (Ho; SD with √ᾱ_T = 0.068265; "
                             "Nichol & Dhariwal)", _published_defaults, cases=st.just({})),),
        example=lambda: {"T": 5, "beta_1": 1e-4, "beta_T": 0.02},
    ),
    ClauseChecks(
        clause=ALPHA,
        cases=inputs(ALPHA, betas=_schedule((HO, SD, COSINE))),
        properties=(Property("running product, strictly decreasing", _alpha_bar_product),),
        example=lambda: {"betas": np.array([0.1, 0.2, 0.3])},
    ),
    ClauseChecks(
        clause=FORWARD,
        cases=_step_cases(FORWARD, lo=0),
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
        clause=LOSS,
        properties=(Property("L(ε_θ = ε) = 0; a unit residual gives 1 (or 1/D)", _loss_zero_and_unit),),
        example=lambda: {"eps_pred": np.array([[0.0, 1.0]]), "eps": np.array([[0.0, 0.0]])},
    ),
    ClauseChecks(
        clause=ANCESTRAL,
        cases=_step_cases(ANCESTRAL),
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
        clause=DDIM,
        cases=_step_cases(DDIM),
        proofs=(Proof("with the true ε, DDIM maps x_t = forward(x0, ε, t) to forward(x0, ε, t')", _ddim_claim),
                Proof("clip_sample: where |x̂_0| ≤ 1 the re-derived ε̂ is the prediction's (the clip variants are the "
                      "default there)",
                      _rederive_is_identity)),
        compare=_ddim_compare(DDIM),
        properties=(Property("exact on forward(x0, ε, t) with the true ε", _ddim_exact),
                    Property("one jump t → t' equals two jumps t → m → t'", _ddim_composes)),
        example=lambda: {"x_t": np.array([[1.0, -1.0]]), "eps_pred": np.array([[0.5, 0.5]]), "t": np.array([1000]),
                         "t_prev": np.array([0]), "betas": HO},
    ),
    ClauseChecks(
        clause=DDIM_ETA,
        cases=ETA_CASES,
        proofs=(Proof("each prediction type's (x̂_0, ε̂) at its true output is (x_0, ε) (a² + b² = 1)",
                      _predictions_recover),
                Proof("η = 1, t' = t − 1: σ_t² = β̃_t and the mean is the ancestral step's", _eta_one_claim),
                Proof("1 − ᾱ_{t'} − σ_t² = (1 − ᾱ_{t'})(ᾱ_t/ᾱ_{t'} − ᾱ_t + (1 − η²)(1 − ᾱ_t/ᾱ_{t'}))/(1 − ᾱ_t) ≥ 0",
                      _direction_nonnegative),
                Proof("clip_sample: where |x̂_0| ≤ 1 the re-derived ε̂ is the prediction's (the clip variants are the "
                      "default there)",
                      _rederive_is_identity),
                Proof("clip_rederive at η = 1, t' = t − 1 is the clipped ancestral step μ̃_t(x_t, clip(x̂_0))",
                      _clip_eta_one_claim)),
        compare=_ddim_compare(DDIM_ETA),
        properties=(Property("η = 0 is ddpm.ddim_step; ξ has no effect", _eta_zero_is_ddim),
                    Property("η = 1, t' = t − 1 is ddpm.ancestral_step with σ² = β̃_t", _eta_one_is_ancestral),
                    Property("noise enters as σ_t(η) ξ", _eta_noise),
                    Property("exact on forward(x0, ε, t) with the declared type's true output",
                             _eta_exact_any_prediction)),
        example=lambda: {"x_t": np.array([[1.0, -1.0]]), "model_output": np.array([[0.5, 0.5]]),
                         "t": np.array([1000]), "t_prev": np.array([800]), "betas": HO, "eta": 1.0,
                         "noise": np.array([[0.1, -0.2]])},
    ),
]
