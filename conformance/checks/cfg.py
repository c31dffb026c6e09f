"""Conformance checks of the cfg family: the three forms of the guided combination and their mapping, the score
form (Bayes), commutation with changes of target, conditioning dropout, the cost of a guided step, the guided
Euler sampler, and the concentration claim, all with the exact class-conditional Gaussian-mixture oracles.

Weights are drawn in the default form's units (w ∈ [−1, w_max]) and handed to a target in the form it declares
(`Target(conventions={"cfg.combine": {"form": "scale"}})` receives s = 1 + w).
"""
from __future__ import annotations

from functools import lru_cache

import numpy as np
import scipy.stats
import sympy as sp
import sympy.stats as ss
from hypothesis import strategies as st

from reference import cfg as R
from reference import cond as RC
from reference import family as RF
from spec.cfg import OFF, UNCONDITIONAL
from spec.schema import Tolerance

from ..harness.arrays import P_EDGES, T_EDGES, draw_edges, gaussian, with_edges
from ..harness.declare import ClauseChecks, Proof, Property
from .cond import (
    Counted,
    fd_grad_log_posterior,
    linear_field,
    make_mixture,
    noisy_points,
    num_classes,
    numpy_side,
    oracle_field,
    oracle_inputs,
    sample_mixture,
)

COMBINE, SCORE, CHANGE = "cfg.combine", "cfg.score", "cfg.change_of_target"
DROPOUT, COST, EULER, CONCENTRATION = "cfg.dropout", "cfg.cost", "cfg.guided_euler", "cfg.concentration"
TARGETS = ("velocity", "epsilon", "x", "v", "score")


def form_of(ctx, clause):
    return ctx.target.conventions_for(clause)["form"]


def null_label_of(ctx, clause):
    return ctx.target.conventions_for(clause)["null_label"]


def in_form(w, form):
    """A default-form weight w as the declared form's weight (s = 1 + w for scale)."""
    return R.guidance_weight(w, "one_plus_w", form)


W_EDGES = (-999.0, 999.0)
"""the ends of the domain |w| ≤ 1000 in the default units (s = 1 + w stays inside it in the scale form)."""


def weights(w_max, form="one_plus_w", edges=()):
    """Guidance strengths in [−1, w_max] (default-form units) with the special points −1 and 0, in `form`; `edges`
    adds fixed strengths (e.g. W_EDGES) to the special points."""
    w = st.one_of(st.sampled_from([-1.0, 0.0, 1.0, *edges]), st.floats(-1.0, w_max, allow_nan=False))
    return w.map(lambda v: in_form(v, form))


def magnitude(w, form, a, b):
    """M = G (|a| + |b|), G = 1 + |w| + |1 + w| (default units): the size of the intermediates of a combination."""
    wd = R.guidance_weight(w, form, "one_plus_w")
    return (1.0 + abs(wd) + abs(1.0 + wd)) * (np.abs(a) + np.abs(b))


def _combination_compare(names, what):
    """|got − expected| / (1 + M) within the clause's tolerance: a few ulps of the intermediates, for every |w|."""
    def compare(ctx, got, expected, inputs):
        clause = COMBINE if names[0] == "v_y" else SCORE
        m = 1.0 + magnitude(inputs["w"], form_of(ctx, clause) if ctx.target is not None else "one_plus_w",
                            inputs[names[0]], inputs[names[1]])
        g, e = np.asarray(got, dtype=np.float64), np.asarray(expected, dtype=np.float64)
        if g.shape != e.shape:
            return ctx.assert_close(clause, g, e, what=what)
        ctx.assert_close(clause, g / m, e / m, what=f"{what} / (1 + M) (w = {inputs['w']:g})")
    return compare


def scaled(tol: Tolerance, gain: float) -> Tolerance:
    return Tolerance(rtol=tol.rtol * gain, atol=tol.atol * gain)


# ---- cfg.combine --------------------------------------------------------------------------------
vy, vn, w_, s_ = sp.symbols("v_y v_null w s", real=True)
SYMBOLIC_FORMS = {
    "one_plus_w": (1 + w_) * vy - w_ * vn,                          # 00
    "conditional_offset": vy + w_ * (vy - vn),                       # 03
    "scale": vn + s_ * (vy - vn),                                    # 04
}
in_default = {"one_plus_w": {}, "conditional_offset": {}, "scale": {s_: 1 + w_}}  # s = 1 + w


def _combine_cases(form="one_plus_w"):
    shape = st.tuples(st.integers(1, 6), st.integers(1, 4))
    return shape.flatmap(lambda sh: st.fixed_dictionaries(
        {"v_y": gaussian(sh, 2.0).map(lambda v: np.clip(v, -5, 5)),
         "v_null": gaussian(sh, 2.0).map(lambda v: np.clip(v, -5, 5)), "w": weights(10.0, form, W_EDGES)}))


def _fixed_combine_inputs():
    """A few fixed inputs for the special-weight properties (a failing target shrinks nothing)."""
    rng = np.random.default_rng(0)
    return st.sampled_from([{"v_y": rng.normal(0, 2, (n, d)), "v_null": rng.normal(0, 2, (n, d))}
                            for n, d in ((1, 1), (3, 2), (5, 4))])         # no w: each property sets its weight


def _combine_off(ctx, fn, inp):
    form = form_of(ctx, COMBINE)
    ctx.assert_close(COMBINE, fn(v_y=inp["v_y"], v_null=inp["v_null"], w=OFF[form]), inp["v_y"],
                     what=f"{form} called with w = {OFF[form]:g} (its guidance-off weight) vs v_y")


def _combine_unconditional(ctx, fn, inp):
    form = form_of(ctx, COMBINE)
    ctx.assert_close(COMBINE, fn(v_y=inp["v_y"], v_null=inp["v_null"], w=UNCONDITIONAL[form]), inp["v_null"],
                     what=f"{form} called with w = {UNCONDITIONAL[form]:g} (its unconditional weight) vs v_∅")


def _combine_affine(ctx, fn, inp):
    """The weights sum to one: combine(c, c, w) = c for every w."""
    m = 1.0 + magnitude(inp["w"], form_of(ctx, COMBINE), inp["v_y"], inp["v_y"])   # as in the value comparison
    ctx.assert_close(COMBINE, fn(v_y=inp["v_y"], v_null=inp["v_y"], w=inp["w"]) / m, inp["v_y"] / m,
                     what=f"combine(c, c, w) / (1 + M) with v_∅ = v_y (c) and w = {inp['w']:g} vs c / (1 + M)")


def _forms_equal():
    base = SYMBOLIC_FORMS["one_plus_w"]
    return [sp.expand(SYMBOLIC_FORMS[f].subs(in_default[f]) - base) for f in SYMBOLIC_FORMS]


def _special_weights():
    out = []
    for f, e in SYMBOLIC_FORMS.items():
        weight = s_ if f == "scale" else w_
        out += [e.subs(weight, OFF[f]) - vy, e.subs(weight, UNCONDITIONAL[f]) - vn]
    return out


def _weights_sum_to_one():
    return [sp.expand(sp.diff(e, vy) + sp.diff(e, vn) - 1) for e in SYMBOLIC_FORMS.values()]


# ---- cfg.score ----------------------------------------------------------------------------------
x = sp.Symbol("x", real=True)
t_ = sp.Symbol("t", positive=True)
log_px_y, log_px = sp.Function("log_p_x_given_y")(x), sp.Function("log_p_x")(x)
log_py = sp.Symbol("log_p_y", real=True)                                  # log p(y): constant in x
# Bayes: log p(y|x) = log p(x|y) + log p(y) − log p(x)
grad_log_py_x = sp.diff(log_px_y + log_py - log_px, x)


def _score_bayes():
    lhs = (1 + w_) * sp.diff(log_px_y, x) - w_ * sp.diff(log_px, x)      # CFG on the scores
    rhs = sp.diff(log_px, x) + (1 + w_) * grad_log_py_x                   # 03's score form
    return sp.simplify(lhs - rhs)


def _rf_velocity_from_score():
    """Tweedie on x_t = a x + b z: E[z|x_t] = −b s, E[x|x_t] = (x_t + b² s)/a; rf a = 1 − t, b = t:
    v = E[z − x | x_t] = −(x_t + t s)/(1 − t)."""
    xt, s = sp.symbols("x_t s", real=True)
    a, b = 1 - t_, t_
    v = -b * s - (xt + b ** 2 * s) / a
    return sp.simplify(v + (xt + t_ * s) / (1 - t_))


def _velocity_guidance_is_score_guidance():
    """(1 + w) v(s_y) − w v(s_∅) = v(s_cfg), v(s) = −(x_t + t s)/(1 − t): the weights sum to one."""
    xt, sy, sn = sp.symbols("x_t s_y s_null", real=True)
    v = lambda s: -(xt + t_ * s) / (1 - t_)
    s_cfg = sn + (1 + w_) * (sy - sn)
    return sp.simplify((1 + w_) * v(sy) - w_ * v(sn) - v(s_cfg))


def _score_cases(form="one_plus_w"):
    shape = st.tuples(st.integers(1, 6), st.integers(1, 4))
    return shape.flatmap(lambda sh: st.fixed_dictionaries(
        {"score_null": gaussian(sh, 2.0), "grad_log_p_y": gaussian(sh, 2.0), "w": weights(10.0, form, W_EDGES)}))


@st.composite
def _oracle_score_cases(draw):
    inp = draw(oracle_inputs(allow_null=False, t_low=0.1, t_high=0.9, max_n=6))
    return {**inp, "w_default": draw(st.floats(-1.0, 4.0))}


def _gm(inp):
    return {k: inp[k] for k in ("weights", "means", "covs", "labels")}


def _score_implicit_classifier(ctx, fn, inp):
    """s_∅ + (1 + w) ∇ log p(y | x_t) [finite differences of the class posterior] = (1 + w) s_y − w s_∅ [oracles]."""
    form = form_of(ctx, SCORE)
    w = in_form(inp["w_default"], form)
    x_t, y, t, gm = inp["x_t"], inp["y"], inp["t"], _gm(inp)
    null = np.full_like(y, num_classes(gm))
    s_y = RC.conditional_prediction(x_t, y, t, **gm, target="score")
    s_null = RC.conditional_prediction(x_t, null, t, **gm, target="score")
    g = fd_grad_log_posterior(x_t, y, t, gm)
    got = fn(score_null=s_null, grad_log_p_y=g, w=w)
    tol = ctx.tolerance(SCORE)
    fd = Tolerance(rtol=max(tol.rtol, 1e-6), atol=max(tol.atol, 1e-6 * (2 + abs(inp["w_default"]))))
    ctx.assert_close(SCORE, got, R.cfg_combine(s_y, s_null, w, form), tol=fd,
                     what="s_∅ + (1+w) ∇log p(y|x_t) [finite differences] vs (1+w) s_y − w s_∅")


def _score_velocity_relation(ctx, fn, inp):
    """rf: v_cfg = −(x_t + t s_cfg)/(1 − t), v_cfg from the velocity oracles, s_cfg from the target."""
    form = form_of(ctx, SCORE)
    w = in_form(inp["w_default"], form)
    x_t, y, t, gm = inp["x_t"], inp["y"], inp["t"], _gm(inp)
    null = np.full_like(y, num_classes(gm))
    s_y = RC.conditional_prediction(x_t, y, t, **gm, target="score")
    s_null = RC.conditional_prediction(x_t, null, t, **gm, target="score")
    v_cfg = R.cfg_combine(RC.conditional_velocity(x_t, y, t, **gm), RC.conditional_velocity(x_t, null, t, **gm), w,
                          form)
    s_cfg = fn(score_null=s_null, grad_log_p_y=s_y - s_null, w=w)
    gain = 1.0 + float(np.max(t / (1 - t)))
    ctx.assert_close(SCORE, -(x_t + t[:, None] * s_cfg) / (1 - t)[:, None], v_cfg,
                     tol=scaled(ctx.tolerance(SCORE), gain), what="−(x_t + t s_cfg)/(1 − t) vs v_cfg")


# ---- cfg.change_of_target -----------------------------------------------------------------------
def _affine_commutes():
    """Any conversion between targets is g(p) = m p + k x_t, m and k depending on t only
    (M_A⁻¹ = [[a, b], [c, d]]⁻¹)."""
    a, b, cA, dA, cB, dB, xt, p1, p2 = sp.symbols("a b c_A d_A c_B d_B x_t p_1 p_2", real=True)
    M = sp.Matrix([[a, b], [cA, dA]])

    def g(p):
        xh, zh = M.inv() * sp.Matrix([xt, p])
        return cB * xh + dB * zh

    return sp.simplify(g((1 + w_) * p1 - w_ * p2) - ((1 + w_) * g(p1) - w_ * g(p2)))


def _defect_if_weights_do_not_sum_to_one():
    """With weights (α, β) the defect is (α + β − 1) k x_t: the sum-to-one property is what makes it commute."""
    m, k, xt, p1, p2, al, be = sp.symbols("m k x_t p_1 p_2 alpha beta", real=True)
    g = lambda p: m * p + k * xt
    return sp.expand(g(al * p1 + be * p2) - (al * g(p1) + be * g(p2)) + (al + be - 1) * k * xt)


@st.composite
def _change_cases(draw, form="one_plus_w"):
    inp = draw(oracle_inputs(allow_null=False, t_low=0.05, t_high=1.0, max_n=6))
    target = draw(st.sampled_from(TARGETS))
    # t within 1e-9..1e-3 of 0 and 1 (the score target is singular at t = 0, b = 0: only the edges near 1)
    t = draw_edges(draw, inp["t"], T_EDGES if target != "score" else tuple(v for v in T_EDGES if v > 0.5))
    if t is not inp["t"]:                                           # x_t at the new times
        inp["x_t"] = noisy_points(_gm(inp), t, np.random.default_rng(draw(st.integers(0, 2**32 - 1))))
    x_t = inp["x_t"]
    return {"x_t": x_t, "y": inp["y"], "t": t, "w": draw(weights(4.0, form)), **_gm(inp), "target": target}


@st.composite
def _commute_cases(draw):
    inp = draw(oracle_inputs(allow_null=False, t_low=0.2, t_high=0.8, max_n=6))
    return {"x_t": inp["x_t"], "y": inp["y"], "t": inp["t"], "w_default": draw(st.floats(-1.0, 4.0)), **_gm(inp)}


def _commutes(ctx, fn, inp):
    """Guide in target A then convert to B (family.convert) = guide in target B, for all A, B."""
    form = form_of(ctx, CHANGE)
    kw = {k: v for k, v in inp.items() if k != "w_default"}
    w = in_form(inp["w_default"], form)
    guided = {a: fn(**kw, w=w, target=a) for a in TARGETS}
    x_t, t = inp["x_t"], inp["t"]
    tol = ctx.tolerance(CHANGE)
    for a in TARGETS:
        for b in TARGETS:
            if a == b:
                continue
            gain = 1.0 + float(np.max(np.abs(RF.convert(np.zeros_like(x_t), np.ones_like(x_t), t, a, b))))
            ctx.assert_close(CHANGE, RF.convert(x_t, guided[a], t, a, b), guided[b], tol=scaled(tol, gain),
                             what=f"convert({a} → {b}) of the guided {a}-prediction vs the guided {b}-prediction")


# ---- cfg.dropout --------------------------------------------------------------------------------
@st.composite
def _dropout_cases(draw):
    n, C = draw(st.integers(1, 40)), draw(st.integers(1, 5))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    u = np.minimum(rng.uniform(0.0, 1.0, n), 0.99)                # < 1 after rounding to bfloat16 too
    p = draw(st.one_of(st.sampled_from([0.0, 0.1, 0.5, 1.0]), st.floats(0.0, 1.0)))
    if n > 1 and draw(st.booleans()):
        u[0], u[-1] = 0.0, p if p <= 0.99 else u[-1]              # the boundary: u = p is kept (u < p drops)
    out = {"y": rng.integers(0, C, n).astype(np.int64), "u": u, "num_classes": C}
    if draw(st.booleans()):
        out["p"] = p                                               # else the target's declared `rate` applies
    return out


DROPOUT_U_EDGES = (*(v for v in P_EDGES if v < 0.99), 1.0 - 2.0**-8)
"""u ∈ [0, 1) within 1e-12 of 0 (and float64's least subnormal), and the largest value below 1 that stays below 1
when rounded to bfloat16 (1 − 2⁻⁸; 1 − 1e-6 would round to 1, outside u's domain, in float32 and bfloat16)."""

_RATE_CASES = st.sampled_from([{"p": 0.1, "seed": 1}, {"p": 0.25, "seed": 2}, {"p": 0.5, "seed": 3},
                               {"p": None, "seed": 4}])


def _dropout_rate(ctx, fn, inp):
    """Over n = 20 000 labels with u ~ U[0, 1) (fixed seed) the drop count is Binomial(n, p):
    binomtest p-value > 1e-3."""
    conv = ctx.target.conventions_for(DROPOUT)
    p = R.RATES[conv["rate"]] if inp["p"] is None else inp["p"]
    rng = np.random.default_rng(inp["seed"])
    n, C = 20_000, 4
    y = rng.integers(0, C, n).astype(np.int64)
    args = {"y": y, "u": np.minimum(rng.uniform(0.0, 1.0, n), 0.99), "num_classes": C}  # no effect for p ≤ 0.99
    if inp["p"] is not None:
        args["p"] = inp["p"]
    dropped = int(np.sum(fn(**args) == RC.null_value(C, conv["null_label"])))
    pv = scipy.stats.binomtest(dropped, n, p).pvalue
    ctx.require(DROPOUT, pv > 1e-3, f"dropped {dropped}/{n} = {dropped / n:.4f} labels, expected rate p = {p} "
                                    f"(binomtest p-value {pv:.2e})")


def _uniform_below_p():
    """Pr[u < p] = F_u(p) = p for p ∈ (0, 1), written p = r/(1 + r), r > 0."""
    r = sp.Symbol("r", positive=True)
    p = r / (1 + r)
    return sp.simplify(ss.cdf(ss.Uniform("u", 0, 1))(p) - p)


# ---- cfg.cost and cfg.guided_euler --------------------------------------------------------------
@st.composite
def _field(draw, d, C):
    """A row-wise conditional field: the linear field, or the exact oracle of a mixture with C classes."""
    seed = draw(st.integers(0, 2**32 - 1))
    if draw(st.booleans()):
        return linear_field(seed, d, C), None
    gm = make_mixture(seed, d=d, num_classes=C)
    return oracle_field(gm), gm


@st.composite
def _cost_cases(draw, form="one_plus_w"):
    n, d, C = draw(st.integers(1, 8)), draw(st.integers(1, 3)), draw(st.integers(2, 3))
    f, _ = draw(_field(d, C))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    t = draw(st.one_of(st.sampled_from(T_EDGES), st.floats(0.0, 1.0)))      # a shared time, often an edge, ...
    t = t if draw(st.booleans()) else draw_edges(draw, rng.uniform(0.0, 1.0, n), T_EDGES)   # ... or one per row
    return {"f": f, "x_t": rng.normal(0.0, 1.5, (n, d)), "y": rng.integers(0, C, n).astype(np.int64), "t": t,
            "w": draw(weights(4.0, form)), "num_classes": C}


def _count_rows(clause, steps):
    def check(ctx, fn, inp):
        counted = Counted(inp["f"])
        fn(**{**inp, "f": counted.dual})
        n = inp["x_t" if clause == COST else "x1"].shape[0]
        ctx.require(clause, counted.rows == 2 * n * steps(inp),
                    f"evaluated {counted.rows} network rows, expected 2·B·steps = {2 * n * steps(inp)}")
        ctx.require(clause, 1 <= counted.calls <= 2 * steps(inp),
                    f"{counted.calls} network calls, expected between steps and 2·steps")
    return check


def _fixed_cost_inputs():
    rng = np.random.default_rng(1)
    return st.sampled_from([{"f": linear_field(k, d, C), "x_t": rng.normal(0, 1.5, (n, d)),
                             "y": rng.integers(0, C, n).astype(np.int64), "t": t, "num_classes": C}  # no w
                            for k, (n, d, C, t) in enumerate(((1, 1, 2, 0.0), (4, 2, 3, 0.5), (6, 3, 3, 1.0)))])


def _cost_off(ctx, fn, inp):
    """At the guidance-off weight the guided prediction is f(x_t, y, t)."""
    form = form_of(ctx, COST)
    n = inp["x_t"].shape[0]
    t = np.broadcast_to(inp["t"], (n,)).astype(np.float64)
    ctx.assert_close(COST, fn(**{**inp, "w": OFF[form]}), inp["f"].numpy(inp["x_t"], inp["y"], t),
                     what=f"guided prediction called with w = {OFF[form]:g} (the guidance-off weight) vs f(x_t, y, t)")


@st.composite
def _euler_cases(draw, form="one_plus_w"):
    n, d, C = draw(st.integers(1, 8)), draw(st.integers(1, 3)), draw(st.integers(2, 3))
    f, _ = draw(_field(d, C))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    return {"f": f, "x1": rng.standard_normal((n, d)), "y": rng.integers(0, C, n).astype(np.int64),
            "w": draw(weights(3.0, form)), "T": draw(st.sampled_from([1, 2, 3, 4, 8])), "num_classes": C}


def _without_w(inp):
    """The inputs of a property that sets the weight itself: the shown input then holds no other w."""
    return {k: v for k, v in inp.items() if k != "w"}


def _euler_endpoints(ctx, fn, inp):
    """w off = the conditional Euler sample, w = −1 (s = 0) = the unconditional one (sampler.euler with f(·, y, ·))."""
    from reference import sampler as RS
    form = form_of(ctx, EULER)
    f, x1, y, T = inp["f"], inp["x1"], inp["y"], inp["T"]
    null = np.full_like(y, RC.null_value(inp["num_classes"], null_label_of(ctx, EULER)))
    field = lambda labels: (lambda x, t: f.numpy(x, labels, np.broadcast_to(t, (x.shape[0],)).astype(np.float64)))
    ctx.assert_close(EULER, fn(**{**inp, "w": OFF[form]}), RS.euler_sample(field(y), x1, T),
                     what=f"guided sample called with w = {OFF[form]:g} (guidance off) vs the conditional Euler sample")
    ctx.assert_close(EULER, fn(**{**inp, "w": UNCONDITIONAL[form]}), RS.euler_sample(field(null), x1, T),
                     what=f"guided sample called with w = {UNCONDITIONAL[form]:g} (unconditional) vs the "
                          f"unconditional Euler sample")


# ---- cfg.concentration --------------------------------------------------------------------------
CONCENTRATION_WEIGHTS = (0.0, 1.0, 3.0, 7.0)


def concentration_mixture():
    """3 overlapping classes in 2-D, 2 isotropic components each (σ = 1.2): an outer one at radius 1.5 and an
    inner one at radius 0.75 next to the following class's outer one."""
    ang = np.deg2rad([90.0, 210.0, 330.0])
    outer = 1.5 * np.stack([np.cos(ang), np.sin(ang)], axis=1)
    means = np.concatenate([outer, 0.5 * np.roll(outer, 1, axis=0)])
    return {"weights": np.full(6, 1 / 6), "means": means, "covs": np.stack([1.44 * np.eye(2)] * 6),
            "labels": np.array([0, 1, 2, 0, 1, 2])}


def concentration_noise(n_per_class=300, seed=0):
    """(x1, y): the starting noise and requested classes of the concentration measurement (shared with the
    trained-model test, so the two tables differ only by the field)."""
    y = np.repeat(np.arange(3), n_per_class)
    return np.random.default_rng(seed).standard_normal((y.shape[0], 2)), y


def accuracy(x0, y, gm):
    """Fraction of samples whose highest-posterior class at t = 0 is the requested one."""
    return float(np.mean(RC.class_posterior(x0, 0.0, **gm).argmax(axis=1) == y))


@lru_cache(maxsize=1)
def concentration_table(n_per_class=300, T=32, seed=0):
    """acc(w): fraction of guided Euler samples (exact oracles, float64 reference) whose highest-posterior class
    at t = 0 is the requested one; plus the Bayes accuracy of exact samples of p(x | y) (what w = 0 targets)."""
    gm = concentration_mixture()
    f = oracle_field(gm).numpy
    x1, y = concentration_noise(n_per_class, seed)
    acc = {w: accuracy(R.guided_euler_sample(f, x1, y, w, T, 3), y, gm) for w in CONCENTRATION_WEIGHTS}
    x, yx = sample_mixture(gm, 20_000, np.random.default_rng(seed + 1))
    return acc, accuracy(x, yx, gm)


def _concentrates(ctx, fn, inp):
    acc, bayes = concentration_table()
    ws = CONCENTRATION_WEIGHTS
    for lo, hi in zip(ws, ws[1:], strict=False):
        ctx.require(CONCENTRATION, acc[hi] >= acc[lo] + 0.05, f"acc(w={hi:g}) = {acc[hi]:.3f} is not above "
                                                              f"acc(w={lo:g}) = {acc[lo]:.3f} + 0.05: {acc}")
    ctx.require(CONCENTRATION, acc[7.0] >= 0.95, f"acc(7) = {acc[7.0]:.3f} < 0.95: {acc}")
    ctx.require(CONCENTRATION, abs(acc[0.0] - bayes) < 0.06,
                f"w = 0 must sample p(x | y): acc(0) = {acc[0.0]:.3f} vs Bayes accuracy of exact samples {bayes:.3f}")


# ---- the checks ---------------------------------------------------------------------------------
CHECKS = [
    ClauseChecks(
        clause=COMBINE,
        cases=_combine_cases(),
        convention_cases=lambda conv: _combine_cases(conv["form"]),
        proofs=(Proof("the three forms are one function under s = 1 + w", _forms_equal),
                Proof("guidance off at w = 0 (s = 1), unconditional at w = −1 (s = 0)", _special_weights),
                Proof("the weights of v_y and v_∅ sum to one in every form", _weights_sum_to_one),
                Proof("03's 'w=7.5' (scale form) is w = 6.5 in the default form",
                      lambda: sp.expand(SYMBOLIC_FORMS["scale"].subs(s_, sp.Rational(15, 2))
                                        - SYMBOLIC_FORMS["one_plus_w"].subs(w_, sp.Rational(13, 2))))),
        symbolic=lambda v_y, v_null, w: sp.lambdify((vy, vn, w_), SYMBOLIC_FORMS["one_plus_w"])(v_y, v_null, w),
        compare=_combination_compare(("v_y", "v_null"), "v_cfg"),
        properties=(Property("guidance-off weight gives v_y", _combine_off, cases=_fixed_combine_inputs()),
                    Property("unconditional weight gives v_∅", _combine_unconditional, cases=_fixed_combine_inputs()),
                    Property("weights sum to one: combine(c, c, w) = c", _combine_affine)),
        example=lambda: {"v_y": np.array([[1.0, 0.0]]), "v_null": np.array([[0.0, 1.0]]), "w": 3.0},
    ),
    ClauseChecks(
        clause=SCORE,
        cases=_score_cases(),
        convention_cases=lambda conv: _score_cases(conv["form"]),
        proofs=(Proof("Bayes: (1+w)∇log p(x|y) − w∇log p(x) = ∇log p(x) + (1+w)∇log p(y|x)", _score_bayes),
                Proof("rf via Tweedie: v = −(x_t + t ∇log p_t(x_t))/(1 − t) (affine, not proportional)",
                      _rf_velocity_from_score),
                Proof("so (1+w) v_y − w v_∅ = −(x_t + t s_cfg)/(1 − t)", _velocity_guidance_is_score_guidance)),
        symbolic=lambda score_null, grad_log_p_y, w: sp.lambdify(
            (sp.Symbol("s"), sp.Symbol("g"), w_),
            sp.Symbol("s") + (1 + w_) * sp.Symbol("g"))(score_null, grad_log_p_y, w),
        compare=_combination_compare(("score_null", "grad_log_p_y"), "s_cfg"),
        properties=(Property("implicit classifier: finite-difference ∇log p(y|x_t) with the oracles",
                             _score_implicit_classifier, cases=_oracle_score_cases()),
                    Property("rf: v_cfg = −(x_t + t s_cfg)/(1 − t)", _score_velocity_relation,
                             cases=_oracle_score_cases())),
        max_examples=15,
        example=lambda: {"score_null": np.array([[-1.0, 0.0]]), "grad_log_p_y": np.array([[0.5, 0.5]]), "w": 3.0},
    ),
    ClauseChecks(
        clause=CHANGE,
        cases=_change_cases(),
        convention_cases=lambda conv: _change_cases(conv["form"]),
        proofs=(Proof("an affine conversion g(p) = M-based map commutes with (1+w) p_y − w p_∅", _affine_commutes),
                Proof("with weights α + β ≠ 1 the defect is (α + β − 1) k x_t", _defect_if_weights_do_not_sum_to_one)),
        properties=(Property("guide in target A then convert = convert then guide in target B (all pairs)",
                             _commutes, cases=_commute_cases()),),
        max_examples=10,
        example=lambda: {"x_t": np.array([[0.5]]), "y": np.array([0]), "t": 0.5, "w": 3.0,
                         "weights": np.array([0.5, 0.5]), "means": np.array([[-2.0], [2.0]]),
                         "covs": np.array([[[0.25]], [[0.25]]]), "labels": np.array([0, 1]), "target": "epsilon"},
    ),
    ClauseChecks(
        clause=DROPOUT,
        cases=with_edges(_dropout_cases(), u=DROPOUT_U_EDGES, p=P_EDGES),
        proofs=(Proof("Pr[u < p] = p for u ~ U[0, 1) (sympy.stats)", _uniform_below_p),),
        properties=(Property("empirical drop rate ≈ p (binomtest, n = 20 000)", _dropout_rate, cases=_RATE_CASES),),
        example=lambda: {"y": np.array([0, 1, 2, 1]), "u": np.array([0.05, 0.5, 0.09, 0.95]), "num_classes": 3,
                         "p": 0.1},
    ),
    ClauseChecks(
        clause=COST,
        cases=_cost_cases(),
        reference=numpy_side(R.guided_velocity),
        convention_cases=lambda conv: _cost_cases(conv["form"]),
        properties=(Property("2B network rows per guided evaluation (one call of 2B or two of B)",
                             _count_rows(COST, lambda inp: 1)),
                    Property("guidance-off weight gives f(x_t, y, t)", _cost_off, cases=_fixed_cost_inputs())),
        max_examples=15,
        example=lambda: {"f": linear_field(0, 2, 2), "x_t": np.array([[1.0, 0.0]]), "y": np.array([1]),
                         "t": 0.5, "w": 3.0, "num_classes": 2},
    ),
    ClauseChecks(
        clause=EULER,
        cases=_euler_cases(),
        reference=numpy_side(R.guided_euler_sample),
        convention_cases=lambda conv: _euler_cases(conv["form"]),
        properties=(Property("2T·B network rows, between T and 2T calls", _count_rows(EULER, lambda inp: inp["T"])),
                    Property("w off = conditional Euler sample; unconditional weight = unconditional sample",
                             _euler_endpoints, cases=_euler_cases().map(_without_w))),
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

__all__ = ["CHECKS", "concentration_table", "concentration_mixture", "concentration_noise", "accuracy", "in_form"]
