"""Conformance checks of the training distributions of t and the timestep shift (schedule.*)."""
from __future__ import annotations

import math

import numpy as np
import sympy as sp
from hypothesis import strategies as st
from scipy import integrate, stats

from genspec import spec
from genspec.reference import schedule as R
from genspec.spec.schema import Tolerance

from ..harness.arrays import T_EDGES, U_EDGES, gaussian, reals, with_edges
from ..harness.declare import ClauseChecks, Proof, Property
from ..harness.inputs import derived, inputs

KS_N, KS_SEED, KS_ALPHA = 20000, 20240501, 1e-3
KS_RESULTS: dict[str, tuple[float, float]] = {}     # clause -> (statistic, p-value) of the last KS check (tests report)
QUAD_RESULTS: dict[tuple, float] = {}                # (name, m, s) -> ∫ p

# ---- derivations --------------------------------------------------------------------------------
u, w, m, s, tt, ss, rr = sp.symbols("u w m s t s_shift r", real=True)
tp = sp.Symbol("t", positive=True)
sp_pos, rp = sp.symbols("s r", positive=True)
sigmoid = lambda v: 1 / (1 + sp.exp(-v))
logit = lambda p: sp.log(p / (1 - p))
phi = lambda v: sp.exp(-v**2 / 2) / sp.sqrt(2 * sp.pi)
pdf_expr = sp.exp(-(logit(tp) - m) ** 2 / (2 * sp_pos**2)) / (sp_pos * sp.sqrt(2 * sp.pi) * tp * (1 - tp))
shift_expr = lambda t_, s__: s__ * t_ / (1 + (s__ - 1) * t_)


def _change_of_variables():
    """t = sigmoid(m + s u), u ~ N(0, 1): p(t) = φ(u(t)) |du/dt| with u(t) = (logit t − m)/s equals the stated pdf."""
    u_of_t = (logit(tp) - m) / sp_pos
    return sp.simplify(phi(u_of_t) * sp.diff(u_of_t, tp) - pdf_expr)


def _uniform_change_of_variables():
    """t = Φ(u): p(t) = φ(u) / Φ'(u) = 1."""
    Phi = (1 + sp.erf(u / sp.sqrt(2))) / 2
    return sp.simplify(phi(u) / sp.diff(Phi, u) - 1)


def _snr_claims():
    """rf: SNR(t) = ((1 − t)/t)²; t' = shift_s(t) ⇒ t'/(1 − t') = s t/(1 − t) and SNR(t') = SNR(t)/s²."""
    t1 = shift_expr(tp, sp_pos)
    snr = lambda q: ((1 - q) / q) ** 2
    return [sp.simplify(t1 / (1 - t1) - sp_pos * tp / (1 - tp)), sp.simplify(snr(t1) - snr(tp) / sp_pos**2)]


# ---- strategies ---------------------------------------------------------------------------------
N20 = {"n": (1, 20)}
NORMALS = derived(lambda v: gaussian((v["n"],)))   # u ~ N(0, 1) (the default draw is 2 N(0, 1)): the tails come
                                                    # from U_EDGES alone (tests/test_edges.py's control)
_ms = st.fixed_dictionaries({"m": st.floats(-1.0, 1.0), "s": st.floats(0.5, 2.0)})


@st.composite
def _pdf_cases(draw):
    m_, s__ = draw(st.floats(-1.0, 1.0)), draw(st.floats(0.5, 2.0))
    wv = draw(reals(-6.0, 6.0, (draw(st.integers(1, 10)),)))     # |logit t − m|/s ≤ 6: the declared conditioning
    t_ = R.sigmoid(m_ + s__ * wv)
    if draw(st.booleans()):
        t_[0] = draw(st.sampled_from([0.0, 1.0]))                  # the singular endpoints
    return {"t": t_, "m": m_, "s": s__}


@st.composite
def _with_endpoints(draw, cases):
    """t of the generated cases (T_EDGES one draw in three) with its first entries set to 0 and 1."""
    case = dict(draw(cases))
    t_ = case["t"].copy()
    k = draw(st.integers(0, min(2, t_.size)))
    t_[:k] = [0.0, 1.0][:k]
    return {**case, "t": t_}


_shift_cases = _with_endpoints(inputs("schedule.shift", dims={"n": (1, 10)},
                                      s=st.sampled_from([0.1, 0.5, 1.0, 3.0, 10.0]) | st.floats(0.05, 20.0)))


# ---- properties ---------------------------------------------------------------------------------
MANTISSA = {"float32": 24, "bfloat16": 8}


def _ks(ctx, clause, sample, cdf, what):
    """Kolmogorov–Smirnov test of the target's samples against the CDF.

    In float32/bfloat16 the samples are the continuous variable rounded to the dtype's grid, whose exact law is
    discrete: P(round(T) ≤ g) = F(upper edge of g's rounding cell). The statistic then compares the empirical CDF
    at each grid value g (and just below it) with F at the cell's upper (and lower) edge.
    """
    if ctx.dtype == "float64":
        res = stats.kstest(sample, cdf)
        d, p = float(res.statistic), float(res.pvalue)
    else:
        g, counts = np.unique(sample, return_counts=True)
        e = np.floor(np.log2(np.abs(np.where(g == 0, 1.0, g))))
        half = 2.0 ** (e - MANTISSA[ctx.dtype])                   # half an ulp above g
        below = np.where(np.abs(g) == 2.0**e, half / 2, half)      # half an ulp below (finer under a power of two)
        with np.errstate(divide="ignore", invalid="ignore"):
            f_hi, f_lo = cdf(g + half), cdf(g - below)
        emp_hi = np.cumsum(counts) / sample.size
        emp_lo = emp_hi - counts / sample.size
        d = float(max(np.max(np.abs(emp_hi - f_hi)), np.max(np.abs(emp_lo - f_lo))))
        p = float(stats.kstwo.sf(d, sample.size))
    KS_RESULTS[f"{clause}:{ctx.dtype}"] = (d, p)
    ctx.require(clause, p > KS_ALPHA,
                f"{what}: KS test rejects (D = {d:.4g}, p = {p:.3g}, n = {sample.size}, seed {KS_SEED}, {ctx.dtype})")


def _std_normals():
    return np.random.default_rng(KS_SEED).standard_normal(KS_N)


def _uniform_ks(ctx, fn, inp):
    t_ = fn(u=_std_normals())
    ctx.require("schedule.uniform", bool(np.all((t_ >= 0) & (t_ <= 1))), "t outside [0, 1]")
    _ks(ctx, "schedule.uniform", t_, stats.uniform.cdf, "t ~ U(0, 1)")


def _logit_normal_ks(ctx, fn, inp):
    name = ctx.convention("schedule.logit_normal", "name")
    m_, s__ = inp["m"], inp["s"]
    t_ = fn(u=_std_normals(), m=m_, s=s__)
    if name == "logit_normal":
        ctx.require("schedule.logit_normal", bool(np.all((t_ >= 0) & (t_ <= 1))), "t outside [0, 1]")
        def cdf(q):
            with np.errstate(divide="ignore", invalid="ignore"):
                qq = np.clip(q, 0.0, 1.0)
                return stats.norm.cdf((np.log(qq) - np.log1p(-qq) - m_) / s__)
    else:
        cdf = lambda q: stats.lognorm.cdf(q, s__, scale=math.exp(m_))
    _ks(ctx, "schedule.logit_normal", t_, cdf, f"{name}(m = {m_}, s = {s__})")


def _pdf_integrates_to_one(ctx, fn, inp):
    name = ctx.convention("schedule.logit_normal_pdf", "name")
    m_, s__ = inp["m"], inp["s"]
    if ctx.dtype == "float64":                                      # scipy.integrate.quad, one target call per node
        f = lambda q: float(fn(t=np.array([q]), m=m_, s=s__)[0])
        if name == "logit_normal":
            total, _ = integrate.quad(f, 0.0, 1.0, limit=200, points=[float(R.sigmoid(np.array(m_)))])
        else:
            total = (integrate.quad(f, 0.0, math.exp(m_), limit=200)[0]
                     + integrate.quad(f, math.exp(m_), np.inf, limit=200)[0])
    else:
        # low precision: quad cannot converge on a rounded integrand; one vectorised call on the image of a fine
        # u-grid, integrated with the change of variables dt = (dt/du) du (trapezoid, 8001 nodes on [−12, 12])
        uu = np.linspace(-12.0, 12.0, 8001)
        t_ = ctx.round({"t": R.sigmoid(m_ + s__ * uu) if name == "logit_normal" else np.exp(m_ + s__ * uu)})["t"]
        dtdu = s__ * t_ * (1 - t_) if name == "logit_normal" else s__ * t_
        total = float(np.trapezoid(fn(t=t_, m=m_, s=s__) * dtdu, uu))
    QUAD_RESULTS[(name, ctx.dtype, m_, s__)] = total
    tol = {"float64": 1e-8, "float32": 1e-6, "bfloat16": 2e-3}[ctx.dtype]   # measured ≤ 7e-12, 1.1e-8, 3.1e-4
    ctx.assert_close("schedule.logit_normal_pdf", total, 1.0, what=f"∫ p over the support (m = {m_}, s = {s__})",
                     tol=Tolerance(rtol=0.0, atol=tol))


def _pdf_endpoints(ctx, fn, inp):
    name = ctx.convention("schedule.logit_normal_pdf", "name")
    pts = np.array([0.0, 1.0]) if name == "logit_normal" else np.array([0.0])
    ctx.assert_close("schedule.logit_normal_pdf", fn(t=pts, m=inp["m"], s=inp["s"]), np.zeros_like(pts),
                     what="p at the endpoints",
                     tol=spec.get("schedule.logit_normal_pdf").tolerance_of("p = 0 at the endpoints", ctx.dtype))


def _pdf_matches_sampler(ctx, fn, inp):
    """The density is the derivative of the sampler's CDF: p(t) dt = φ(u) du at t = sigmoid(m + s u)."""
    if ctx.convention("schedule.logit_normal_pdf", "name") != "logit_normal":
        return
    m_, s__ = inp["m"], inp["s"]
    uu = np.linspace(-3, 3, 13)
    t_ = ctx.round({"t": R.sigmoid(m_ + s__ * uu)})["t"]
    t_ = t_[(t_ > 0) & (t_ < 1)]                                     # rounding to 8 bits can reach 1
    u_back = (np.log(t_) - np.log1p(-t_) - m_) / s__
    want = stats.norm.pdf(u_back) / (s__ * t_ * (1 - t_))
    ctx.assert_close("schedule.logit_normal_pdf", fn(t=t_, m=m_, s=s__), want, what="p(t) vs φ(u) du/dt")


def shift_kappa(t, s):
    """κ = (1 + |s − 1| t)/(1 + (s − 1) t): the relative condition of the stated denominator (1 for s ≥ 1)."""
    t = np.asarray(t, dtype=np.float64)
    return (1.0 + abs(s - 1.0) * t) / ((1.0 - t) + s * t)


def _shift_compare(ctx, got, expected, inputs, what="t'"):
    """|got − expected| ≤ κ (atol + rtol |expected|): the clause's tolerance times the condition κ of the stated
    form."""
    g, e = np.asarray(got, dtype=np.float64), np.asarray(expected, dtype=np.float64)
    k = shift_kappa(inputs["t"], inputs["s"])
    if g.shape != e.shape:
        return ctx.assert_close("schedule.shift", g, e, what=what)
    with np.errstate(invalid="ignore", over="ignore"):
        ctx.assert_close("schedule.shift", e + (g - e) / k, e, what=f"{what} (error / κ)")


def _shift_monotone_endpoints(ctx, fn, inp):
    grid = ctx.round({"t": np.linspace(0.0, 1.0, 101)})["t"]
    out = fn(t=grid, s=inp["s"])
    tol = spec.get("schedule.shift").tolerance_of("increasing, fixes 0 and 1", ctx.dtype)
    if ctx.dtype == "float64":
        ok = np.all(np.diff(out) > 0)
    else:   # numerator and denominator rounded apart: two neighbours, each within the tolerance, may swap
        ok = np.all(np.diff(out) >= -2 * tol.rtol * (shift_kappa(grid, inp["s"]) * np.abs(out))[1:])
    ctx.require("schedule.shift", bool(ok), f"shift with s = {inp['s']} is not increasing")
    k = float(shift_kappa(1.0, inp["s"]))
    ctx.assert_close("schedule.shift", out[[0, -1]], np.array([0.0, 1.0]), what=f"t' at t = 0 and 1 (s = {inp['s']})",
                     tol=Tolerance(rtol=tol.rtol * k, atol=tol.atol))


def _shift_inverse(ctx, fn, inp):
    """shift_{1/s}(shift_s(t)) = t.

    A subnormal intermediate shift_s(t) ≈ s t keeps only the clause's absolute accuracy atol, which the way
    back multiplies by up to 1/s: hence atol / min(s, 1). Each of the two maps errs by up to κ value tolerances
    (shift_kappa), and the way back passes the first error on with a gain ≤ 1 + κ.
    """
    t1 = fn(t=inp["t"], s=inp["s"])
    back = fn(t=t1, s=1.0 / inp["s"])
    tol = ctx.tolerance("schedule.shift")
    k1 = float(np.max(shift_kappa(inp["t"], inp["s"])))
    k2 = float(np.max(shift_kappa(np.clip(t1, 0.0, 1.0), 1.0 / inp["s"])))
    ctx.assert_close("schedule.shift", back, inp["t"], what="shift_{1/s} ∘ shift_s",
                     tol=Tolerance(rtol=(2 + k1 * (1 + k2) + k2) * tol.rtol, atol=tol.atol / min(inp["s"], 1.0)))


def _shift_snr(ctx, fn, inp):
    """On rf, SNR(t') = SNR(t)/s²: the odds t/(1 − t) are multiplied by s."""
    t_ = inp["t"][(inp["t"] > 1e-30) & (inp["t"] < 1)]             # away from subnormals (the clause's atol)
    if t_.size == 0:
        return
    t1 = fn(t=t_, s=inp["s"])
    odds = lambda q: q / (1 - q)
    keep = t1 < 1                                                  # rounding can reach 1 in low precision
    if not np.any(keep):
        return
    tol = ctx.tolerance("schedule.shift")
    k = float(np.max(shift_kappa(t_[keep], inp["s"])))
    ctx.assert_close("schedule.shift", odds(t1[keep]), inp["s"] * odds(t_[keep]), what="odds(t') vs s odds(t)",
                     tol=Tolerance(rtol=tol.rtol * (3 + k) / np.clip(1 - t1[keep], 1e-300, None).min(), atol=0.0))


# ---- the checks ---------------------------------------------------------------------------------
CHECKS = [
    ClauseChecks(
        clause="schedule.uniform",
        cases=with_edges(inputs("schedule.uniform", dims=N20, u=NORMALS), u=U_EDGES),
        proofs=(Proof("t = Φ(u), u ~ N(0, 1) has density 1 on (0, 1) (probability-integral transform)",
                      _uniform_change_of_variables),
                Proof("Φ(u) = (1 + erf(u/√2))/2 = ½ erfc(−u/√2)",
                      lambda: sp.simplify(((1 + sp.erf(u / sp.sqrt(2))) / 2
                                           - sp.erfc(-u / sp.sqrt(2)) / 2).rewrite(sp.erf)))),
        # lambdified as ½ erfc(v/√2) at v = −u (sympy would rewrite erfc(−x) as 2 − erfc(x)): the erf form
        # (1 + erf(u/√2))/2 cancels for u ≪ 0, Φ(−8) ≈ 6e-16
        symbolic=lambda u: sp.lambdify(w, sp.erfc(w / sp.sqrt(2)) / 2, "scipy")(-u),
        properties=(Property(f"KS test against U(0, 1), n = {KS_N}", _uniform_ks, cases=st.just({})),),
        example=lambda: {"u": np.array([-1.0, 0.0, 1.0])},
    ),
    ClauseChecks(
        clause="schedule.logit_normal",
        cases=with_edges(inputs("schedule.logit_normal", dims=N20, u=NORMALS, m=st.floats(-1.0, 1.0),
                                s=st.floats(0.5, 2.0)),
                         u=U_EDGES, s=(2.0,)),                  # |m + s u| up to 17: t within 4e-8 of 0 and 1
        proofs=(Proof("logit(sigmoid(w)) = w", lambda: sp.simplify(sp.expand_log(logit(sigmoid(w)), force=True) - w)),
                Proof("change of variables gives p(t) = exp(−(logit t − m)²/2s²)/(s√(2π) t(1 − t))",
                      _change_of_variables),
                Proof("04's log-normal is the law of the odds: t/(1 − t) = e^{m + s u} for t = sigmoid(m + s u)",
                      lambda: sp.simplify(sigmoid(m + s * u) / (1 - sigmoid(m + s * u)) - sp.exp(m + s * u)))),
        symbolic=lambda u, m, s: sp.lambdify((globals()["u"], globals()["m"], globals()["s"]),
                                             sigmoid(globals()["m"] + globals()["s"] * globals()["u"]),
                                             "numpy")(u, m, s),
        properties=(Property(f"KS test against the logit-normal CDF, n = {KS_N}", _logit_normal_ks,
                             cases=st.sampled_from([{"m": 0.0, "s": 1.0}, {"m": 0.5, "s": 0.7}])),),
        example=lambda: {"u": np.array([-1.0, 0.0, 1.0]), "m": 0.0, "s": 1.0},
    ),
    ClauseChecks(
        clause="schedule.logit_normal_pdf",
        cases=with_edges(_pdf_cases(), t=T_EDGES),
        proofs=(Proof("∫_0^1 p dt = 1 (substituting t = sigmoid(m + s u))",
                      lambda: sp.simplify(sp.integrate(phi(u), (u, -sp.oo, sp.oo)) - 1)),
                Proof("p(t) → 0 as t → 0+ (m = 0, s = 1)",
                      lambda: sp.limit(pdf_expr.subs({m: 0, sp_pos: 1}), tp, 0, "+"))),
        symbolic=lambda t, m, s: np.where((t > 0) & (t < 1), sp.lambdify(
            (tp, globals()["m"], sp_pos), pdf_expr, "numpy")(np.clip(t, 1e-300, 1 - 1e-16), m, s), 0.0),
        properties=(Property("∫ p = 1 (scipy.integrate.quad)", _pdf_integrates_to_one,
                             cases=st.sampled_from([{"m": 0.0, "s": 1.0}, {"m": 0.5, "s": 0.7},
                                                    {"m": -1.0, "s": 2.0}])),
                    Property("p = 0 at the endpoints", _pdf_endpoints, cases=_ms),
                    Property("p(t) = φ(u) du/dt along the sampler", _pdf_matches_sampler, cases=_ms)),
        example=lambda: {"t": np.array([0.0, 0.25, 0.5, 0.75, 1.0]), "m": 0.0, "s": 1.0},
    ),
    ClauseChecks(
        clause="schedule.shift",
        cases=_shift_cases,
        proofs=(Proof("fixes 0 and 1",
                      lambda: [shift_expr(sp.Integer(0), sp_pos), sp.simplify(shift_expr(sp.Integer(1), sp_pos) - 1)]),
                Proof("dt'/dt = s/(1 + (s − 1)t)² > 0 for s > 0", lambda: sp.simplify(
                    sp.diff(shift_expr(tp, sp_pos), tp) - sp_pos / (1 + (sp_pos - 1) * tp) ** 2)),
                Proof("the inverse is the shift with 1/s",
                      lambda: sp.simplify(shift_expr(shift_expr(tp, sp_pos), 1 / sp_pos) - tp)),
                Proof("shifts compose: shift_s ∘ shift_r = shift_{sr}",
                      lambda: sp.simplify(shift_expr(shift_expr(tp, rp), sp_pos) - shift_expr(tp, sp_pos * rp))),
                Proof("rf: odds multiply by s, SNR(t') = SNR(t)/s²", _snr_claims)),
        symbolic=lambda t, s: sp.lambdify((tp, sp_pos), shift_expr(tp, sp_pos), "numpy")(t, s),
        compare=_shift_compare,
        properties=(Property("increasing, fixes 0 and 1", _shift_monotone_endpoints,
                             cases=st.fixed_dictionaries({"s": st.floats(0.05, 20.0)})),
                    Property("inverse is shift with 1/s", _shift_inverse),
                    Property("rf SNR(t') = SNR(t)/s²", _shift_snr)),
        example=lambda: {"t": np.array([0.0, 0.25, 0.5, 0.75, 1.0]), "s": 3.0},
    ),
]


# ---- schedule.shift_exponential (diffusers' 'exponential' time shift; issue 11) -----------------
SHIFT_EXP = "schedule.shift_exponential"
mu_, sg_ = sp.Symbol("mu", real=True), sp.Symbol("sigma", positive=True)
shift_exp_expr = lambda t_, m_, s__: sp.exp(m_) / (sp.exp(m_) + (1 / t_ - 1) ** s__)   # as diffusers writes it
odds = lambda q: q / (1 - q)


def _shift_exp_claims():
    """sigmoid(μ + σ logit t) and the odds form odds(t') = e^μ odds(t)^σ are the stated map, for t ∈ (0, 1)
    written t = o/(1 + o), o = odds(t) > 0."""
    o = sp.Symbol("o", positive=True)
    t_o = o / (1 + o)
    stated = shift_exp_expr(t_o, mu_, sg_)
    return [sp.simplify(sigmoid(mu_ + sg_ * sp.log(o)) - stated), sp.simplify(odds(t_o) - o),
            sp.simplify(odds(stated) - sp.exp(mu_) * o**sg_)]


def _shift_exp_edges():
    """t' → 0 as t → 0+ and t' → 1 as t → 1− (σ = 1/2, 1, 2; μ = 1)."""
    return [sp.limit(shift_exp_expr(tp, 1, s__), tp, e, d) - v
            for s__ in (sp.Rational(1, 2), 1, 2) for e, d, v in ((0, "+", 0), (1, "-", 1))]


def _shift_exp_composes():
    """Shifts compose: (μ₁, σ₁) ∘ (μ₂, σ₂) = (μ₁ + σ₁ μ₂, σ₁ σ₂) (on the odds)."""
    m1, m2 = sp.symbols("mu_1 mu_2", real=True)
    s1, s2 = sp.symbols("sigma_1 sigma_2", positive=True)
    o = sp.Symbol("o", positive=True)                                   # odds(t)
    return sp.simplify(sp.exp(m1) * (sp.exp(m2) * o**s2) ** s1 - sp.exp(m1 + s1 * m2) * o ** (s1 * s2))


_shift_exp_mp = sp.lambdify((tp, mu_, sg_), shift_exp_expr(tp, mu_, sg_), "mpmath")


def _shift_exp_symbolic(t, mu, sigma):
    """The stated form in 40-digit mpmath (t = 0 and 1 by their limits)."""
    import mpmath
    with mpmath.workdps(40):
        return np.array([0.0 if v == 0 else 1.0 if v == 1 else float(_shift_exp_mp(mpmath.mpf(float(v)), mu, sigma))
                         for v in np.ravel(t)]).reshape(np.shape(t))


def shift_exp_kappa(t, t_shifted, sigma):
    """κ = 1 + σ (1 − t')/(1 − t) (1 at t = 1): the condition of the stated form (1/t − 1 cancels near t = 1)."""
    t = np.asarray(t, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(t < 1, 1.0 + sigma * (1.0 - np.asarray(t_shifted)) / np.where(t < 1, 1.0 - t, 1.0), 1.0)


def _shift_exp_compare(ctx, got, expected, inputs):
    g, e = np.asarray(got, dtype=np.float64), np.asarray(expected, dtype=np.float64)
    if g.shape != e.shape:
        return ctx.assert_close(SHIFT_EXP, g, e)
    k = shift_exp_kappa(inputs["t"], e, inputs["sigma"])
    with np.errstate(invalid="ignore", over="ignore"):
        ctx.assert_close(SHIFT_EXP, e + (g - e) / k, e, what="t' (error / κ)")


def _shift_exp_fixes_ends(ctx, fn, inp):
    got = fn(t=np.array([0.0, 1.0]), mu=inp["mu"], sigma=inp["sigma"])
    ctx.assert_close(SHIFT_EXP, got, np.array([0.0, 1.0]), what=f"t' at t = 0 and 1 (μ = {inp['mu']:g}, σ = "
                     f"{inp['sigma']:g})", tol=spec.get(SHIFT_EXP).tolerance_of("fixes 0 and 1", ctx.dtype))


def _shift_exp_is_shift(ctx, fn, inp):
    """σ = 1: the rational shift s t/(1 + (s − 1) t) with s = e^μ (schedule.shift, its tolerance and κ)."""
    s__ = math.exp(inp["mu"])
    got = fn(t=inp["t"], mu=inp["mu"], sigma=1.0)
    _shift_compare(ctx, got, R.shift(inp["t"], s__), {"t": inp["t"], "s": s__},
                   what=f"shift_exponential(μ = {inp['mu']:g}, σ = 1) vs shift(s = e^μ)")


def _shift_exp_increasing(ctx, fn, inp):
    grid = ctx.round({"t": np.linspace(0.0, 1.0, 101)})["t"]
    out = fn(t=grid, mu=inp["mu"], sigma=inp["sigma"])
    rtol = ctx.tolerance(SHIFT_EXP).rtol
    ok = np.all(np.diff(out) > 0) if ctx.dtype == "float64" else np.all(np.diff(out) >= -2 * rtol * np.abs(out[1:]))
    ctx.require(SHIFT_EXP, bool(ok), f"t' is not increasing in t (μ = {inp['mu']:g}, σ = {inp['sigma']:g})")


def _shift_exp_odds(ctx, fn, inp):
    """odds(t') = e^μ odds(t)^σ, away from the ends (where the odds are 0 or ∞)."""
    t_ = inp["t"][(inp["t"] > 1e-6) & (inp["t"] < 1 - 1e-6)]
    if t_.size == 0:
        return
    t1 = fn(t=t_, mu=inp["mu"], sigma=inp["sigma"])
    keep = t1 < 1                                                  # rounding can reach 1 in low precision
    if not np.any(keep):
        return
    rtol = ctx.tolerance(SHIFT_EXP).rtol * float(np.max(shift_exp_kappa(t_, t1, inp["sigma"]))) * 4
    ctx.assert_close(SHIFT_EXP, odds(t1[keep]), math.exp(inp["mu"]) * odds(t_[keep]) ** inp["sigma"],
                     what="odds(t') vs e^μ odds(t)^σ",
                     tol=Tolerance(rtol=rtol / np.clip(1 - t1[keep], 1e-300, None).min(), atol=0.0))


def _shift_exp_tiny_t(ctx, fn, inp):
    """The smallest t of the edge table (T_EDGES up to 1e-9, subnormal ones included): t' = q/(1 + q),
    q = e^μ t^σ/(1 − t)^σ, far above the smallest normal for σ < 1 (the stated form's 1/t overflows there)."""
    from ..harness import arrays
    t_ = ctx.round({"t": np.array([v for v in arrays.T_EDGES if 0 < v <= 1e-9] or [1e-9])})["t"]
    got = fn(t=t_, mu=inp["mu"], sigma=inp["sigma"])
    ctx.assert_close(SHIFT_EXP, got, R.time_shift_exponential(t_, inp["mu"], inp["sigma"]),
                     what=f"t' at t = {', '.join(f'{v:g}' for v in t_)} (μ = {inp['mu']:g}, σ = {inp['sigma']:g})")


_mu_sigma = st.fixed_dictionaries({"mu": st.floats(-3.0, 3.0), "sigma": st.sampled_from([0.5, 1.0, 2.0])
                                   | st.floats(0.5, 2.0)})
_shift_exp_cases = _with_endpoints(inputs(SHIFT_EXP, dims={"n": (1, 10)}, mu=st.floats(-3.0, 3.0),
                                          sigma=st.sampled_from([0.5, 1.0, 2.0]) | st.floats(0.5, 2.0)))


# ---- schedule.karras (Karras et al. 2022; k-diffusion get_sigmas_karras; issue 11) -----------------
KARRAS = "schedule.karras"
r_, a_, b_, rho_ = sp.symbols("r sigma_max sigma_min rho", positive=True)
i_, N_ = sp.symbols("i N", positive=True, integer=True)
karras_expr = lambda r, a, b, p: (a ** (1 / p) + r * (b ** (1 / p) - a ** (1 / p))) ** p   # r = i/(N − 1)


def _karras_claims():
    """r = 0 gives σ_max, r = 1 gives σ_min; ρ = 1 is linear; σ^{1/ρ} has constant steps in i."""
    root = lambda k: karras_expr(k / (N_ - 1), a_, b_, rho_) ** (1 / rho_)
    return [sp.simplify(karras_expr(0, a_, b_, rho_) - a_), sp.simplify(karras_expr(1, a_, b_, rho_) - b_),
            sp.simplify(karras_expr(r_, a_, b_, sp.Integer(1)) - (a_ + r_ * (b_ - a_))),
            sp.simplify(sp.powdenest(root(i_ + 2) - 2 * root(i_ + 1) + root(i_), force=True))]


def _karras_geometric_limit():
    """ρ → ∞: σ = σ_max^{1 − r} σ_min^r (the log-linear schedule), at σ_max = 80, σ_min = 1/500, r = 1/3."""
    a, b, r = sp.Integer(80), sp.Rational(1, 500), sp.Rational(1, 3)
    return sp.simplify(sp.limit(karras_expr(r, a, b, rho_), rho_, sp.oo) - a ** (1 - r) * b**r)


_karras_np = sp.lambdify((r_, a_, b_, rho_), karras_expr(r_, a_, b_, rho_), "numpy")


def _karras_symbolic(n, sigma_min, sigma_max, rho=7.0, final_sigma="zero"):
    s__ = _karras_np(np.linspace(0.0, 1.0, n), sigma_max, sigma_min, rho)
    return np.append(s__, 0.0) if final_sigma == "zero" else s__


def karras_k(inputs):
    """K = ρ (1 + (σ_max/σ_min)^{1/ρ}): the condition of the stated form (checks' rtol is per unit of K)."""
    rho = inputs.get("rho", 7.0)
    return rho * (1.0 + (inputs["sigma_max"] / inputs["sigma_min"]) ** (1.0 / rho))


def _karras_compare(ctx, got, expected, inputs):
    g, e = np.asarray(got, dtype=np.float64), np.asarray(expected, dtype=np.float64)
    if g.shape != e.shape:
        return ctx.assert_close(KARRAS, g, e, what=f"σ (shape {e.shape} expected)")
    tol = ctx.tolerance(KARRAS)
    ctx.assert_close(KARRAS, g, e, what="σ", tol=Tolerance(rtol=tol.rtol * karras_k(inputs), atol=tol.atol))


def _final(ctx):
    return ctx.convention(KARRAS, "final_sigma") if ctx.target is not None else "zero"


def _karras_ends(ctx, fn, inp):
    """σ_0 = σ_max, σ_{N−1} = σ_min, then exactly σ_N = 0 ('zero') or nothing ('none'); decreasing."""
    got = np.asarray(fn(**inp), dtype=np.float64)
    n, zero = inp["n"], _final(ctx) == "zero"
    ctx.require(KARRAS, got.shape == (n + zero,), f"shape {got.shape}, expected ({n + zero},) (final_sigma = "
                                                  f"{_final(ctx)!r})")
    tol = ctx.tolerance(KARRAS)
    ends = np.array([inp["sigma_max"], inp["sigma_min"]]) if n > 1 else np.array([inp["sigma_max"]])
    ctx.assert_close(KARRAS, got[[0, n - 1]][: ends.size], ends, what="σ_0 = σ_max, σ_{N−1} = σ_min",
                     tol=Tolerance(rtol=tol.rtol * karras_k(inp), atol=0.0))
    if zero:
        ctx.require(KARRAS, got[-1] == 0.0, f"σ_N = {got[-1]!r}, expected exactly 0")
    if inp["sigma_min"] < inp["sigma_max"]:
        # strictly where the exact steps exceed the tolerance (σ_max = σ_min (1 + 4e-16) is one value in float32)
        ref = R.karras_sigmas(n, inp["sigma_min"], inp["sigma_max"], inp.get("rho", 7.0), "none")
        resolved = bool(np.all(-np.diff(ref) > 2 * tol.rtol * karras_k(inp) * ref[:-1]))
        steps = np.diff(got[:n])
        ctx.require(KARRAS, bool(np.all(steps < 0 if resolved else steps <= 0)),
                    "σ_i is not strictly decreasing" if resolved else "σ_i increases")


def _karras_linear_rho_1(ctx, fn, inp):
    """ρ = 1: σ = linspace(σ_max, σ_min, N)."""
    got = np.asarray(fn(n=inp["n"], sigma_min=inp["sigma_min"], sigma_max=inp["sigma_max"], rho=1.0))[: inp["n"]]
    want = np.linspace(inp["sigma_max"], inp["sigma_min"], inp["n"])
    tol = ctx.tolerance(KARRAS)
    ctx.assert_close(KARRAS, got, want, what="ρ = 1 vs linspace(σ_max, σ_min, N)",
                     tol=Tolerance(rtol=tol.rtol * karras_k({**inp, "rho": 1.0}), atol=0.0))


def _karras_equal_root_steps(ctx, fn, inp):
    """σ_i^{1/ρ} = σ_max^{1/ρ} + i Δ: its steps are equal (to the rounding of a ρ-th root of each σ)."""
    n, rho = inp["n"], inp.get("rho", 7.0)
    if n < 3:
        return
    root = np.asarray(fn(**inp), dtype=np.float64)[:n] ** (1.0 / rho)
    step = (inp["sigma_min"] ** (1.0 / rho) - inp["sigma_max"] ** (1.0 / rho)) / (n - 1)
    tol = ctx.tolerance(KARRAS)
    scale = inp["sigma_max"] ** (1.0 / rho)                       # the largest root: steps are absolute errors of it
    ctx.assert_close(KARRAS, np.diff(root) / scale, np.full(n - 1, step / scale), what="steps of σ^{1/ρ} / σ_max^{1/ρ}",
                     tol=Tolerance(rtol=0.0, atol=4 * tol.rtol * karras_k(inp)))


_karras_cases = inputs(KARRAS, n=st.sampled_from([1, 2, 3]) | st.integers(1, 40),
                       sigma_min=st.floats(-4.0, 1.0).map(lambda e: 10.0**e),
                       sigma_max=derived(lambda v: st.floats(0.0, 5.0).map(lambda e: v["sigma_min"] * 10.0**e)),
                       rho=st.just(7.0) | st.floats(1.0, 10.0))

CHECKS += [
    ClauseChecks(
        clause=SHIFT_EXP,
        cases=_shift_exp_cases,
        proofs=(Proof("e^μ/(e^μ + (1/t − 1)^σ) = sigmoid(μ + σ logit t); odds(t') = e^μ odds(t)^σ", _shift_exp_claims),
                Proof("σ = 1, s = e^μ: the rational shift s t/(1 + (s − 1) t) (schedule.shift)",
                      lambda: sp.simplify(shift_exp_expr(tp, mu_, 1) - shift_expr(tp, sp.exp(mu_)))),
                Proof("t' → 0 at t = 0 and → 1 at t = 1", _shift_exp_edges),
                Proof("(μ₁, σ₁) ∘ (μ₂, σ₂) = (μ₁ + σ₁ μ₂, σ₁ σ₂)", _shift_exp_composes)),
        symbolic=_shift_exp_symbolic,
        compare=_shift_exp_compare,
        properties=(Property("fixes 0 and 1", _shift_exp_fixes_ends, cases=_mu_sigma),
                    Property("σ = 1 is schedule.shift with s = e^μ", _shift_exp_is_shift),
                    Property("increasing in t", _shift_exp_increasing, cases=_mu_sigma),
                    Property("odds(t') = e^μ odds(t)^σ", _shift_exp_odds),
                    Property("tiny and subnormal t: t' = e^μ t^σ/(1 + e^μ t^σ)", _shift_exp_tiny_t,
                             cases=st.fixed_dictionaries({"mu": st.floats(-3.0, 3.0), "sigma": st.sampled_from(
                                 [0.5, 0.75, 1.0, 2.0])}))),
        example=lambda: {"t": np.array([0.0, 0.25, 0.5, 0.75, 1.0]), "mu": 1.0, "sigma": 1.0},
    ),
    ClauseChecks(
        clause=KARRAS,
        cases=_karras_cases,
        proofs=(Proof("σ_0 = σ_max, σ_{N−1} = σ_min; ρ = 1 is linear; σ^{1/ρ} has equal steps", _karras_claims),
                Proof("ρ → ∞: σ_max^{1 − r} σ_min^r (geometric)", _karras_geometric_limit)),
        symbolic=_karras_symbolic,
        compare=_karras_compare,
        properties=(Property("σ_0 = σ_max, σ_{N−1} = σ_min, σ_N = 0 exactly, decreasing", _karras_ends),
                    Property("ρ = 1 is linspace(σ_max, σ_min, N)", _karras_linear_rho_1),
                    Property("σ^{1/ρ} has equal steps", _karras_equal_root_steps)),
        example=lambda: {"n": 5, "sigma_min": 0.002, "sigma_max": 80.0, "rho": 7.0},
    ),
]
