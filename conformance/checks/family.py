"""Conformance checks of the affine family (family.*): the a/b/c/d table, schedules, targets, recover, convert."""
from __future__ import annotations

import functools

import numpy as np
import sympy as sp
from hypothesis import strategies as st

from genspec import spec
from genspec.reference import family as R
from genspec.spec import family as SF
from genspec.spec.schema import Tolerance

from ..harness.arrays import T_EDGES, draw_edges, gaussian, uniform, with_edges
from ..harness.declare import ClauseChecks, Proof, Property
from ..harness.inputs import boundary_conditions, boundary_points, derived, inputs, near_singular, singular_sweep

PATH_SCHEDULES = tuple((p, s) for p in SF.PATHS for s in SF.SCHEDULES[p])
TARGETS = SF.TARGETS
EPS = {"float64": 2.0**-52, "float32": 2.0**-23, "bfloat16": 2.0**-8}
MARGIN = 0.01          # convert/recover cases draw t this far from the ends, and some entries near the singular t

# ---- the textbook table in sympy (independent of the reference's cancellation-free forms) -----------------
t, s_, bmin, bmax, smin, smax, phi = sp.symbols("t s beta_min beta_max sigma_min sigma_max phi", positive=True)
xs, zs, xts, ys = sp.symbols("x z x_t y", real=True)
A, B, C, Dd = sp.symbols("a b c d", real=True)
_ab_lin = sp.exp(-sp.Rational(1, 2) * t**2 * (bmax - bmin) - t * bmin)
_ab_cos = sp.cos(sp.pi / 2 * (t + s_) / (1 + s_)) ** 2 / sp.cos(sp.pi / 2 * s_ / (1 + s_)) ** 2
_ab_trig = sp.cos(sp.pi / 2 * t) ** 2
_AB = {"linear": _ab_lin, "cosine": _ab_cos, "trig": _ab_trig}
_LOG_SNR_OFFSET = sp.Rational(1, 10000)          # denoising-diffusion-pytorch's 1e-4 (spec.family.LOG_SNR_OFFSET)
_u = sp.Symbol("u", positive=True)
_sigmoid = lambda x: 1 / (1 + sp.exp(-x))
_LOG_SNR = {"beta_linear_log_snr": -sp.log(sp.exp(_LOG_SNR_OFFSET + 10 * t**2) - 1),          # the library's lines
            "alpha_cosine_log_snr": -sp.log(sp.cos((t + s_) / (1 + s_) * sp.pi / 2) ** -2 - 1)}
_AB_VARIANT = {("linear", "beta_linear_log_snr"): sp.exp(-_LOG_SNR_OFFSET - 10 * t**2),
               ("cosine", "alpha_cosine_log_snr"): sp.cos(sp.pi / 2 * (t + s_) / (1 + s_)) ** 2}
"""ᾱ(t) of each family.vp_schedule variant, keyed (schedule, variant), as its statement writes it."""


def _vp_expr(schedule, conv):
    """ᾱ(t) of ``schedule`` in the declared variants (family.vp_schedule's linear_form and cosine_form)."""
    key = (schedule, conv.get(f"{schedule}_form"))
    return _AB_VARIANT.get(key, _AB[schedule])


def _proof_log_snr_forms():
    """Each log-SNR variant: sigmoid of the library's log SNR is the variant's ᾱ (σ(−log(e^u − 1)) = e^{−u}), and its
    mapping to the default: beta_linear_log_snr is the linear form at β_min = 0, β_max = 20 times e^{−10⁻⁴};
    alpha_cosine_log_snr is the normalised cosine times f(0) = cos²(π/2·s/(1+s))."""
    lin, cos = _AB_VARIANT[("linear", "beta_linear_log_snr")], _AB_VARIANT[("cosine", "alpha_cosine_log_snr")]
    return [sp.simplify(_sigmoid(-sp.log(sp.exp(_u) - 1)) - sp.exp(-_u)),
            sp.simplify(_sigmoid(_LOG_SNR["beta_linear_log_snr"]) - lin),
            sp.simplify(sp.expand_trig(_sigmoid(_LOG_SNR["alpha_cosine_log_snr"]) - cos)),
            sp.simplify(_ab_lin.subs({bmin: 0, bmax: 20}) * sp.exp(-_LOG_SNR_OFFSET) - lin),
            sp.simplify(_ab_cos * sp.cos(sp.pi / 2 * s_ / (1 + s_)) ** 2 - cos)]
_PARAMS = {bmin: SF.VP_BETA_MIN, bmax: SF.VP_BETA_MAX, s_: SF.COSINE_S, smin: SF.VE_SIGMA_MIN, smax: SF.VE_SIGMA_MAX}


def _path_expr(path, schedule):
    if path == "rf":
        return 1 - t, t
    if path == "ve":
        return sp.Integer(1), smin * (smax / smin) ** t
    if schedule == "trig":                                   # flow_matching's CosineScheduler, t reversed
        return sp.cos(sp.pi / 2 * t), sp.sin(sp.pi / 2 * t)
    ab = _AB[schedule]
    return sp.sqrt(ab), sp.sqrt(1 - ab)


def _target_expr(target, a, b):
    return {"velocity": (sp.diff(a, t), sp.diff(b, t)), "epsilon": (sp.Integer(0), sp.Integer(1)),
            "x": (sp.Integer(1), sp.Integer(0)), "v": (-b, a), "score": (sp.Integer(0), -1 / b)}[target]


_LAMBDA: dict = {}


def _table_fn(path, schedule, target):
    key = (path, schedule, target)
    if key not in _LAMBDA:
        a, b = _path_expr(path, schedule)
        c, d = _target_expr(target, a, b)
        _LAMBDA[key] = sp.lambdify(t, [e.subs(_PARAMS) for e in (a, b, c, d)], "numpy")
    return _LAMBDA[key]


def _symbolic_coefficients(t, path, target, schedule):
    out = _table_fn(path, schedule, target)(t)
    return tuple(np.broadcast_to(np.asarray(v, dtype=float), np.shape(t)).copy() for v in out)


def _proof_cosine_forms():
    """The reference's forms, with θ = k(t + s), θ0 = k s, k = π/(2(1+s)) (so θ = π/2 (t+s)/(1+s)):
    cos θ = sin(π/2 − θ) = sin(k(1 − t)), and cos²θ0 − cos²θ = sin(θ + θ0) sin(θ − θ0), θ ± θ0 = k(t + 2s), k t."""
    th, th0 = sp.symbols("theta theta_0", positive=True)
    k = sp.pi / (2 * (1 + s_))
    return [sp.simplify(k * (t + s_) - sp.pi / 2 * (t + s_) / (1 + s_)),        # θ is Nichol & Dhariwal's angle
            sp.simplify(k * (1 - t) - (sp.pi / 2 - k * (t + s_))),              # k(1 − t) = π/2 − θ
            sp.sin(sp.pi / 2 - th) - sp.cos(th),                                 # so sin(k(1 − t)) = cos θ
            sp.expand_trig(sp.cos(th0) ** 2 - sp.cos(th) ** 2 - sp.sin(th + th0) * sp.sin(th - th0)),
            sp.simplify((k * (t + s_) + k * s_) - k * (t + 2 * s_)), sp.simplify((k * (t + s_) - k * s_) - k * t)]


def _proof_vp_derivative():
    """a² + b² = 1 ⇒ b' = −a a'/b (the reference's velocity coefficient on vp)."""
    ab = sp.Function("alphabar")(t)
    a, b = sp.sqrt(ab), sp.sqrt(1 - ab)
    return [sp.simplify(a**2 + b**2 - 1), sp.simplify(sp.diff(b, t) + a * sp.diff(a, t) / b)]


def _det(target, a, b):
    c, d = _target_expr(target, a, b) if target != "velocity" else (sp.Symbol("da"), sp.Symbol("db"))
    return sp.simplify(a * d - b * c)


def _proof_dets():
    a, b = sp.symbols("a b", positive=True)
    return [_det("epsilon", a, b) - a, _det("x", a, b) + b, _det("v", a, b) - (a**2 + b**2),
            _det("score", a, b) + a / b]


def _proof_inverse():
    M = sp.Matrix([[A, B], [C, Dd]])
    inv = sp.Matrix([[Dd, -B], [-C, A]]) / (A * Dd - B * C)
    return (M.inv() - inv).applyfunc(sp.simplify)


def _proof_round_trip():
    """row_A M_B⁻¹ (x_t, row_B M_A⁻¹ (x_t, y)) = y for symbolic rows (a, b shared, det_A det_B ≠ 0)."""
    cA, dA, cB, dB = sp.symbols("c_A d_A c_B d_B", real=True)
    MA, MB = sp.Matrix([[A, B], [cA, dA]]), sp.Matrix([[A, B], [cB, dB]])
    yB = (sp.Matrix([[cB, dB]]) * MA.inv() * sp.Matrix([xts, ys]))[0]
    back = (sp.Matrix([[cA, dA]]) * MB.inv() * sp.Matrix([xts, yB]))[0]
    return sp.simplify(back - ys)


def _proof_folded():
    """The accelerated form y_B = p x_t + q y, p = (c_B d_A − d_B c_A)/det_A, q = (d_B a − c_B b)/det_A."""
    cA, dA, cB, dB = sp.symbols("c_A d_A c_B d_B", real=True)
    MA = sp.Matrix([[A, B], [cA, dA]])
    row = sp.Matrix([[cB, dB]]) * MA.inv()
    det = A * dA - B * cA
    return [sp.simplify(row[0] - (cB * dA - dB * cA) / det), sp.simplify(row[1] - (dB * A - cB * B) / det)]


def _proof_velocity_dets():
    """velocity: det = a b' − b a' is 1 on rf, −a'/b on vp (a² + b² = 1), σ' > 0 on ve."""
    out = []
    a, b = _path_expr("rf", "none")
    out.append(sp.simplify(a * sp.diff(b, t) - b * sp.diff(a, t) - 1))
    ab = sp.Function("alphabar")(t)
    a, b = sp.sqrt(ab), sp.sqrt(1 - ab)
    out.append(sp.simplify(a * sp.diff(b, t) - b * sp.diff(a, t) + sp.diff(a, t) / b))
    a, b = _path_expr("ve", "geometric")
    out.append(sp.simplify(a * sp.diff(b, t) - b * sp.diff(a, t) - b * sp.log(smax / smin)))
    return out


def _proof_singular_points():
    """a(1) = 0 on rf, vp-cosine and vp-trig; b(0) = 0 on rf and vp; a(1) > 0 on vp-linear; b(0) = σ_min on ve."""
    return [(1 - t).subs(t, 1), sp.simplify(_ab_cos.subs(t, 1)), t.subs(t, 0), sp.simplify((1 - _ab_lin).subs(t, 0)),
            sp.simplify((1 - _ab_cos).subs(t, 0)), _ab_trig.subs(t, 1), sp.simplify((1 - _ab_trig).subs(t, 0)),
            sp.Eq(sp.simplify(_ab_lin.subs(t, 1).subs(_PARAMS) > 0), True),
            sp.simplify(_path_expr("ve", "geometric")[1].subs(t, 0) - smin)]


def _proof_v_is_angular_velocity():
    """On the trigonometric vp path a = cos φ, b = sin φ, v-prediction (−b, a) is d x_t/dφ; on rf it is not dx_t/dt."""
    xt = sp.cos(phi) * xs + sp.sin(phi) * zs
    on_trig = sp.simplify(sp.diff(xt, phi) - (-sp.sin(phi) * xs + sp.cos(phi) * zs))
    a, b = _path_expr("rf", "none")
    differs_on_rf = sp.simplify((-b - sp.diff(a, t)) - (1 - t)) == 0   # −t − (−1) = 1 − t ≠ 0
    return [on_trig, differs_on_rf]


def _proof_trig():
    """vp-trig: the cosine schedule at s = 0; cosine = trig on τ = (t + s)/(1 + s), renormalised by ᾱ_trig(τ(0));
    a² + b² = 1; velocity = (π/2) v-prediction (φ = πt/2); det of velocity = π/2 (never singular, b'(0) = π/2)."""
    a, b = _path_expr("vp", "trig")
    tau = lambda u: (u + s_) / (1 + s_)
    return [sp.simplify(_ab_cos.subs(s_, 0) - _ab_trig),
            sp.simplify(_ab_cos - _ab_trig.subs(t, tau(t)) / _ab_trig.subs(t, tau(0))),
            sp.simplify(a**2 + b**2 - 1),
            [sp.simplify(sp.diff(a, t) - sp.pi / 2 * (-b)), sp.simplify(sp.diff(b, t) - sp.pi / 2 * a)],
            sp.simplify(a * sp.diff(b, t) - b * sp.diff(a, t) - sp.pi / 2), sp.diff(b, t).subs(t, 0) - sp.pi / 2]


# ---- singular points, stated independently of the reference --------------------------------------------
def _infinite(path, schedule, target, tt):
    """Where the coefficients are infinite: at t = 0, and (edges) where 1/b(t)² ~ 1/t² overflows float32 and
    bfloat16 (t < 1e-18, as t = 1e-40 or a float64 subnormal): the target is singular there in its dtype."""
    tt = np.asarray(tt)
    zero = np.abs(tt) < 1e-18
    vp_sqrt = (path == "vp") & (schedule != "trig")                # b ~ √t: b'(0) = ∞ (trig: b ~ πt/2)
    return ((target == "velocity") & vp_sqrt & zero) | ((target == "score") & (path in ("rf", "vp")) & zero)


def _det_zero(path, schedule, target, tt):
    tt = np.asarray(tt)
    a0 = ((path == "rf") | ((path == "vp") & (schedule in ("cosine", "trig")))) & (tt == 1)
    b0 = (path in ("rf", "vp")) & (tt == 0)
    return {"epsilon": a0, "score": a0, "x": b0}.get(target, np.zeros_like(tt, dtype=bool))


SINGULAR = [  # (path, schedule, target, t): every point where det = 0 or a coefficient is infinite (spec data)
    (p, s, g, tt) for p, s in PATH_SCHEDULES for g in TARGETS
    for tt in boundary_points("family.recover", "t", {"path": p, "schedule": s, "target": g})]


# ---- strategies ---------------------------------------------------------------------------------
@st.composite
def _times(draw, n, low=0.0, high=1.0, ends=True):
    tt = draw(uniform((n,), low, high))
    if ends:
        k = draw(st.integers(0, n))
        tt[:k] = draw(st.lists(st.sampled_from([0.0, 1.0]), min_size=k, max_size=k))
        tt = draw_edges(draw, tt, T_EDGES)                  # t within 1e-9..1e-3 of 0 and 1 (conformance/arrays)
    return tt


@st.composite
def _coef_cases(draw):
    path, schedule = draw(st.sampled_from(PATH_SCHEDULES))
    target = draw(st.sampled_from(TARGETS))
    tt = draw(_times(draw(st.integers(1, 6))))
    tt[_infinite(path, schedule, target, tt)] = 0.5
    return {"t": tt, "path": path, "target": target, "schedule": schedule}


@st.composite
def _symbolic_coef_cases(draw):
    path, schedule = draw(st.sampled_from(PATH_SCHEDULES))
    return {"t": draw(uniform((draw(st.integers(1, 6)),), 0.02, 1.0)), "path": path,
            "target": draw(st.sampled_from(TARGETS)), "schedule": schedule}


def _batch(v):
    """The first array of a case: (n, ...) with a drawn trailing shape ((), (3,) or (2, 2))."""
    return st.sampled_from([(), (3,), (2, 2)]).flatmap(lambda tail: gaussian((v["n"], *tail)))


def _xz_cases(clause, *arrays):
    """The clause's inputs generated from its symbols (t a number or one per sample in [0, 1], T_EDGES one draw in
    three; a path, one of its schedules, a target), the arrays `arrays` of one drawn shape (n, ...); where a
    target's coefficients are infinite (t = 0), t is moved to 1/2."""
    first, *rest = arrays
    like_first = derived(lambda v: gaussian(v[first].shape))

    def finite(case):
        if "target" not in case:
            return case
        t_ = np.asarray(case["t"])
        bad = _infinite(case["path"], case["schedule"], case["target"], t_)
        return {**case, "t": np.where(bad, 0.5, t_) if t_.ndim else (0.5 if bad else case["t"])}

    return inputs(clause, **{first: derived(_batch)}, **{k: like_first for k in rest},
                  schedule=derived(lambda v: st.sampled_from(SF.SCHEDULES[v["path"]]))).map(finite)


@st.composite
def _inverse_cases(draw, convert=False):
    """t in [MARGIN, 1 − MARGIN], and (one draw in three, where the path, schedule and target have one) some entries
    near a singular t the clause declares (spec/family.py boundaries): relative distances 1e-15..1e-3 and a few ulps
    of the run's dtype, never on it (harness/inputs.py near_singular)."""
    clause = "family.convert" if convert else "family.recover"
    near = draw(st.integers(0, 2)) == 0
    cond = draw(st.sampled_from(boundary_conditions(clause, "t"))) if near else {}   # parameters that have one
    pick = lambda name, among: draw(st.sampled_from([v for v in among if v in cond.get(name, among)]))  # noqa: E731
    path = pick("path", SF.PATHS)
    schedule = pick("schedule", SF.SCHEDULES[path])
    n = draw(st.integers(1, 4))
    shape = draw(st.sampled_from([(n,), (n, 3), (n, 2, 2)]))
    out = {"x_t": draw(gaussian(shape)), "y": draw(gaussian(shape))}
    for name in ("from_target", "to_target") if convert else ("target",):
        out[name] = pick(name, TARGETS)
    out.update(path=path, schedule=schedule)
    out["t"] = draw(uniform((n,), MARGIN, 1 - MARGIN))
    if near:
        out["t"] = near_singular(draw, clause, "t", out["t"], out, every=1, low=0.0, high=1.0)
    return {k: out[k] for k in ("x_t", "y", "t", *(("from_target", "to_target") if convert else ("target",)),
                                "path", "schedule")}


# ---- conditioning-scaled comparison -------------------------------------------------------------
def _per_sample(v, like):
    return np.asarray(v).reshape(np.shape(v) + (1,) * (like.ndim - np.ndim(v)))


def _kappa_rows(tt, path, schedule, target):
    a, b, c, d = R.coefficients(tt, path, target, schedule)
    M = np.stack([np.stack([a, b], -1), np.stack([c, d], -1)], -2)
    return np.linalg.cond(M), np.hypot(c, d)


def _magnitude(*arrays):
    """max |·| per sample over the given arrays (batch first)."""
    return np.max(np.stack([np.abs(a).reshape(a.shape[0], -1).max(axis=1) for a in arrays]), axis=0)


def _assert_scaled(ctx, clause, got, expected, scale, what, tol=None):
    """|got − expected| ≤ atol·scale + rtol·|expected|: the clause's atol is per unit of the conditioning scale."""
    tol = tol or ctx.tolerance(clause)
    ctx.assert_close(clause, got / scale, expected / scale, what=what + " / conditioning scale", tol=tol)


def _recover_compare(ctx, got, expected, inputs):
    tt = inputs["t"]
    kappa, _ = _kappa_rows(tt, inputs["path"], inputs["schedule"], inputs["target"])
    scale = kappa * _magnitude(inputs["x_t"], inputs["y"], *expected)
    for g, e, w in zip(got, expected, ("x̂", "ẑ"), strict=True):
        _assert_scaled(ctx, "family.recover", g, e, _per_sample(scale, e), w)


def _convert_scale(inputs, x_hat, z_hat):
    tt, p, s = inputs["t"], inputs["path"], inputs["schedule"]
    kappa, _ = _kappa_rows(tt, p, s, inputs["from_target"])
    _, row = _kappa_rows(tt, p, s, inputs["to_target"])
    return kappa * (1 + row) * _magnitude(inputs["x_t"], inputs["y"], x_hat, z_hat)


def _convert_compare(ctx, got, expected, inputs):
    x_hat, z_hat = R.recover(inputs["x_t"], inputs["y"], inputs["t"], inputs["path"], inputs["from_target"],
                             inputs["schedule"])
    _assert_scaled(ctx, "family.convert", got, expected, _per_sample(_convert_scale(inputs, x_hat, z_hat), got), "y_to")


# ---- properties ---------------------------------------------------------------------------------
def _vp_preserves_variance(ctx, fn, inp):
    """vp: a(t)² + b(t)² = 1 on [0, 1] for every schedule (the √ of √ᾱ, √(1 − ᾱ))."""
    tt = np.linspace(0.0, 1.0, 11)
    for sched in SF.SCHEDULES["vp"]:
        a, b, _, _ = fn(t=tt, path="vp", target="epsilon", schedule=sched)
        ctx.assert_close("family.affine", a * a + b * b, np.ones_like(tt), what=f"a² + b² on vp-{sched}")


def _table_rows(ctx, fn, inp):
    """03's table: rf (1 − t, t, −1, 1); ve a = 1; x (1, 0); ε (0, 1); v (−b, a); score (0, −1/b)."""
    tt = ctx.round({"t": np.linspace(0.1, 0.9, 9)})["t"]          # the grid as the target sees it
    ctx.assert_close("family.affine", np.stack(fn(t=tt, path="rf", target="velocity", schedule="none")),
                     np.stack([1 - tt, tt, -np.ones_like(tt), np.ones_like(tt)]), what="rectified-flow row")
    a, b, _, _ = fn(t=tt, path="ve", target="epsilon", schedule="geometric")
    ctx.assert_close("family.affine", a, np.ones_like(tt), what="ve: a = 1")
    for path, sched in PATH_SCHEDULES:
        a, b, _, _ = fn(t=tt, path=path, target="epsilon", schedule=sched)
        for target, want in (("x", (np.ones_like(tt), np.zeros_like(tt))),
                             ("epsilon", (np.zeros_like(tt), np.ones_like(tt))),
                             ("v", (-b, a)), ("score", (np.zeros_like(tt), -1.0 / b))):
            _, _, c, d = fn(t=tt, path=path, target=target, schedule=sched)
            ctx.assert_close("family.affine", np.stack([c, d]), np.stack(want), what=f"{target} row on {path}-{sched}")


def _velocity_is_derivative(ctx, fn, inp):
    """velocity (c, d) = (a', b'): central differences of the target's own a, b (float64 only: h = 1e-6)."""
    if ctx.dtype != "float64":
        return
    tt, h = np.linspace(0.02, 0.98, 7), 1e-6
    for path, sched in PATH_SCHEDULES:
        ap, bp, _, _ = fn(t=tt + h, path=path, target="epsilon", schedule=sched)
        am, bm, _, _ = fn(t=tt - h, path=path, target="epsilon", schedule=sched)
        _, _, c, d = fn(t=tt, path=path, target="velocity", schedule=sched)
        ctx.assert_close("family.affine", np.stack([c, d]), np.stack([(ap - am) / (2 * h), (bp - bm) / (2 * h)]),
                         what=f"(a', b') on {path}-{sched} vs central differences",
                         tol=Tolerance(rtol=1e-6, atol=1e-6))


def _affine_singular(ctx, fn, inp):
    for path, sched, target, tt in SINGULAR:
        if _infinite(path, sched, target, tt):
            ctx.require_raises("family.affine",
                    functools.partial(fn, t=np.array([0.5, tt]), path=path, target=target, schedule=sched),
                    f"{target} on {path}-{sched} at t = {tt}")


def _vp_schedule_shape(ctx, fn, inp):
    """ᾱ(0) = 1 (in a declared log-SNR variant: its own ᾱ(0), from its sympy form), decreasing, cosine and trig
    ᾱ(1) = 0."""
    tt = np.linspace(0.0, 1.0, 101)
    conv = ctx.conventions("family.vp_schedule")
    for sched in SF.SCHEDULES["vp"]:
        ab = fn(t=tt, schedule=sched)
        start = float(_vp_expr(sched, conv).subs(_PARAMS).subs(t, 0))
        ctx.assert_close("family.vp_schedule", ab[0], start, what=f"ᾱ(0) on {sched}")
        ok = np.all(np.diff(ab) < 0) if ctx.dtype == "float64" else np.all(np.diff(ab) <= 0)
        ctx.require("family.vp_schedule", bool(ok), f"ᾱ must decrease on {sched}")
    for sched in ("cosine", "trig"):
        ctx.assert_close("family.vp_schedule", fn(t=np.array([1.0]), schedule=sched), np.zeros(1),
                         what=f"{sched} ᾱ(1)", tol=Tolerance(rtol=0.0, atol=1e-12 if ctx.dtype == "float64" else 1e-6))


def _vp_variant_closed_form(ctx, fn, inp):
    """ᾱ(t) on a grid of t (as the target sees it) against the declared variant's expression lambdified from sympy (the
    default's for a default variant): independent of the reference's cancellation-free forms."""
    conv = ctx.conventions("family.vp_schedule")
    tt = ctx.round({"t": np.linspace(0.0, 1.0, 41)})["t"]
    for sched in SF.SCHEDULES["vp"]:
        want = sp.lambdify(t, _vp_expr(sched, conv).subs(_PARAMS), "numpy")(tt) + 0 * tt
        ctx.assert_close("family.vp_schedule", fn(t=tt, schedule=sched), want, what=f"ᾱ on {sched} "
                         f"({conv.get(f'{sched}_form', 'default')})")


def _trig_velocity_is_scaled_v(ctx, fn, inp):
    """On vp-trig, ᾱ = cos²(πt/2) from the target, and velocity = (π/2)·v-prediction, i.e. (a', b') = (π/2)(−b, a)
    with a = √ᾱ, b = √(1 − ᾱ) of the target's ᾱ (central differences, float64)."""
    tt = ctx.round({"t": np.linspace(0.05, 0.95, 7)})["t"]       # the grid as the target sees it
    ab = fn(t=tt, schedule="trig")
    ctx.assert_close("family.vp_schedule", ab, np.cos(np.pi / 2 * tt) ** 2, what="trig ᾱ = cos²(πt/2)")
    if ctx.dtype != "float64":
        return
    h = 1e-6
    a = lambda u: np.sqrt(fn(t=u, schedule="trig"))
    da = (a(tt + h) - a(tt - h)) / (2 * h)
    ctx.assert_close("family.vp_schedule", da, np.pi / 2 * -np.sqrt(1 - ab), what="a' vs (π/2)(−b) on trig",
                     tol=Tolerance(rtol=1e-6, atol=1e-6))


def _ve_endpoints(ctx, fn, inp):
    ctx.assert_close("family.ve_schedule", fn(t=np.array([0.0, 1.0])), np.array([SF.VE_SIGMA_MIN, SF.VE_SIGMA_MAX]),
                     what="σ(0), σ(1)")
    tt = inp["t"]
    mid = fn(t=np.full_like(tt, 0.5))
    ctx.assert_close("family.ve_schedule", mid * mid, np.full_like(tt, SF.VE_SIGMA_MIN * SF.VE_SIGMA_MAX),
                     what="σ(1/2)² = σ_min σ_max (geometric)")


def _interp_endpoints(ctx, fn, inp):
    """x_0 = x on rf and vp; x_1 = z on rf, vp-cosine and vp-trig."""
    n = inp["x"].shape[0]
    for path, sched in (("rf", "none"), ("vp", "linear"), ("vp", "cosine"), ("vp", "trig")):
        ctx.assert_close("family.interpolate", fn(x=inp["x"], z=inp["z"], t=np.zeros(n), path=path, schedule=sched),
                         inp["x"], what=f"x_0 on {path}-{sched}")
    for path, sched in (("rf", "none"), ("vp", "cosine"), ("vp", "trig")):
        ctx.assert_close("family.interpolate", fn(x=inp["x"], z=inp["z"], t=np.ones(n), path=path, schedule=sched),
                         inp["z"], what=f"x_1 on {path}-{sched}")


def _target_rows(ctx, fn, inp):
    """rf velocity = z − x (rf.velocity); epsilon = z; x = x; v on vp = a z − b x."""
    x, z, tt = inp["x"], inp["z"], np.clip(inp["t"], 0.05, 1.0)
    tol = ctx.tolerance("family.target")
    loose = Tolerance(rtol=tol.rtol, atol=tol.atol + tol.rtol * float(np.max(np.abs(x) + np.abs(z))))
    ctx.assert_close("family.target", fn(x=x, z=z, t=tt, path="rf", target="velocity", schedule="none"), z - x,
                     what="rf velocity = z − x", tol=loose)
    for path, sched in PATH_SCHEDULES:
        ctx.assert_close("family.target", fn(x=x, z=z, t=tt, path=path, target="epsilon", schedule=sched), z,
                         what=f"epsilon on {path}")
        ctx.assert_close("family.target", fn(x=x, z=z, t=tt, path=path, target="x", schedule=sched), x,
                         what=f"x on {path}")


def _loss_zero(ctx, fn, inp):
    """L(f = y) = 0 (y from the reference, rounded as the target sees it)."""
    args = {k: inp[k] for k in ("x", "z", "t", "path", "target", "schedule")}
    f = ctx.round({"f": R.affine_target(**args)})["f"]
    y = R.affine_target(**args)
    r = ((f - y) ** 2).reshape(f.shape[0], -1).sum(axis=1).mean()
    tol = ctx.tolerance("family.loss")
    ctx.assert_close("family.loss", fn(f=f, **args), r, what="L at f = y",
                     tol=Tolerance(rtol=tol.rtol, atol=tol.atol + 64 * EPS[ctx.dtype] ** 2 * float(np.sum(y * y))))


def _recover_ground_truth(ctx, fn, inp):
    """recover(x_t(x, z), y(x, z)) = (x, z)."""
    x, z = inp["x_t"], inp["y"]                                  # reuse the drawn arrays as (x, z)
    args = dict(t=inp["t"], path=inp["path"], schedule=inp["schedule"])
    r = ctx.round({"x_t": R.affine_interpolate(x, z, **args), "y": R.affine_target(x, z, target=inp["target"], **args)})
    got = fn(x_t=r["x_t"], y=r["y"], target=inp["target"], **args)
    kappa, _ = _kappa_rows(inp["t"], inp["path"], inp["schedule"], inp["target"])
    scale = _per_sample(16 * EPS[ctx.dtype] * kappa * _magnitude(r["x_t"], r["y"], x, z), x)
    for g, e, w in zip(got, (x, z), ("x", "z"), strict=True):
        ctx.assert_close("family.recover", g / scale, e / scale, what=f"{w} recovered / (16 eps κ |·|)",
                         tol=Tolerance(rtol=0.0, atol=1.0))


def _recover_singular(ctx, fn, inp):
    for path, sched, target, tt in SINGULAR:
        ctx.require_raises("family.recover", functools.partial(fn, x_t=np.ones((2, 2)), y=np.ones((2, 2)),
                                                          t=np.array([0.5, tt]), path=path, target=target,
                                                          schedule=sched),
                f"{target} on {path}-{sched} at t = {tt}")


def _convert_ground_truth(ctx, fn, inp):
    """convert(x_t(x, z), y_A(x, z), A → B) = y_B(x, z): catches any swapped row of the table."""
    x, z = inp["x_t"], inp["y"]
    args = dict(t=inp["t"], path=inp["path"], schedule=inp["schedule"])
    A_, B_ = inp["from_target"], inp["to_target"]
    r = ctx.round({"x_t": R.affine_interpolate(x, z, **args), "y": R.affine_target(x, z, target=A_, **args)})
    got = fn(x_t=r["x_t"], y=r["y"], from_target=A_, to_target=B_, **args)
    want = R.affine_target(x, z, target=B_, **args)
    scale = 16 * EPS[ctx.dtype] * _convert_scale({**inp, **r}, x, z)
    ctx.assert_close("family.convert", got / _per_sample(scale, got), want / _per_sample(scale, got),
                     what=f"{A_} → {B_} vs y_{B_}(x, z), / (16 eps κ (1 + |row|) |·|)",
                     tol=Tolerance(rtol=0.0, atol=1.0))


ROUND_TRIP_RATIOS: list[float] = []   # |error| / bound of every round trip checked (tests report the max)


def _convert_round_trip(ctx, fn, inp):
    """A → B → A is the identity: |error| ≤ 16 eps κ(M_A) κ(M_B) (1 + |row_A|)(1 + |row_B|) max(|x_t|, |y|)."""
    A_, B_ = inp["from_target"], inp["to_target"]
    args = dict(x_t=inp["x_t"], t=inp["t"], path=inp["path"], schedule=inp["schedule"])
    there = fn(y=inp["y"], from_target=A_, to_target=B_, **args)
    back = fn(y=there, from_target=B_, to_target=A_, **args)
    kA, rA = _kappa_rows(inp["t"], inp["path"], inp["schedule"], A_)
    kB, rB = _kappa_rows(inp["t"], inp["path"], inp["schedule"], B_)
    bound = _per_sample(16 * EPS[ctx.dtype] * kA * kB * (1 + rA) * (1 + rB) * _magnitude(inp["x_t"], inp["y"]), back)
    ROUND_TRIP_RATIOS.append(float(np.max(np.abs(back - inp["y"]) / bound)))
    ctx.assert_close("family.convert", back / bound, inp["y"] / bound, what=f"{A_} → {B_} → {A_} / bound",
                     tol=Tolerance(rtol=0.0, atol=1.0))


def _sweep_arrays(n, seed):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, 2)), rng.standard_normal((n, 2))


def _near_singular_sweep(ctx, fn, inp, convert=False):
    """At every declared singular t of every (path, schedule, target): t at relative distances 1e-15..1e-3 and a few
    ulps of the run's dtype on the inside (harness/inputs.py singular_sweep), the value as the reference's within
    the conditioning-scaled tolerance (a divisor clamped away from 0, or b = √(1 − a²) cancelling, fails here)."""
    clause = "family.convert" if convert else "family.recover"
    names = ("from_target", "to_target") if convert else ("target",)
    combos = [dict(zip(("path", "schedule", *names), (p, s, *g), strict=True)) for p, s in PATH_SCHEDULES
              for g in (((a, b) for a in TARGETS for b in TARGETS if a != b) if convert else ((a,) for a in TARGETS))]
    for i, (params, tt) in enumerate(singular_sweep(clause, "t", combos, low=0.0, high=1.0)):
        x_t, y = _sweep_arrays(len(tt), i)
        case = ctx.round({"x_t": x_t, "y": y, "t": tt, **params})
        if np.any(_det_zero(params["path"], params["schedule"], params[names[0]], case["t"])) or any(
                np.any(_infinite(params["path"], params["schedule"], params[g], case["t"])) for g in names):
            continue                                        # (a reversed clock's t rounded onto the point)
        got = fn(**case)
        want = (R.convert if convert else R.recover)(**case)
        (_convert_compare if convert else _recover_compare)(ctx, got, want, case)


def _convert_singular(ctx, fn, inp):
    """det = 0 raises; from = to returns y unchanged even there."""
    y = np.array([[1.0, -2.0], [3.0, 0.5]])
    for path, sched, target, tt in SINGULAR:
        others = [g for g in TARGETS if g != target]
        ctx.require_raises("family.convert", functools.partial(fn, x_t=np.ones((2, 2)), y=y, t=np.array([0.5, tt]),
                                                          from_target=target, to_target=others[0], path=path,
                                                          schedule=sched),
                f"{target} → {others[0]} on {path}-{sched} at t = {tt}")
        ctx.assert_close("family.convert", fn(x_t=np.ones((2, 2)), y=y, t=np.array([0.5, tt]), from_target=target,
                                             to_target=target, path=path, schedule=sched), y,
                         what=f"identity {target} → {target} at singular t = {tt}")


# ---- the checks ---------------------------------------------------------------------------------
_ex_xz = lambda: {"x": np.array([[1.0, 2.0]]), "z": np.array([[0.5, -1.0]]), "t": np.array([0.3])}

CHECKS = [
    ClauseChecks(
        clause="family.affine",
        cases=_coef_cases(),
        proofs=(Proof("rf velocity row (−1, 1) = (a', b') of (1 − t, t)", lambda: [
                    sp.diff(1 - t, t) + 1, sp.diff(t, t) - 1]),
                Proof("vp: a² + b² = 1 and b' = −a a'/b", _proof_vp_derivative),
                Proof("the reference's cancellation-free cosine forms equal Nichol & Dhariwal's ᾱ",
                      _proof_cosine_forms),
                Proof("v-prediction is d x_t/dφ on the trigonometric vp path, not dx_t/dt on rf",
                      _proof_v_is_angular_velocity)),
        symbolic=_symbolic_coefficients,
        symbolic_cases=_symbolic_coef_cases(),
        properties=(Property("vp preserves variance: a² + b² = 1", _vp_preserves_variance, cases=st.just({})),
                    Property("table rows", _table_rows, cases=st.just({})),
                    Property("velocity = (a', b') by central differences", _velocity_is_derivative, cases=st.just({})),
                    Property("infinite coefficients raise", _affine_singular, cases=st.just({}))),
        example=lambda: {"t": np.array([0.0, 0.5, 1.0]), "path": "vp", "target": "epsilon", "schedule": "cosine"},
    ),
    ClauseChecks(
        clause="family.vp_schedule",
        cases=st.fixed_dictionaries({"t": _times(5), "schedule": st.sampled_from(SF.SCHEDULES["vp"])}),
        proofs=(Proof("linear: d log ᾱ/dt = −β(t), β(t) = β_min + t(β_max − β_min) (the VP SDE)", lambda:
                      sp.simplify(sp.diff(sp.log(_ab_lin), t) + (bmin + t * (bmax - bmin)))),
                Proof("ᾱ(0) = 1 for all; cosine and trig ᾱ(1) = 0", lambda: [
                    sp.simplify(_ab_lin.subs(t, 0) - 1), sp.simplify(_ab_cos.subs(t, 0) - 1),
                    sp.simplify(_ab_cos.subs(t, 1)), _ab_trig.subs(t, 0) - 1, _ab_trig.subs(t, 1)]),
                Proof("trig is cosine at s = 0; cosine is trig on τ = (t + s)/(1 + s) renormalised; velocity = (π/2) v "
                      "on trig", _proof_trig),
                Proof("log-SNR variants: sigmoid(log SNR) is the stated ᾱ; linear = β_min 0, β_max 20, × e^{-1e-4}; "
                      "cosine = the default × f(0)", _proof_log_snr_forms)),
        symbolic=lambda t, schedule: sp.lambdify(globals()["t"], _AB[schedule].subs(_PARAMS), "numpy")(t) + 0 * t,
        properties=(Property("ᾱ(0) = 1, decreasing, cosine ᾱ(1) = 0", _vp_schedule_shape, cases=st.just({})),
                    Property("the declared variant's closed form (sympy, lambdified)", _vp_variant_closed_form,
                             cases=st.just({})),
                    Property("trig: velocity = (π/2) v-prediction", _trig_velocity_is_scaled_v, cases=st.just({}))),
        example=lambda: {"t": np.array([0.0, 0.5, 1.0]), "schedule": "linear"},
    ),
    ClauseChecks(
        clause="family.ve_schedule",
        cases=st.fixed_dictionaries({"t": _times(5)}),
        proofs=(Proof("σ(0) = σ_min, σ(1) = σ_max, d log σ/dt = log(σ_max/σ_min)", lambda: [
            sp.simplify(_path_expr("ve", "")[1].subs(t, 0) - smin),
            sp.simplify(_path_expr("ve", "")[1].subs(t, 1) - smax),
            sp.simplify(sp.diff(sp.log(_path_expr("ve", "")[1]), t) - sp.log(smax / smin))]),),
        symbolic=lambda t: sp.lambdify(globals()["t"], _path_expr("ve", "")[1].subs(_PARAMS), "numpy")(t),
        properties=(Property("endpoints and geometric midpoint", _ve_endpoints),),
        example=lambda: {"t": np.array([0.0, 0.5, 1.0])},
    ),
    ClauseChecks(
        clause="family.interpolate",
        cases=_xz_cases("family.interpolate", "x", "z"),
        properties=(Property("x_0 = x (rf, vp), x_1 = z (rf, vp-cosine)", _interp_endpoints),),
        example=lambda: {**_ex_xz(), "path": "vp", "schedule": "linear"},
    ),
    ClauseChecks(
        clause="family.target",
        cases=_xz_cases("family.target", "x", "z"),
        properties=(Property("rf velocity = z − x, epsilon = z, x = x", _target_rows),),
        example=lambda: {**_ex_xz(), "path": "rf", "target": "velocity", "schedule": "none"},
    ),
    ClauseChecks(
        clause="family.loss",
        cases=_xz_cases("family.loss", "f", "x", "z"),
        properties=(Property("L(f = y) = 0", _loss_zero),),
        example=lambda: {"f": np.array([[0.0, 0.0]]), **_ex_xz(), "path": "rf", "target": "velocity",
                         "schedule": "none"},
    ),
    ClauseChecks(
        clause="family.recover",
        cases=_inverse_cases(),
        proofs=(Proof("[[a, b], [c, d]]⁻¹ = [[d, −b], [−c, a]]/(ad − bc)", _proof_inverse),
                Proof("det per target: ε a, x −b, v a² + b², score −a/b", _proof_dets),
                Proof("det of velocity: rf 1, vp −a'/b, ve σ'", _proof_velocity_dets),
                Proof("where det = 0: a(1) = 0 on rf and vp-cosine, b(0) = 0 on rf and vp; not on vp-linear or ve",
                      _proof_singular_points)),
        compare=_recover_compare,
        properties=(Property("recover(x_t(x, z), y(x, z)) = (x, z)", _recover_ground_truth),
                    Property("det = 0 and infinite coefficients raise", _recover_singular, cases=st.just({})),
                    Property("near every singular t: the reference's value", _near_singular_sweep, cases=st.just({}))),
        example=lambda: {"x_t": np.array([[0.5, 0.5]]), "y": np.array([[-1.0, 1.0]]), "t": np.array([0.5]),
                         "path": "rf", "target": "velocity", "schedule": "none"},
    ),
    ClauseChecks(
        clause="family.convert",
        cases=_inverse_cases(convert=True),
        proofs=(Proof("round trip A → B → A is the identity (symbolic rows)", _proof_round_trip),
                Proof("(c_B, d_B) M_A⁻¹ = ((c_B d_A − d_B c_A), (d_B a − c_B b))/det_A (the folded form)",
                      _proof_folded)),
        compare=_convert_compare,
        properties=(Property("convert(x_t(x, z), y_A(x, z)) = y_B(x, z)", _convert_ground_truth),
                    Property("round trip A → B → A = identity", _convert_round_trip),
                    Property("det = 0 raises; the identity conversion does not", _convert_singular, cases=st.just({})),
                    Property("near every singular t: the reference's value",
                             functools.partial(_near_singular_sweep, convert=True), cases=st.just({}))),
        example=lambda: {"x_t": np.array([[0.5, 0.5]]), "y": np.array([[-1.0, 1.0]]), "t": np.array([0.5]),
                         "from_target": "velocity", "to_target": "epsilon", "path": "rf", "schedule": "none"},
    ),
]


# ---- EDM preconditioning (Karras et al. 2022; issue 11): F as a target on the path (a, b) = (1, σ) ---------------
PRECOND, DENOISE = "family.edm_precond", "family.edm_denoise"
PRECOND_D_IS_X = "with the target's c_skip, c_out: D(x_σ, F_target) = x"
sg, sd = sp.symbols("sigma sigma_d", positive=True)
_h = sp.sqrt(sg**2 + sd**2)
C_SKIP, C_OUT, C_IN, C_NOISE = sd**2 / _h**2, sg * sd / _h, 1 / _h, sp.log(sg) / 4
F_ROW = (sg / (sd * _h), -sd / _h)                       # (c_F, d_F): F = c_F x + d_F z, as stated in the clause


def _proof_f_row():
    """F = (x − c_skip x_σ)/c_out on x_σ = x + σ z has the stated row; it is family.convert from the x target:
    (c_F, d_F) M_x⁻¹ (x_σ, x̂), M_x = [[1, σ], [1, 0]], equals (x̂ − c_skip x_σ)/c_out; D = c_skip x_σ + c_out F = x."""
    x_sig = xs + sg * zs
    f = (xs - C_SKIP * x_sig) / C_OUT
    conv = (sp.Matrix([[F_ROW[0], F_ROW[1]]]) * sp.Matrix([[1, sg], [1, 0]]).inv() * sp.Matrix([xts, ys]))[0]
    return [sp.simplify(f - (F_ROW[0] * xs + F_ROW[1] * zs)),
            sp.simplify(conv - (ys - C_SKIP * xts) / C_OUT),
            sp.simplify(C_SKIP * x_sig + C_OUT * (F_ROW[0] * xs + F_ROW[1] * zs) - xs)]


def _proof_denoiser_is_convert():
    """D = c_skip x_σ + c_out F is family.convert from the F target to the x target on (a, b) = (1, σ):
    (1, 0) M_F⁻¹ (x_σ, F), M_F = [[1, σ], [c_F, d_F]]; and D(x_σ, F(x, z)) = x."""
    d = (sp.Matrix([[1, 0]]) * sp.Matrix([[1, sg], [F_ROW[0], F_ROW[1]]]).inv() * sp.Matrix([xts, ys]))[0]
    return [sp.simplify(d - (C_SKIP * xts + C_OUT * ys)),
            sp.simplify(C_SKIP * (xs + sg * zs) + C_OUT * (F_ROW[0] * xs + F_ROW[1] * zs) - xs)]


def _proof_precond_identities():
    """c_skip + (c_out/σ_d)² = 1; c_in² (σ² + σ_d²) = 1; det[[1, σ], [c_F, d_F]] = −√(σ² + σ_d²)/σ_d ≠ 0;
    σ_d = 1 on the vp coordinates a = 1/√(1 + σ²), b = σ a: F = b x − a z = −v."""
    a, b = 1 / sp.sqrt(1 + sg**2), sg / sp.sqrt(1 + sg**2)
    return [sp.simplify(C_SKIP + (C_OUT / sd) ** 2 - 1), sp.simplify(C_IN**2 * _h**2 - 1),
            sp.simplify(F_ROW[1] - sg * F_ROW[0] + _h / sd),
            [sp.simplify(F_ROW[0].subs(sd, 1) - b), sp.simplify(F_ROW[1].subs(sd, 1) + a)]]


def _proof_limits():
    """σ → 0 or σ_d → ∞: c_skip → 1, F → −z (ε-prediction, D = x_σ − σ ẑ; c_out → 0, resp. c_out → σ);
    σ → ∞ or σ_d → 0: c_skip → 0, σ_d F → x (x-prediction; c_out → σ_d, resp. c_out/σ_d → 1)."""
    lim = sp.limit
    return [lim(C_SKIP, sg, 0) - 1, lim(C_OUT, sg, 0), lim(F_ROW[0], sg, 0), lim(F_ROW[1], sg, 0) + 1,
            lim(C_SKIP, sd, sp.oo) - 1, lim(C_OUT, sd, sp.oo) - sg, lim(F_ROW[0], sd, sp.oo),
            lim(F_ROW[1], sd, sp.oo) + 1,
            lim(C_SKIP, sg, sp.oo), lim(C_OUT, sg, sp.oo) - sd, lim(sd * F_ROW[0], sg, sp.oo) - 1,
            lim(sd * F_ROW[1], sg, sp.oo), lim(C_SKIP, sd, 0), lim(C_OUT / sd, sd, 0) - 1,
            lim(sd * F_ROW[0], sd, 0) - 1, lim(sd * F_ROW[1], sd, 0)]


_precond_symbolic = sp.lambdify((sg, sd), [C_SKIP, C_OUT, C_IN, C_NOISE], "numpy")
EDM_EDGES = (1e-12, 1e-6, 1e3, 1e6)
"""σ edges (SIGMA_EDGES without the float64 subnormals, which round to 0 in float32 and bfloat16: outside σ > 0)."""


def _log_sigmas(n):
    return st.integers(0, 2**32 - 1).map(lambda seed: 10.0 ** np.random.default_rng(seed).uniform(-4.0, 4.0, n))


_sigma_data = st.sampled_from([SF.EDM_SIGMA_DATA, 1.0]) | st.floats(0.1, 2.0)
_precond_cases = with_edges(inputs(PRECOND, sigma=derived(lambda v: _log_sigmas(v["n"])), sigma_data=_sigma_data),
                            sigma=EDM_EDGES)


def _magnitude_compare(clause, got, expected, m, ctx, what, tol=None):
    """|got − expected| / (1 + M) within the clause's tolerance (or `tol`): M bounds the terms that may cancel."""
    g, e = np.asarray(got, dtype=np.float64), np.asarray(expected, dtype=np.float64)
    if g.shape != e.shape:
        return ctx.assert_close(clause, g, e, what=what)
    ctx.assert_close(clause, g / (1.0 + m), e / (1.0 + m), what=f"{what} / (1 + M)", tol=tol)


def _precond_unit_identities(ctx, fn, inp):
    """c_skip + (c_out/σ_d)² = 1 and c_in² (σ² + σ_d²) = 1 with the target's own scalings; exp(4 c_noise) = σ."""
    c_skip, c_out, c_in, c_noise = (np.asarray(v, dtype=np.float64) for v in fn(**inp))
    sig, s_d = inp["sigma"], inp["sigma_data"]
    tol = ctx.tolerance(PRECOND)
    few = Tolerance(rtol=4 * tol.rtol, atol=4 * tol.rtol)
    ctx.assert_close(PRECOND, c_skip + (c_out / s_d) ** 2, np.ones_like(sig), what="c_skip + (c_out/σ_d)²", tol=few)
    ctx.assert_close(PRECOND, (c_in * np.hypot(sig, s_d)) ** 2, np.ones_like(sig), what="c_in² (σ² + σ_d²)", tol=few)
    ctx.assert_close(PRECOND, np.exp(4 * c_noise), sig, what="exp(4 c_noise) vs σ",
                     tol=Tolerance(rtol=4 * tol.rtol * (1 + float(np.max(np.abs(4 * c_noise)))), atol=0.0))


def _x_sigma_cases(clause):
    """x, z (n, ...), σ per sample (log-uniform 1e-4..1e4 or an edge), σ_d; x_σ = x + σ z and the stated F target."""
    @st.composite
    def cases(draw):
        n = draw(st.integers(1, 4))
        x = draw(_batch({"n": n}))
        z = draw(gaussian(x.shape))
        sig = draw(_log_sigmas(n)) if draw(st.integers(0, 2)) else draw(st.sampled_from(EDM_EDGES)) * np.ones(n)
        s_d = draw(_sigma_data)
        sig_b = sig.reshape((n,) + (1,) * (x.ndim - 1))
        f = (sig_b * x / s_d - s_d * z) / np.hypot(sig_b, s_d)
        return {"x": x, "z": z, "x_sigma": x + sig_b * z, "F": f, "sigma": sig, "sigma_data": s_d}
    return cases()


def _denoises_the_edm_target(ctx, fn, inp):
    """D(x_σ, F) = x when F is the stated target (σ x/σ_d − σ_d z)/√(σ² + σ_d²): D is an x-prediction (PRECOND: with
    the target's c_skip, c_out; DENOISE: the target's D)."""
    r = ctx.round({"x_sigma": inp["x_sigma"], "F": inp["F"]})
    sig = inp["sigma"].reshape((-1,) + (1,) * (inp["x"].ndim - 1))
    c_skip, c_out, _, _ = R.edm_preconditioning(sig, inp["sigma_data"])
    m = c_skip * np.abs(r["x_sigma"]) + c_out * np.abs(r["F"])
    if ctx.clause == DENOISE:
        got = fn(x_sigma=r["x_sigma"], F=r["F"], sigma=inp["sigma"], sigma_data=inp["sigma_data"])
    else:
        cs, co, _, _ = (np.asarray(v, dtype=np.float64).reshape(sig.shape)
                        for v in fn(sigma=inp["sigma"], sigma_data=inp["sigma_data"]))
        got = cs * r["x_sigma"] + co * r["F"]
    # the inputs' rounding to the dtype reaches D as ≤ 1 ulp of M: DENOISE's value tolerance is per unit of 1 + M;
    # PRECOND's is relative to each scaling, so the property declares its own (absolute in M, spec/family.py)
    tol = spec.get(PRECOND).tolerance_of(PRECOND_D_IS_X, ctx.dtype) if ctx.clause == PRECOND else None
    _magnitude_compare(ctx.clause, got, inp["x"], m, ctx, "D(x_σ, F_target) vs x", tol=tol)


def _denoise_compare(ctx, got, expected, inputs):
    sig = np.reshape(inputs["sigma"], (-1,) + (1,) * (inputs["x_sigma"].ndim - 1)) if np.ndim(inputs["sigma"]) \
        else inputs["sigma"]
    c_skip, c_out, _, _ = R.edm_preconditioning(np.asarray(sig, dtype=np.float64), inputs["sigma_data"])
    m = c_skip * np.abs(inputs["x_sigma"]) + c_out * np.abs(inputs["F"])
    _magnitude_compare(DENOISE, got, expected, m, ctx, "D")


def _denoise_small_sigma(ctx, fn, inp):
    """σ → 0: D → x_σ (c_skip → 1, c_out ~ σ): at σ = 1e-9, |D − x_σ| ≤ 2e-9 |F| + the tolerance."""
    x_sig, f = inp["x_sigma"], inp["F"]
    got = fn(x_sigma=x_sig, F=f, sigma=1e-9, sigma_data=inp["sigma_data"])
    tol = ctx.tolerance(DENOISE)
    ctx.assert_close(DENOISE, got, x_sig, what="D at σ = 1e-9 vs x_σ",
                     tol=Tolerance(rtol=tol.rtol, atol=tol.atol * (1 + float(np.max(np.abs(x_sig))))
                                   + 2e-9 / inp["sigma_data"] * float(np.max(np.abs(f)))))


_denoise_cases = _x_sigma_cases(DENOISE).map(lambda c: {k: c[k] for k in ("x_sigma", "F", "sigma", "sigma_data")}) \
    | st.builds(lambda c, one: {"x_sigma": c["x_sigma"], "F": c["F"], "sigma": float(c["sigma"][0]) if one else
                                c["sigma"], "sigma_data": c["sigma_data"]}, _x_sigma_cases(DENOISE), st.booleans())

CHECKS += [
    ClauseChecks(
        clause=PRECOND,
        cases=_precond_cases,
        proofs=(Proof("F = (x − c_skip x_σ)/c_out is the stated row, is family.convert from the x target on "
                      "(1, σ), and D(x_σ, F) = x", _proof_f_row),
                Proof("c_skip + (c_out/σ_d)² = 1, c_in²(σ² + σ_d²) = 1, det M_F = −√(σ² + σ_d²)/σ_d, σ_d = 1: F = −v",
                      _proof_precond_identities),
                Proof("limits σ → 0, σ_d → ∞ (ε-prediction) and σ → ∞, σ_d → 0 (x-prediction)", _proof_limits)),
        symbolic=lambda sigma, sigma_data: tuple(np.broadcast_to(v, np.shape(sigma)).astype(float)
                                                 for v in _precond_symbolic(sigma, sigma_data)),
        properties=(Property("c_skip + (c_out/σ_d)² = 1, c_in² (σ² + σ_d²) = 1, e^{4 c_noise} = σ",
                             _precond_unit_identities),
                    Property(PRECOND_D_IS_X, _denoises_the_edm_target,
                             cases=_x_sigma_cases(PRECOND))),
        example=lambda: {"sigma": np.array([0.002, 0.5, 80.0]), "sigma_data": 0.5},
    ),
    ClauseChecks(
        clause=DENOISE,
        cases=_denoise_cases,
        proofs=(Proof("D is family.convert from the F target to the x target on (1, σ); D(x_σ, F(x, z)) = x",
                      _proof_denoiser_is_convert),),
        compare=_denoise_compare,
        properties=(Property("D(x_σ, F_target) = x: an x-prediction", _denoises_the_edm_target,
                             cases=_x_sigma_cases(DENOISE)),
                    Property("σ → 0: D → x_σ", _denoise_small_sigma)),
        example=lambda: {"x_sigma": np.array([[1.0, 2.0]]), "F": np.array([[0.5, -1.0]]), "sigma": np.array([1.0]),
                         "sigma_data": 0.5},
    ),
]
