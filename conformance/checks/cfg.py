"""Conformance checks of the cfg family (spec/cfg.py): the three forms of the guided combination, the score form
(Bayes), commutation with changes of target, conditioning dropout, the cost of a guided step, the guided Euler
sampler and the concentration claim, with the exact class-conditional Gaussian-mixture oracles (conformance/fixtures).

Weights are drawn and written here in the default form's units (w ∈ [−1, w_max]); the harness hands a target that
declares another form its own (spec: the scale variant's arguments {"w": 1 + w}, so s = 1 + w).
"""
from __future__ import annotations

import numpy as np
import sympy as sp
from hypothesis import strategies as st

from genspec import spec
from genspec.reference import cfg as R
from genspec.reference import cond as RC
from genspec.reference import family as RF
from genspec.reference import sampler as RS
from genspec.spec.cfg import RATES, V_CFG
from genspec.spec.cfg import w as w_
from genspec.spec.cond import null_value
from genspec.spec.schema import Tolerance

from ..fixtures import (
    CONCENTRATION_WEIGHTS,
    Counted,
    concentration_table,
    fd_grad_log_posterior,
    linear_field,
    make_mixture,
    noisy_points,
    oracle_field,
    oracle_inputs,
    oracle_scores,
    random_labels,
)
from ..harness.arrays import P_EDGES, T_EDGES, draw_edges, edge_arrays, edge_scalars
from ..harness.declare import ClauseChecks, Proof, Property
from ..harness.inputs import OMIT, UNIT, approach, declared, derived, drawing_dtype, inputs, round_to

COMBINE, SCORE, CHANGE, RESCALE = "cfg.combine", "cfg.score", "cfg.change_of_target", "cfg.rescale"
DROPOUT, COST, EULER, CONCENTRATION = "cfg.dropout", "cfg.cost", "cfg.guided_euler", "cfg.concentration"
TARGETS = ("velocity", "epsilon", "x", "v", "score")
W_EDGES = (-999.0, 999.0)
"""the ends of the domain |w| ≤ 1000 in the default units (s = 1 + w stays inside it in the scale form)."""


def weights(w_max, edges=()):
    """Strengths in [−1, w_max] with the special points −1 (unconditional), 0 (off), 1 and `edges`."""
    return st.one_of(st.sampled_from([-1.0, 0.0, 1.0, *edges]), st.floats(-1.0, w_max, allow_nan=False))


# ---- cfg.combine and cfg.score: the forms and laws are declared in spec/cfg.py; Bayes and the rf velocity --
x, t_ = sp.Symbol("x", real=True), sp.Symbol("t", positive=True)
log_px_y, log_px, log_py = sp.Function("log_p_x_given_y")(x), sp.Function("log_p_x")(x), sp.Symbol("log_p_y")


def _score_bayes():
    """(1 + w)∇log p(x|y) − w∇log p(x) = ∇log p(x) + (1 + w)∇log p(y|x),
    by Bayes: log p(y|x) = log p(x|y) + log p(y) − log p(x)."""
    grad_log_py_x = sp.diff(log_px_y + log_py - log_px, x)
    return sp.simplify((1 + w_) * sp.diff(log_px_y, x) - w_ * sp.diff(log_px, x)
                       - sp.diff(log_px, x) - (1 + w_) * grad_log_py_x)


def _rf_velocity_from_score():
    """Tweedie on x_t = (1 − t) x + t z: v = E[z − x | x_t] = −b s − (x_t + b² s)/a = −(x_t + t s)/(1 − t)."""
    xt, s = sp.symbols("x_t s", real=True)
    return sp.simplify(-t_ * s - (xt + t_**2 * s) / (1 - t_) + (xt + t_ * s) / (1 - t_))


def _velocity_guidance_is_score_guidance():
    xt, sy, sn = sp.symbols("x_t s_y s_null", real=True)
    v = lambda s: -(xt + t_ * s) / (1 - t_)
    return sp.simplify((1 + w_) * v(sy) - w_ * v(sn) - v(sn + (1 + w_) * (sy - sn)))


def _implicit_classifier(ctx, fn, inp):
    """s_∅ + (1 + w) ∇log p(y | x_t) [central differences of the class posterior] = (1 + w) s_y − w s_∅ [oracles]."""
    s_y, s_null, gm, _ = oracle_scores(inp)
    got = fn(score_null=s_null, grad_log_p_y=fd_grad_log_posterior(inp["x_t"], inp["y"], inp["t"], gm), w=inp["w"])
    tol = ctx.tolerance(SCORE)
    fd = Tolerance(rtol=max(tol.rtol, 1e-6), atol=max(tol.atol, 1e-6 * (2 + abs(inp["w"]))))
    ctx.assert_close(SCORE, got, R.cfg_combine(s_y, s_null, inp["w"]), tol=fd,
                     what="s_∅ + (1+w) ∇log p(y|x_t) [finite differences] vs (1+w) s_y − w s_∅")


def _velocity_relation(ctx, fn, inp):
    """rf: v_cfg = −(x_t + t s_cfg)/(1 − t), v_cfg from the velocity oracles, s_cfg from the target."""
    s_y, s_null, gm, null = oracle_scores(inp)
    x_t, y, t = inp["x_t"], inp["y"], inp["t"]
    v_cfg = R.cfg_combine(*(RC.conditional_velocity(x_t, yy, t, **gm) for yy in (y, null)), inp["w"])
    s_cfg = fn(score_null=s_null, grad_log_p_y=s_y - s_null, w=inp["w"])
    ctx.assert_close(SCORE, -(x_t + t[:, None] * s_cfg) / (1 - t)[:, None], v_cfg,
                     tol=ctx.tolerance(SCORE) * (1.0 + float(np.max(t / (1 - t)))),
                     what="−(x_t + t s_cfg)/(1 − t) vs v_cfg")


def _oracle_cases(t_low, t_high):
    return oracle_inputs(allow_null=False, t_low=t_low, t_high=t_high, max_n=6).flatmap(
        lambda inp: st.floats(-1.0, 4.0).map(lambda w: {**inp, "w": w}))


# ---- cfg.change_of_target -------------------------------------------------------------------------
def _affine_commutes():
    """Any conversion between targets is g(p) = m p + k x_t (M_A⁻¹ = [[a, b], [c, d]]⁻¹): it commutes."""
    a, b, cA, dA, cB, dB, xt, p1, p2 = sp.symbols("a b c_A d_A c_B d_B x_t p_1 p_2", real=True)
    Minv = sp.Matrix([[a, b], [cA, dA]]).inv()
    g = lambda p: (lambda xz: cB * xz[0] + dB * xz[1])(Minv * sp.Matrix([xt, p]))
    return sp.simplify(g((1 + w_) * p1 - w_ * p2) - ((1 + w_) * g(p1) - w_ * g(p2)))


def _defect():
    """With weights (α, β) the defect is (α + β − 1) k x_t: sum-to-one is what makes it commute."""
    m, k, xt, p1, p2, al, be = sp.symbols("m k x_t p_1 p_2 alpha beta", real=True)
    g = lambda p: m * p + k * xt
    return sp.expand(g(al * p1 + be * p2) - (al * g(p1) + be * g(p2)) + (al + be - 1) * k * xt)


@st.composite
def _change_cases(draw):
    inp = draw(oracle_inputs(allow_null=False, t_low=0.05, t_high=1.0, max_n=6))
    gm = {k: inp[k] for k in ("weights", "means", "covs", "labels")}
    target = draw(st.sampled_from(TARGETS))      # the score is singular at t = 0 (b = 0): only the edges near 1
    t = draw_edges(draw, inp["t"], T_EDGES if target != "score" else tuple(v for v in T_EDGES if v > 0.5))
    x_t = inp["x_t"] if t is inp["t"] else noisy_points(gm, t, np.random.default_rng(draw(st.integers(0, 2**32 - 1))))
    return {"x_t": x_t, "y": inp["y"], "t": t, "w": draw(weights(4.0)), **gm, "target": target}


def _commutes(ctx, fn, inp):
    """Guide in target A then convert to B (family.convert) = guide in target B, for all A ≠ B."""
    guided = {a: fn(**inp, target=a) for a in TARGETS}
    x_t, t = inp["x_t"], inp["t"]
    for a in TARGETS:
        for b in (b for b in TARGETS if b != a):
            gain = 1.0 + float(np.max(np.abs(RF.convert(np.zeros_like(x_t), np.ones_like(x_t), t, a, b))))
            ctx.assert_close(CHANGE, RF.convert(x_t, guided[a], t, a, b), guided[b],
                             tol=ctx.tolerance(CHANGE) * gain, what=f"convert({a} → {b}) of guided {a} vs {b}")


# ---- cfg.rescale ----------------------------------------------------------------------------------
def _estimator_free():
    """std_u(a)/std_u(b) = std_p(a)/std_p(b): the unbiased (N − 1) and population (N) estimators give one ratio."""
    N, Sa, Sb = sp.symbols("N S_a S_b", positive=True)
    return sp.simplify(sp.sqrt(Sa / (N - 1)) / sp.sqrt(Sb / (N - 1)) - sp.sqrt(Sa / N) / sp.sqrt(Sb / N))


def _std_restored():
    """std(c v) = |c| std(v): with c = std(v_y)/std(v_cfg) > 0, std(v_rs) = std(v_y) (a 3-entry sample)."""
    a, b, c = sp.symbols("a b c", real=True)
    k, sy = sp.symbols("k s_y", positive=True)
    var = lambda *x: sum((xi - sum(x) / len(x)) ** 2 for xi in x) / len(x)
    return sp.simplify(var(k * a, k * b, k * c) - k**2 * var(a, b, c))


SMALL_SPREADS = (1e-7, 1e-11, 1e-15)
"""Norms of the tiny samples drawn at the zero boundaries of cfg.rescale and cfg.apg (spec/cfg.py): small enough
for a clamp or ε of 1e-6..1e-12 to matter, large enough that every square stays a normal number in float32 and
bfloat16 (1e-15 / √D squared ≳ 1e-32), so the dtype's range is not what is tested."""


def _directions(seed: int, shape: tuple[int, ...]) -> np.ndarray:
    """Random rows of unit norm (one per sample)."""
    v = np.random.default_rng(seed).standard_normal(shape)
    return v / np.linalg.norm(v.reshape(len(v), -1), axis=1).reshape((-1,) + (1,) * (v.ndim - 1))


def _rescale_near_zero(ctx, fn, inp):
    """The declared zero boundary: v_y = v_∅ = 0 (std(v_cfg) = 0) raises; samples of norm r ∈ SMALL_SPREADS give
    r × the output of the unit sample (v_out is homogeneous of degree one, and scaling by r only moves exponents),
    compared after dividing by r with the clause's tolerance; v_y = 0 with v_∅ ≠ 0 has factor std(v_y)/std(v_cfg)
    = 0: v_out = (1 − φ) v_cfg."""
    if not declared(RESCALE, "v_y", "zero"):
        return
    w = 3.0                                         # the default units; the harness maps w to the target's
    shape = (3, 4)
    vy, vn = _directions(1, shape), _directions(2, shape)
    for r in SMALL_SPREADS:
        case = ctx.round({"v_y": r * vy, "v_null": r * vn, "w": w, "phi": 0.7})
        ctx.assert_close(RESCALE, fn(**case) / r, ctx.reference(RESCALE, R.rescaled_guidance, case) / r,
                         what=f"v_out / r on samples of norm r = {r:g} (std(v_cfg) ~ r)")
        case = ctx.round({"v_y": np.zeros(shape), "v_null": r * vn, "w": w, "phi": 0.7})
        ctx.assert_close(RESCALE, fn(**case) / r, ctx.reference(RESCALE, R.rescaled_guidance, case) / r,
                         what=f"v_out / r at v_y = 0, |v_∅| = r = {r:g} (factor 0)")
    ctx.require_raises(RESCALE, lambda: fn(v_y=np.zeros(shape), v_null=np.zeros(shape), w=w, phi=0.7),
                 "v_y = v_∅ = 0 (std(v_cfg) = 0)")


RESCALE_CASES = inputs(RESCALE, dims={"...": st.lists(st.integers(2, 4), min_size=1, max_size=2).map(tuple)},
                       w=weights(10.0, W_EDGES))


# ---- cfg.apg (projected guidance, Sadat et al. 2024) ------------------------------------------------------
APG = "cfg.apg"
_vy3, _vn3 = sp.Matrix(sp.symbols("y_1:4", real=True)), sp.Matrix(sp.symbols("n_1:4", real=True))
_eta = sp.Symbol("eta", real=True)


def _apg_parts():
    """(Δ, Δ∥, Δ⊥, U) of 3-vectors v_y, v_∅ in sympy: the statement as written."""
    d = _vy3 - _vn3
    par = (d.dot(_vy3) / _vy3.dot(_vy3)) * _vy3
    return d, par, d - par, (d - par) + _eta * par


def _apg_identities():
    """Δ⊥ ⟂ v_y; Δ⊥ + Δ∥ = Δ, so η = 1 is cfg.combine (v_y + w Δ = (1 + w) v_y − w v_∅); diffusers' anchor form
    v_∅ + s U is the scale form v_y + (s − 1) U plus (η − 1) Δ∥."""
    d, par, perp, u = _apg_parts()
    s_ = sp.Symbol("s", real=True)
    return [sp.simplify(perp.dot(_vy3)), sp.simplify((_vy3 + w_ * u.subs(_eta, 1)) - ((1 + w_) * _vy3 - w_ * _vn3)),
            sp.simplify((_vn3 + s_ * u) - (_vy3 + (s_ - 1) * u) - (_eta - 1) * par)]


def _apg_scale(inp):
    """1 + |v_y| + |v_∅| + G(|Δ| + ‖Δ‖), G = 1 + |w| + |1 + w| (w as drawn): the intermediates' magnitude; ‖Δ‖ per
    sample bounds the parallel part elementwise."""
    vy, vn, ww = inp["v_y"], inp["v_null"], inp["w"]
    d = np.abs(vy - vn)
    norm = np.sqrt(np.sum(d * d, axis=tuple(range(1, d.ndim)), keepdims=True))
    return 1 + np.abs(vy) + np.abs(vn) + (1 + abs(ww) + abs(1 + ww)) * (d + norm)


def _apg_compare(ctx, got, expected, inp, rounding_steps=0):
    tol = ctx.tolerance(APG)
    tol = Tolerance(rtol=tol.rtol, atol=tol.atol + 4 * EPS_OF[ctx.dtype] * rounding_steps)
    m = _apg_scale(inp)
    ctx.assert_close(APG, got / m, expected / m, what="v_apg / (1 + scale)", tol=tol)


EPS_OF = {"float64": 2.0**-52, "float32": 2.0**-23, "bfloat16": 2.0**-8}


def _apg_eta_one(ctx, fn, inp):
    """η = 1 is cfg.combine (in every form: diffusers' anchor too)."""
    _apg_compare(ctx, fn(**{**inp, "eta": 1.0}), R.cfg_combine(inp["v_y"], inp["v_null"], inp["w"]), inp)


def _apg_affine_in_eta(ctx, fn, inp):
    """v_apg(η) = (1 − η) v_apg(0) + η v_apg(1): the parallel part enters linearly in η (three outputs rounded)."""
    e = inp["eta"]
    lo, hi = fn(**{**inp, "eta": 0.0}), fn(**{**inp, "eta": 1.0})
    _apg_compare(ctx, fn(**inp), (1 - e) * lo + e * hi, inp, rounding_steps=3)


def _apg_orthogonal(ctx, fn, inp):
    """At η = 0 the guided update is orthogonal to v_y: ⟨v_apg − v_y − c, v_y⟩ = 0 per sample, c = 0 (c = −Δ∥ in
    diffusers' anchor form, Δ∥ computed here in NumPy), relative to ‖v_y‖ times the update's scale."""
    vy, vn = inp["v_y"], inp["v_null"]
    axes = tuple(range(1, vy.ndim))
    n2 = np.sum(vy * vy, axis=axes, keepdims=True)
    keep = n2.reshape(-1) > 0
    if not np.any(keep):
        return
    c = np.zeros_like(vy)
    if ctx.convention(APG, "form") == "scale_unconditional_anchor":
        d = vy - vn
        c = -np.sum(d * vy, axis=axes, keepdims=True) / np.where(n2 == 0, 1.0, n2) * vy
    r = fn(**{**inp, "eta": 0.0}) - vy - c
    dot = np.sum(r * vy, axis=axes).reshape(-1)[keep]
    size = np.sqrt(np.sum(_apg_scale(inp) ** 2, axis=axes)).reshape(-1)[keep]
    ctx.assert_close(APG, dot / (np.sqrt(n2.reshape(-1)[keep]) * size), np.zeros(int(keep.sum())),
                     what="⟨v_apg(η = 0) − v_y, v_y⟩ / (‖v_y‖ ‖scale‖)")


def _apg_near_zero(ctx, fn, inp):
    """The declared zero boundary: v_y = 0 (Δ∥ = 0) and ‖v_y‖ = r ∈ SMALL_SPREADS (the projection ⟨Δ, v̂⟩v̂ keeps
    its size ‖Δ‖ however small v_y is) with v_∅ of norm ~1, at η = 0 and 0.5, compared as the value check does."""
    if not declared(APG, "v_y", "zero"):
        return
    shape = (3, 4)
    vy, vn = _directions(3, shape), _directions(4, shape)
    for r in (0.0, 1e-7, 1e-9, 1e-11):
        for eta in (0.0, 0.5):
            case = ctx.round({"v_y": r * vy, "v_null": vn, "w": 2.0, "eta": eta})
            _apg_compare(ctx, fn(**case), ctx.reference(APG, R.projected_guidance, case), case)


APG_CASES = inputs(APG, dims={"...": st.lists(st.integers(1, 4), min_size=1, max_size=2).map(tuple)},
                   w=weights(10.0, W_EDGES), eta=st.one_of(st.sampled_from([0.0, 1.0]), st.floats(0.0, 1.0)))


# ---- cfg.dropout ----------------------------------------------------------------------------------
U_EDGES = (*(v for v in P_EDGES if v < 0.99), 1.0 - 2.0**-8)
"""u ∈ [0, 1) near 0, and 1 − 2⁻⁸: the largest value below 1 that stays below 1 rounded to bfloat16."""


def _uniforms(n):
    """u ~ U[0, 0.99] (< 1 after rounding to bfloat16), or (one draw in three) u's edges."""
    u = st.integers(0, 2**32 - 1).map(lambda s: np.minimum(np.random.default_rng(s).uniform(0, 1, n), 0.99))
    return st.one_of(u, u, edge_arrays(U_EDGES, (n,)))


def _uniform_below_p():
    """Pr[u < p] = F_u(p) = p for p ∈ (0, 1), written p = r/(1 + r), r > 0."""
    import sympy.stats as ss  # imported when the proof runs: `genspec explain` of a cfg clause needs neither
    r = sp.Symbol("r", positive=True)
    return sp.simplify(ss.cdf(ss.Uniform("u", 0, 1))(r / (1 + r)) - r / (1 + r))


def _dropout_rate(ctx, fn, inp):
    """n = 20 000 labels, u ~ U[0, 1) (fixed seed): the drop count is Binomial(n, p), binomtest p-value > 1e-3."""
    p = RATES[ctx.convention(DROPOUT, "rate")] if inp["p"] is None else inp["p"]
    rng = np.random.default_rng(inp["seed"])
    args = {"y": rng.integers(0, 4, 20_000), "u": np.minimum(rng.uniform(0.0, 1.0, 20_000), 0.99), "num_classes": 4}
    dropped = int(np.sum(fn(**args, **({} if inp["p"] is None else {"p": p}))
                         == null_value(4, ctx.convention(DROPOUT, "null_label"))))
    import scipy.stats
    pv = scipy.stats.binomtest(dropped, 20_000, p).pvalue
    ctx.require(DROPOUT, pv > 1e-3, f"dropped {dropped}/20000 labels, expected rate p = {p} (binomtest p {pv:.2e})")


def _below_one() -> float:
    """The largest u < 1 of the run's dtype (1 − its unit roundoff)."""
    return 1.0 - UNIT[drawing_dtype()]


def _at_threshold(p, n):
    """n values of u at and around the threshold p (the declared boundary, spec/cfg.py): p itself, inputs.approach's
    relative 1e-15..1e-3 and 1, 2, 4 ulps of the run's dtype on both sides, cycled, inside [0, 1)."""
    near = [v for v in approach(p, low=0.0, high=_below_one(), exact=True) if v < 1.0]   # u = p = 1 is outside
    return np.array([near[i % len(near)] for i in range(n or len(near))])


@st.composite
def _dropout_cases(draw):
    """The drawn cases; where the clause declares u's threshold, one draw in three moves p to a value of the run's
    dtype (so that u = p is one number on both sides) and u to p and its neighbours (every entry but the first
    keeps a chance to stay as drawn)."""
    d = draw(inputs(DROPOUT, dims={"n": (1, 40)}, num_classes=st.integers(1, 5),
                    p=st.one_of(st.just(OMIT), st.sampled_from([0.0, 0.1, 0.5, 1.0]), edge_scalars(P_EDGES),
                                st.floats(0.0, 1.0)),
                    u=derived(lambda v: _uniforms(v["n"])),
                    y=derived(lambda v: random_labels(v["n"], v["num_classes"]))))
    if d.get("p", OMIT) is OMIT or not declared(DROPOUT, "u", "threshold") or draw(st.integers(0, 2)) != 0:
        return d
    p = float(round_to(d["p"], drawing_dtype()))
    near = _at_threshold(p, len(d["u"]))
    keep = np.array(draw(st.lists(st.booleans(), min_size=len(near), max_size=len(near))))
    keep[0] = False
    return {**d, "p": p, "u": np.where(keep, d["u"], near)}


def _dropout_threshold_sweep(ctx, fn, inp):
    """u at p exactly and at every inputs.approach value of it (relative 1e-15..1e-3, 1, 2, 4 ulps of the run's
    dtype), for p ∈ {1e-9, 1e-3, 0.1, 1/3, 0.5, 0.9, 0.999} rounded to the run's dtype (u = p is then one number on
    both sides; the smallest and largest reach u clipped away from 0 and 1)
    and the `rate` variant's own p where the dtype holds it: dropped exactly where u < p, y kept at u = p."""
    if not declared(DROPOUT, "u", "threshold"):
        return
    conv = ctx.conventions(DROPOUT)
    dtype = drawing_dtype()
    rate = RATES[conv["rate"]]
    ps = [float(round_to(p, dtype)) for p in (1e-9, 1e-3, 0.1, 1.0 / 3.0, 0.5, 0.9, 0.999)]
    for p in [*ps, *([None] if float(round_to(rate, dtype)) == rate else [])]:
        u = _at_threshold(rate if p is None else p, 0)
        case = ctx.round({"y": np.arange(len(u)) % 3, "u": np.array(u), "num_classes": 3})
        args = case if p is None else {**case, "p": p}
        ctx.assert_close(DROPOUT, np.asarray(fn(**args)).astype(np.float64),
                         ctx.reference(DROPOUT, R.drop_labels, args).astype(np.float64),
                         what=f"ỹ at and near the threshold u = p = {rate if p is None else p!r}")


# ---- cfg.cost and cfg.guided_euler ----------------------------------------------------------------
def _field(d, C):
    """A row-wise conditional network: the linear field, or the exact oracle of a mixture with C classes."""
    return st.tuples(st.integers(0, 2**32 - 1), st.booleans()).map(
        lambda sb: linear_field(sb[0], d, C) if sb[1] else oracle_field(make_mixture(sb[0], d=d, num_classes=C)))


def _guided_cases(clause, **given):
    return inputs(clause, num_classes=st.integers(2, 3), dims={"n": (1, 8), "d": (1, 3)},
                  f=derived(lambda v: _field(v["d"], v["num_classes"])),
                  y=derived(lambda v: random_labels(v["n"], v["num_classes"])), **given)


def _count_rows(clause, steps):
    """2B rows per guided evaluation, in one call of 2B or two of B."""
    def check(ctx, fn, inp):
        counted = Counted(inp["f"])
        fn(**{**inp, "f": counted.dual})
        n, k = len(inp["x_t" if clause == COST else "x1"]), steps(inp)
        ctx.require(clause, counted.rows == 2 * n * k, f"evaluated {counted.rows} network rows, expected {2 * n * k}")
        ctx.require(clause, k <= counted.calls <= 2 * k, f"{counted.calls} network calls, expected {k}..{2 * k}")
    return check


def _cost_off(ctx, fn, inp):
    """At w = 0 (guidance off) the guided prediction is f(x_t, y, t)."""
    t = np.broadcast_to(inp["t"], (len(inp["x_t"]),)).astype(np.float64)
    ctx.assert_close(COST, fn(**{**inp, "w": 0.0}), inp["f"].numpy(inp["x_t"], inp["y"], t),
                     what="guided prediction at w = 0 (guidance off) vs f(x_t, y, t)")


def _euler_endpoints(ctx, fn, inp):
    """w = 0 gives the conditional Euler sample, w = −1 the unconditional one."""
    null = np.full_like(inp["y"], null_value(inp["num_classes"], ctx.convention(EULER, "null_label")))
    for w, y, what in ((0.0, inp["y"], "conditional"), (-1.0, null, "unconditional")):
        field = lambda x, t, y=y: inp["f"].numpy(x, y, np.broadcast_to(t, (len(x),)).astype(np.float64))
        ctx.assert_close(EULER, fn(**{**inp, "w": w}), RS.euler_sample(field, inp["x1"], inp["T"]),
                         what=f"guided sample at w = {w:g} vs the {what} Euler sample")


def _concentrates(ctx, fn, inp):
    acc, bayes = concentration_table()
    for lo, hi in zip(CONCENTRATION_WEIGHTS, CONCENTRATION_WEIGHTS[1:], strict=False):
        ctx.require(CONCENTRATION, acc[hi] >= acc[lo] + 0.05, f"acc(w={hi:g}) ≤ acc(w={lo:g}) + 0.05: {acc}")
    ctx.require(CONCENTRATION, acc[7.0] >= 0.95, f"acc(7) = {acc[7.0]:.3f} < 0.95: {acc}")
    ctx.require(CONCENTRATION, abs(acc[0.0] - bayes) < 0.06, f"acc(0) = {acc[0.0]:.3f}, Bayes accuracy {bayes:.3f}")


CHECKS = [
    ClauseChecks(
        clause=COMBINE,
        cases=inputs(COMBINE, w=weights(10.0, W_EDGES)),
        proofs=(Proof("03's 'w=7.5' (scale form) is w = 6.5 in the default form",
                      lambda: spec.get(COMBINE).variant_expressions["scale"].subs(w_, sp.Rational(15, 2))
                      - V_CFG.subs(w_, sp.Rational(13, 2))),),
        example=lambda: {"v_y": np.array([[1.0, 0.0]]), "v_null": np.array([[0.0, 1.0]]), "w": 3.0},
    ),
    ClauseChecks(
        clause=SCORE,
        cases=inputs(SCORE, w=weights(10.0, W_EDGES)),
        proofs=(Proof("Bayes: (1+w)∇log p(x|y) − w∇log p(x) = ∇log p(x) + (1+w)∇log p(y|x)", _score_bayes),
                Proof("rf via Tweedie: v = −(x_t + t ∇log p_t(x_t))/(1 − t) (affine, not proportional)",
                      _rf_velocity_from_score),
                Proof("so (1+w) v_y − w v_∅ = −(x_t + t s_cfg)/(1 − t)", _velocity_guidance_is_score_guidance)),
        properties=(Property("implicit classifier: finite-difference ∇log p(y|x_t) with the oracles",
                             _implicit_classifier, cases=_oracle_cases(0.1, 0.9)),
                    Property("rf: v_cfg = −(x_t + t s_cfg)/(1 − t)", _velocity_relation,
                             cases=_oracle_cases(0.1, 0.9))),
        max_examples=15,
        example=lambda: {"score_null": np.array([[-1.0, 0.0]]), "grad_log_p_y": np.array([[0.5, 0.5]]), "w": 3.0},
    ),
    ClauseChecks(
        clause=CHANGE,
        cases=_change_cases(),
        proofs=(Proof("an affine conversion g(p) = m p + k x_t commutes with (1+w) p_y − w p_∅", _affine_commutes),
                Proof("with weights α + β ≠ 1 the defect is (α + β − 1) k x_t", _defect)),
        properties=(Property("guide in target A then convert = convert then guide in target B (all pairs)",
                             _commutes, cases=_oracle_cases(0.2, 0.8)),),
        max_examples=10,
        example=lambda: {"x_t": np.array([[0.5]]), "y": np.array([0]), "t": 0.5, "w": 3.0,
                         "weights": np.array([0.5, 0.5]), "means": np.array([[-2.0], [2.0]]),
                         "covs": np.array([[[0.25]], [[0.25]]]), "labels": np.array([0, 1]), "target": "epsilon"},
    ),
    ClauseChecks(
        clause=RESCALE,
        cases=RESCALE_CASES,
        proofs=(Proof("the std ratio is the same for the unbiased and the population estimator", _estimator_free),
                Proof("std(c v) = c std(v), c > 0: the rescaled prediction has std(v_y)", _std_restored)),
        properties=(Property("v_y = v_∅ = 0 raises; tiny samples: v_out(r v) = r v_out(v)", _rescale_near_zero,
                             cases=st.just({})),),
        example=lambda: {"v_y": np.array([[1.0, 0.0, -1.0]]), "v_null": np.array([[0.5, 0.0, 0.0]]), "w": 6.5,
                         "phi": 0.7},
    ),
    ClauseChecks(
        clause=APG,
        cases=APG_CASES,
        proofs=(Proof("Δ⊥ ⟂ v_y; η = 1 is cfg.combine; diffusers' anchor form = scale form + (η − 1) Δ∥",
                      _apg_identities),),
        compare=_apg_compare,
        properties=(Property("η = 1 is cfg.combine", _apg_eta_one),
                    Property("affine in η", _apg_affine_in_eta),
                    Property("η = 0: the update is orthogonal to v_y", _apg_orthogonal),
                    Property("v_y = 0 and tiny: Δ∥ = 0 at 0, the exact projection above", _apg_near_zero,
                             cases=st.just({}))),
        example=lambda: {"v_y": np.array([[1.0, 0.0, -1.0]]), "v_null": np.array([[0.5, 0.5, 0.0]]), "w": 6.5,
                         "eta": 0.0},
    ),
    ClauseChecks(
        clause=DROPOUT,
        cases=_dropout_cases(),
        proofs=(Proof("Pr[u < p] = p for u ~ U[0, 1) (sympy.stats)", _uniform_below_p),),
        properties=(Property("empirical drop rate ≈ p (binomtest, n = 20 000)", _dropout_rate, cases=st.sampled_from(
            [{"p": 0.1, "seed": 1}, {"p": 0.25, "seed": 2}, {"p": 0.5, "seed": 3}, {"p": None, "seed": 4}])),
                    Property("u at and near the threshold p: dropped exactly where u < p", _dropout_threshold_sweep,
                             cases=st.just({}))),
        example=lambda: {"y": np.array([0, 1, 2, 1]), "u": np.array([0.05, 0.5, 0.09, 0.95]), "num_classes": 3,
                         "p": 0.1},
    ),
    ClauseChecks(
        clause=COST,
        cases=_guided_cases(COST, w=weights(4.0)),
        properties=(Property("2B network rows per guided evaluation (one call of 2B or two of B)",
                             _count_rows(COST, lambda inp: 1)),
                    Property("guidance-off weight gives f(x_t, y, t)", _cost_off)),
        max_examples=15,
        example=lambda: {"f": linear_field(0, 2, 2), "x_t": np.array([[1.0, 0.0]]), "y": np.array([1]),
                         "t": 0.5, "w": 3.0, "num_classes": 2},
    ),
    ClauseChecks(
        clause=EULER,
        cases=_guided_cases(EULER, w=weights(3.0), T=st.sampled_from([1, 2, 3, 4, 8])),
        properties=(Property("2T·B network rows, between T and 2T calls", _count_rows(EULER, lambda inp: inp["T"])),
                    Property("w off = conditional Euler sample; unconditional weight = unconditional sample",
                             _euler_endpoints)),
        max_examples=10,
        example=lambda: {"f": linear_field(0, 2, 2), "x1": np.array([[1.0, 0.0]]), "y": np.array([1]), "w": 3.0,
                         "T": 4, "num_classes": 2},
    ),
    ClauseChecks(
        clause=CONCENTRATION,
        properties=(Property("acc(0) < acc(1) < acc(3) < acc(7), acc(7) ≥ 0.95, acc(0) ≈ Bayes accuracy",
                             _concentrates, cases=st.just({})),),
    ),
]
