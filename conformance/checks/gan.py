"""Conformance checks of the GAN family: derivations (sympy), reference vs derivation, target vs reference,
and the properties the notes claim."""
from __future__ import annotations

import math

import numpy as np
import sympy as sp
from hypothesis import strategies as st

from genspec.reference import gan as R
from genspec.spec.schema import Tolerance

from ..harness.arrays import dicts, reals
from ..harness.declare import ClauseChecks, Proof, Property
from ..harness.inputs import TINY_NORMS, declared, derived, inputs

# ---- symbols ------------------------------------------------------------------------------------
p, q, D, a = sp.symbols("p q D a", positive=True)
a_real = sp.Symbol("a", real=True)
sig = lambda x: 1 / (1 + sp.exp(-x))
integrand = p * sp.log(D) + q * sp.log(1 - D)           # 03: pointwise integrand of V
D_star = sp.solve(sp.diff(integrand, D), D)               # first-order condition
BCE = lambda prob, y: -(y * sp.log(prob) + (1 - y) * sp.log(1 - prob))

# ---- strategies ---------------------------------------------------------------------------------
n = st.integers(1, 8)


densities = lambda k: reals(0.0, 1e6, (k,))
"""densities over many orders of magnitude, subnormals included: D*'s relative accuracy down to the smallest normal."""


@st.composite
def _normalised_pair(draw, min_size=1, max_size=32):
    k = draw(st.integers(min_size, max_size))
    dx = draw(st.sampled_from([0.05, 0.1, 0.25, 1.0]))
    out = []
    for _ in range(2):
        raw = draw(reals(0.0, 1.0, (k,)))
        raw[raw < 1e-3] = 0.0  # zeros or moderate values: V(G, D*) is finite only if D* is not rounded to 0 or 1
        if raw.sum() == 0:
            raw[draw(st.integers(0, k - 1))] = 1.0
        out.append(raw / (raw.sum() * dx))
    return {"p_data": out[0], "p_g": out[1], "dx": dx}


@st.composite
def _adain_inputs(draw):
    N, C = draw(st.integers(1, 3)), draw(st.integers(1, 4))
    H, W = draw(st.integers(1, 5)), draw(st.integers(2, 5))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    mu = rng.uniform(-5, 5, (N, C, 1, 1))
    sd = rng.uniform(0.5, 5, (N, C, 1, 1))            # |μ|/σ ≤ 10: the declared conditioning
    if draw(st.booleans()):
        sd[0, 0] = 0.0                                  # a constant channel: the singular point
    x = mu + sd * rng.standard_normal((N, C, H, W))
    w = draw(reals(-3.0, 3.0, (N, C)))
    b = draw(reals(-3.0, 3.0, (N, C)))
    return {"x": x, "w": w, "b": b}


def _not_antiparallel(inp):
    """slerp is undefined for antiparallel latents (Ω = π): flip the rows with cos Ω < −0.9."""
    z0, z1 = inp["z0"], inp["z1"]
    cos = np.sum(z0 * z1, axis=1) / np.maximum(np.linalg.norm(z0, axis=1) * np.linalg.norm(z1, axis=1), 1e-300)
    return {**inp, "z1": np.where((cos < -0.9)[:, None], -z1, z1)}


def _latents(spherical=False):
    cases = inputs("gan.latent_interpolation")
    return cases.map(_not_antiparallel) if spherical else cases


# ---- properties ---------------------------------------------------------------------------------
def _bce_is_minus_value(ctx, fn, inp):
    """L_D = −V, with V's logs clamped the same way as the declared variant (torch_bce: log ≥ −100)."""
    clamp = ctx.convention("gan.discriminator_bce", "log_clamp")
    ctx.assert_close("gan.discriminator_bce", fn(**inp), -R.value(**inp, log_clamp=clamp), what="L_D vs −V")


def _strictly_decreasing(clause):
    def check(ctx, fn, inp):
        lo, hi = fn(d_fake=np.array([inp["d"]])), fn(d_fake=np.array([inp["d"] + inp["gap"]]))
        ctx.require(clause, lo > hi, f"loss must strictly decrease in D(G(z)): L({inp['d']}) = {lo} ≤ "
                                     f"L({inp['d'] + inp['gap']}) = {hi}")
    return check


_monotone_cases = dicts(d=st.floats(0.0, 0.9), gap=st.floats(0.05, 0.1))


def _d_star_symmetric(ctx, fn, inp):
    ctx.assert_close("gan.optimal_discriminator", fn(**inp) + fn(p_data=inp["p_g"], p_g=inp["p_data"]),
                     np.ones_like(inp["p_data"]), what="D*(p, q) + D*(q, p)")


def _d_star_half_on_diagonal(ctx, fn, inp):
    ctx.assert_close("gan.optimal_discriminator", fn(p_data=inp["p_data"], p_g=inp["p_data"]),
                     np.full_like(inp["p_data"], 0.5), what="D*(p, p)")


def _moderate(v):
    """Zero or ≥ 1e-3: keeps p/q within 1e6 so that D* is not rounded to exactly 0 or 1."""
    return np.where(v < 1e-3, 0.0, v)


def _d_star_maximises(ctx, fn, inp):
    """The target's D* is the pointwise argmax of f(D) = p log D + q log(1 - D) over a grid of D.

    A D* within the clause's tolerance δ of the exact one may lose up to max|f''| δ²/2 of f, with
    |f''(D)| = p/D² + q/(1 - D)² taken on [D* - δ, D* + δ]; that is the slack allowed.
    """
    pd_, pg_ = inp["p_data"], inp["p_g"]
    d = np.clip(fn(**inp), 0.0, 1.0)
    f = lambda dd: R._xlogy(pd_, dd) + R._xlogy(pg_, 1.0 - dd)
    grid = np.linspace(0.0, 1.0, 201)[:, None]
    best = np.max(f(grid), axis=0)
    tol = ctx.tolerance("gan.optimal_discriminator")
    exact = R.optimal_discriminator(pd_, pg_)
    delta = tol.atol + tol.rtol * exact
    lo, hi = exact - delta, exact + delta
    inside = (lo > 0) & (hi < 1)
    with np.errstate(divide="ignore", invalid="ignore"):
        curvature = np.where(inside, pd_ / np.where(inside, lo, 1) ** 2 + pg_ / np.where(inside, 1 - hi, 1) ** 2, 0.0)
    slack = 0.5 * curvature * delta**2 + 1e-12 * (pd_ + pg_)
    # where D* ± δ leaves (0, 1) (one density ≫ the other) the tolerance itself allows D = 0 or 1: no claim there
    ok = np.where(inside, f(d) >= best - slack, True)
    ctx.require("gan.optimal_discriminator", bool(np.all(ok)),
                "D* does not maximise the integrand p log D + q log(1 - D)")


def _jsd_identity(ctx, fn, inp):
    """V(G, D*) = 2 JSD - 2 log 2, with V and D* from the reference and JSD from the target."""
    v = R.value_density(inp["p_data"], inp["p_g"], R.optimal_discriminator(inp["p_data"], inp["p_g"]), inp["dx"])
    # 2 JSD carries twice the JSD's own error, atol + rtol |JSD|, whatever the size of V
    tol = ctx.tolerance("gan.jsd_identity")
    allowed = Tolerance(rtol=0.0, atol=2 * (tol.atol + tol.rtol * abs(float(R.jsd(**inp)))))
    ctx.assert_close("gan.jsd_identity", 2 * fn(**inp) - 2 * math.log(2), v, what="2 JSD - 2 log 2 vs V(G, D*)",
                     tol=allowed)


def _jsd_bounds(ctx, fn, inp):
    tol = ctx.tolerance("gan.jsd_identity")
    j = float(fn(**inp))
    slack = tol.atol + tol.rtol * math.log(2)
    ctx.require("gan.jsd_identity", -slack <= j <= math.log(2) + slack, f"JSD = {j} outside [0, log 2]")
    ctx.assert_close("gan.jsd_identity", fn(p_data=inp["p_data"], p_g=inp["p_data"], dx=inp["dx"]), 0.0,
                     what="JSD(p || p)")


def _d_star_near_zero(ctx, fn, inp):
    """The declared zero boundary (spec/gan.py): every pair (p_data, p_G) of inputs.TINY_NORMS (0, subnormal,
    1e-300, 1e-40, 1e-20, 1e-7) and 1: 1/2 where both are 0, the ratio elsewhere, however small."""
    if not declared("gan.optimal_discriminator", "p_data", "zero"):
        return
    vals = np.array([*TINY_NORMS, 1.0])
    pd_, pg_ = (a.reshape(-1) for a in np.meshgrid(vals, vals, indexing="ij"))
    case = ctx.round({"p_data": pd_, "p_g": pg_})
    ctx.assert_close("gan.optimal_discriminator", fn(**case), R.optimal_discriminator(**case),
                     what="D* at zero and tiny densities")


ADAIN_SPREADS = (1e-4, 1e-7, 1e-11, 1e-15)
"""σ of the tiny-spread channels drawn at gan.adain's zero boundary: below any clamp or guard ε a realistic
implementation uses, while every square stays normal in float32 and bfloat16 (1e-30)."""


def _adain_near_zero(ctx, fn, inp):
    """The declared zero boundary: channels of spread σ ∈ ADAIN_SPREADS around a mean 0 or 3σ (the declared
    conditioning |μ|/σ ≤ 10), beside a constant channel (0.1: its rounded mean may differ from x by an ulp), are
    normalised like any other: the output as the reference's, within the clause's tolerance."""
    if not declared("gan.adain", "x", "zero"):
        return
    conv = ctx.conventions("gan.adain")
    rng = np.random.default_rng(5)
    for r in ADAIN_SPREADS:
        z = rng.standard_normal((1, 3, 3, 3))
        x = np.concatenate([r * z[:, :1], 3 * r + r * z[:, 1:2], np.full((1, 1, 3, 3), 0.1)], axis=1)
        case = ctx.round({"x": x, "w": np.array([[2.0, -1.5, 1.0]]), "b": np.array([[0.5, -0.25, 1.0]])})
        ctx.assert_close("gan.adain", fn(**case), R.adain(**case, **conv),
                         what=f"AdaIN of channels with σ = {r:g} (and a constant channel)")


SLERP_ANGLES = (0.3, 3e-2, 1e-2, 1e-3, 1e-4, 1e-6, 1e-8, 0.0)
"""Angles Ω between the latents of the near-parallel rows (gan.latent_interpolation's declared threshold)."""


def _interp_near_parallel_and_zero(ctx, fn, inp):
    """The declared threshold and zero boundaries (spec/gan.py), in the target's variant: one row per angle Ω of
    SLERP_ANGLES (z1 = z0 rotated by Ω in a random plane, 1.5× as long), and rows with z0 = 0 or of norm 1e-7 or
    1e-15 (squares normal in every dtype) beside z1 of norm ~1; t cycling through 0.25, 0.5, 0.8."""
    cid = "gan.latent_interpolation"
    if not (declared(cid, "z0", "threshold") or declared(cid, "z0", "zero")):
        return
    rng = np.random.default_rng(11)
    rows0, rows1 = [], []
    for om in SLERP_ANGLES if declared(cid, "z0", "threshold") else ():
        a, b = rng.standard_normal((2, 4))
        a /= np.linalg.norm(a)
        b -= (b @ a) * a
        b /= np.linalg.norm(b)
        rows0.append(a)
        rows1.append(1.5 * (math.cos(om) * a + math.sin(om) * b))
    for r in (0.0, 1e-7, 1e-15) if declared(cid, "z0", "zero") else ():
        a, b = rng.standard_normal((2, 4))
        rows0.append(r * a / np.linalg.norm(a))
        rows1.append(b)
    n = len(rows0)
    case = ctx.round({"z0": np.array(rows0), "z1": np.array(rows1), "t": np.resize([0.25, 0.5, 0.8], n)})
    ctx.assert_close(cid, fn(**case), ctx.reference(cid, R.latent_interpolation, case),
                     what="z_t for near-parallel latents (Ω = 0.3 … 1e-8, 0) and z0 = 0 or tiny")


def _interp_endpoints(ctx, fn, inp):
    conv = ctx.conventions("gan.latent_interpolation")
    rows = inp["z0"].shape[0]
    first = inp["z0"] if conv["endpoint"] == "t1_is_z0" else inp["z1"]
    second = inp["z1"] if conv["endpoint"] == "t1_is_z0" else inp["z0"]
    ctx.assert_close("gan.latent_interpolation", fn(z0=inp["z0"], z1=inp["z1"], t=np.ones(rows)), first, what="t = 1")
    ctx.assert_close("gan.latent_interpolation", fn(z0=inp["z0"], z1=inp["z1"], t=np.zeros(rows)), second, what="t = 0")


def _adain_std_factor(ctx, x):
    """The population std of the output over |w|: 1 in the spec's default, else what the declared variant gives."""
    conv = ctx.conventions("gan.adain") if ctx.target is not None else {"sigma": "population", "eps": "none"}
    axes = tuple(range(2, x.ndim))
    n = int(np.prod(x.shape[2:]))
    var = x.var(axis=axes)
    denom_var = var * (n / (n - 1) if conv["sigma"] == "unbiased" and n > 1 else 1.0)
    if conv["eps"] != "none":
        denom_var = denom_var + 1e-5
    return np.sqrt(var / np.where(denom_var == 0, 1.0, denom_var)), conv


def _adain_moments(ctx, fn, inp):
    y = fn(**inp)
    x = inp["x"]
    axes = tuple(range(2, x.ndim))
    nonconstant = (x.max(axis=axes) != x.min(axis=axes))
    factor, _ = _adain_std_factor(ctx, x)
    expected_sd = np.abs(inp["w"]) * factor
    ctx.assert_close("gan.adain", y.mean(axis=axes), inp["b"], what="channel mean of the output vs b")
    ctx.assert_close("gan.adain", np.where(nonconstant, y.std(axis=axes), expected_sd), expected_sd,
                     what="channel population std of the output vs |w| (times the variant's factor)")
    ctx.assert_close("gan.adain", np.where(nonconstant, 0.0, y.std(axis=axes)), np.zeros_like(inp["w"]),
                     what="a constant channel gives the constant b")


def _adain_affine_invariance(ctx, fn, inp):
    """Invariant to x → αx + β per channel (α > 0); with an ε in the denominator only to shifts (α = 1).

    x lies on the 1/8 grid in [-12, 12], α ∈ {1/2, 2} and β is an integer in [-3, 3], so αx + β is exact in
    every dtype (≤ 8 significant bits): the check sees the invariance, not the rounding of the moved input.
    """
    x = np.clip(np.round(inp["x"] * 8) / 8, -12, 12)
    rng = np.random.default_rng(int(abs(x).sum() * 8) % 2**32)
    shape = x.shape[:2] + (1,) * (x.ndim - 2)
    _, conv = _adain_std_factor(ctx, x)
    alpha = rng.choice([0.5, 2.0], shape) if conv["eps"] == "none" else np.ones(shape)
    beta = rng.integers(-3, 4, shape).astype(float)
    ctx.assert_close("gan.adain", fn(x=alpha * x + beta, w=inp["w"], b=inp["b"]), fn(x=x, w=inp["w"], b=inp["b"]),
                     what="AdaIN(αx + β) vs AdaIN(x)")


def _sat_limits(ctx, fn, inp):
    """At D → 0 (a = −40): w.r.t. the logit the slopes tend to (0, −1); w.r.t. D to (−1, −1/D → −∞)."""
    g_sat, g_ns = fn(a=np.array([-40.0, 40.0]))
    if ctx.convention("gan.saturation", "variable") == "logit":
        ok, want = abs(g_sat[0]) < 1e-12 and abs(g_ns[0] + 1) < 1e-6, "(0, -1)"
    else:                                                       # D = σ(−40) ≈ 4.2e-18: −1/D ≈ −2.4e17
        ok, want = abs(g_sat[0] + 1) < 1e-6 and g_ns[0] < -1e17, "(-1, -1/D ≈ -2.4e17)"
    ctx.require("gan.saturation", bool(ok),
                f"at a = -40 (D ≈ 0) expected slopes ≈ {want}, got ({g_sat[0]}, {g_ns[0]})")


# ---- the checks ---------------------------------------------------------------------------------
CHECKS = [
    ClauseChecks(
        clause="gan.value",
        cases=inputs("gan.value"),
        example=lambda: {"d_real": np.array([0.9, 0.8]), "d_fake": np.array([0.1, 0.3])},
    ),
    ClauseChecks(
        clause="gan.value_density",
        cases=inputs("gan.value_density", dims={"n": (1, 16)}),
        example=lambda: {"p_data": np.array([0.0, 1.0, 1.0]), "p_g": np.array([1.0, 1.0, 0.0]),
                         "d": np.array([0.1, 0.5, 0.9]), "dx": 0.5},
    ),
    ClauseChecks(
        clause="gan.discriminator_bce",
        cases=inputs("gan.discriminator_bce"),
        proofs=(Proof("BCE(D(x),1) + BCE(D(G(z)),0) = -[log D(x) + log(1 - D(G(z)))]",
                      lambda: sp.simplify(BCE(p, 1) + BCE(q, 0) + sp.log(p) + sp.log(1 - q))),),
        symbolic=lambda d_real, d_fake: np.mean(sp.lambdify(p, BCE(p, 1))(d_real)) + np.mean(
            sp.lambdify(q, BCE(q, 0))(d_fake)),
        symbolic_cases=dicts(d_real=n.flatmap(lambda k: reals(1e-6, 1 - 1e-6, (k,))),
                             d_fake=n.flatmap(lambda k: reals(1e-6, 1 - 1e-6, (k,)))),
        properties=(Property("equals -V", _bce_is_minus_value),),
        example=lambda: {"d_real": np.array([0.9, 0.8]), "d_fake": np.array([0.1, 0.3])},
    ),
    ClauseChecks(
        clause="gan.generator_loss_saturating",
        cases=inputs("gan.generator_loss_saturating"),
        proofs=(Proof("d/dD log(1 - D) = -1/(1 - D) < 0 (strictly decreasing)",
                      lambda: sp.simplify(sp.diff(sp.log(1 - D), D) + 1 / (1 - D))),),
        properties=(Property("strictly decreasing in D(G(z))", _strictly_decreasing("gan.generator_loss_saturating"),
                             cases=_monotone_cases),),
        example=lambda: {"d_fake": np.array([0.01, 0.5])},
    ),
    ClauseChecks(
        clause="gan.generator_loss_non_saturating",
        cases=inputs("gan.generator_loss_non_saturating"),
        proofs=(Proof("-log D = BCE(D, 1)", lambda: sp.simplify(BCE(D, 1) + sp.log(D))),
                Proof("d/dD (-log D) = -1/D < 0 (strictly decreasing)",
                      lambda: sp.simplify(sp.diff(-sp.log(D), D) + 1 / D))),
        properties=(Property("strictly decreasing in D(G(z))",
                             _strictly_decreasing("gan.generator_loss_non_saturating"), cases=_monotone_cases),),
        example=lambda: {"d_fake": np.array([0.01, 0.5])},
    ),
    ClauseChecks(
        clause="gan.saturation",
        cases=inputs("gan.saturation"),
        proofs=(Proof("d/da log(1 - σ(a)) = -σ(a)",
                      lambda: sp.simplify(sp.diff(sp.log(1 - sig(a_real)), a_real) + sig(a_real))),
                Proof("d/da (-log σ(a)) = σ(a) - 1",
                      lambda: sp.simplify(sp.diff(-sp.log(sig(a_real)), a_real) - (sig(a_real) - 1))),
                Proof("saturating slope → 0 as a → -∞ (D → 0)",
                      lambda: sp.limit(-sig(a_real), a_real, -sp.oo)),
                Proof("non-saturating slope → -1 as a → -∞",
                      lambda: sp.limit(sig(a_real) - 1, a_real, -sp.oo) + 1),
                Proof("w.r.t. D the saturating slope at D = 0 is -1, not 0 (03's 'flat' is false in D)",
                      lambda: sp.diff(sp.log(1 - D), D).subs(D, 0) + 1)),
        symbolic=lambda a: (sp.lambdify(a_real, -sig(a_real))(a), sp.lambdify(a_real, sig(a_real) - 1)(a)),
        symbolic_cases=dicts(a=n.flatmap(lambda k: reals(-30.0, 30.0, (k,)))),
        properties=(Property("limits at D → 0", _sat_limits, cases=st.just({})),),
        example=lambda: {"a": np.array([-10.0, 0.0, 10.0])},
    ),
    ClauseChecks(
        clause="gan.optimal_discriminator",
        cases=inputs("gan.optimal_discriminator", p_data=derived(lambda v: densities(v["n"])),
                     p_g=derived(lambda v: densities(v["n"]))),
        proofs=(Proof("first-order condition gives D* = p/(p + q)", lambda: len(D_star) == 1 and
                      sp.simplify(D_star[0] - p / (p + q)) == 0),
                Proof("second derivative at D* is -(p + q)^3/(p q) < 0 (a maximum)",
                      lambda: sp.simplify(sp.diff(integrand, D, 2).subs(D, D_star[0]) + (p + q) ** 3 / (p * q))),
                Proof("D* = 1/2 where p_G = p_data", lambda: sp.simplify(D_star[0].subs(q, p) - sp.Rational(1, 2)))),
        symbolic=lambda p_data, p_g: sp.lambdify((p, q), D_star[0])(p_data, p_g),
        symbolic_cases=n.flatmap(lambda k: dicts(p_data=reals(1e-3, 1e3, (k,)), p_g=reals(1e-3, 1e3, (k,)))),
        properties=(Property("D*(p, q) + D*(q, p) = 1", _d_star_symmetric),
                    Property("D*(p, p) = 1/2", _d_star_half_on_diagonal),
                    Property("zero and tiny densities: 1/2 at 0 + 0, the ratio elsewhere", _d_star_near_zero,
                             cases=st.just({})),
                    Property("maximises p log D + q log(1 - D)", _d_star_maximises,
                             cases=n.flatmap(lambda k: dicts(p_data=reals(0.0, 1e3, (k,)).map(_moderate),
                                                             p_g=reals(0.0, 1e3, (k,)).map(_moderate))))),
        example=lambda: {"p_data": np.array([0.0, 1.0, 2.0, 0.0]), "p_g": np.array([0.0, 1.0, 0.5, 3.0])},
    ),
    ClauseChecks(
        clause="gan.jsd_identity",
        cases=_normalised_pair(),
        proofs=(Proof("pointwise: p log(p/(p+q)) + q log(q/(p+q)) = p log(p/M) + q log(q/M) - (p + q) log 2",
                      lambda: sp.expand_log(p * sp.log(p / (p + q)) + q * sp.log(q / (p + q))
                                            - (p * sp.log(p / ((p + q) / 2)) + q * sp.log(q / ((p + q) / 2))
                                               - (p + q) * sp.log(2)), force=True)),
                Proof("with ∫p = ∫q = 1 the (p + q) log 2 term integrates to 2 log 2; JSD = ½KL + ½KL",
                      lambda: sp.simplify(sp.Integral(p + q, (D, 0, 1)).subs({p: 1, q: 1}).doit() * sp.log(2)
                                          - 2 * sp.log(2)))),
        properties=(Property("V(G, D*) = 2 JSD - 2 log 2", _jsd_identity),
                    Property("0 ≤ JSD ≤ log 2, JSD(p || p) = 0", _jsd_bounds)),
        example=lambda: {"p_data": np.array([0.5, 0.5, 0.0, 0.0]), "p_g": np.array([0.0, 0.5, 0.5, 0.0]), "dx": 1.0},
    ),
    ClauseChecks(
        clause="gan.latent_interpolation",
        cases=_latents(),
        convention_cases=lambda conv: _latents(spherical=conv["path"] == "spherical"),
        properties=(Property("endpoints t = 0 and t = 1", _interp_endpoints,     # no antiparallel rows: valid for slerp
                             cases=_latents(spherical=True)),
                    Property("near-parallel latents and z0 = 0 or tiny", _interp_near_parallel_and_zero,
                             cases=st.just({}))),
        example=lambda: {"z0": np.array([[1.0, 0.0]]), "z1": np.array([[0.0, 1.0]]), "t": np.array([0.25])},
    ),
    ClauseChecks(
        clause="gan.adain",
        cases=_adain_inputs(),
        properties=(Property("channel mean = b, std = |w|; constant channel gives b", _adain_moments),
                    Property("invariant to x → αx + β per channel, α > 0", _adain_affine_invariance),
                    Property("channels of tiny spread are normalised; a constant one gives b", _adain_near_zero,
                             cases=st.just({}))),
        example=lambda: {"x": np.arange(8.0).reshape(1, 2, 2, 2), "w": np.array([[2.0, -1.0]]),
                         "b": np.array([[0.5, 0.0]])},
    ),
]
