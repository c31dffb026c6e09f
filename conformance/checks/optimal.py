"""Conformance checks of the optimal family: the Gaussian-conditioning derivation (sympy), the oracle against
importance-weighted Monte Carlo and the orthogonality principle, singular points, and the mid-t claim.

Also the shared helpers other families' checks use: random well-conditioned mixtures and the oracle as a
:class:`Dual` callable f(x, t) (x of shape (n, d), t of shape (n,)).
"""
from __future__ import annotations

import math

import numpy as np
import sympy as sp
from hypothesis import strategies as st

from genspec.reference import optimal as R
from genspec.spec.errors import SpecInputError

from ..fixtures import BIMODAL, random_mixture, sample_mixture
from ..harness.arrays import T_EDGES, draw_edges
from ..harness.declare import ClauseChecks, Proof, Property

POST, PRED, MID = "optimal.posterior_means", "optimal.prediction", "optimal.hardest_mid_t"


# ---- sympy: Gaussian conditioning, derived ------------------------------------------------------
a, b, s, mu, xt = sp.symbols("a b s mu x_t", real=True)
al, be = sp.symbols("alpha beta", real=True)
# one component x ~ N(μ, s²), z ~ N(0, 1), x_t = a x + b z: the best affine predictor α + β x_t of x has a residual
# with zero mean and zero covariance with x_t (for jointly Gaussian variables the conditional mean is that predictor)


# ---- mixtures -----------------------------------------------------------------------------------






VAR_XT = a**2 * s**2 + b**2
_sol_x = sp.solve([mu - (al + be * a * mu), a * s**2 - be * VAR_XT], [al, be], dict=True)[0]
_sol_z = sp.solve([0 - (al + be * a * mu), b - be * VAR_XT], [al, be], dict=True)[0]
X_HAT = _sol_x[al] + _sol_x[be] * xt          # E[x | x_t, k]
Z_HAT = _sol_z[al] + _sol_z[be] * xt          # E[z | x_t, k]
m1, m2, f = sp.symbols("m1 m2 f", real=True)  # conditional moments E[y|x_t], E[y²|x_t]; a constant guess f


def _normal(x, m, v):
    return sp.exp(-(x - m) ** 2 / (2 * v)) / sp.sqrt(2 * sp.pi * v)


w1, mu1, mu2, s1, s2 = sp.symbols("w1 mu1 mu2 s1 s2", positive=True)
_lik = [w1 * _normal(xt, a * mu1, a**2 * s1**2 + b**2), (1 - w1) * _normal(xt, a * mu2, a**2 * s2**2 + b**2)]
_resp = [l / (_lik[0] + _lik[1]) for l in _lik]
_xk = [X_HAT.subs({mu: mu1, s: s1}), X_HAT.subs({mu: mu2, s: s2})]
_zk = [Z_HAT.subs({mu: mu1, s: s1}), Z_HAT.subs({mu: mu2, s: s2})]
_mix_x = sp.lambdify((xt, a, b, w1, mu1, mu2, s1, s2), _resp[0] * _xk[0] + _resp[1] * _xk[1])
_mix_z = sp.lambdify((xt, a, b, w1, mu1, mu2, s1, s2), _resp[0] * _zk[0] + _resp[1] * _zk[1])


def _symbolic_posterior(x_t, a, b, weights, means, covs):
    w = weights / weights.sum()
    args = (x_t[:, 0], a, b, w[0], means[0, 0], means[1, 0], math.sqrt(covs[0, 0, 0]), math.sqrt(covs[1, 0, 0]))
    return _mix_x(*args)[:, None], _mix_z(*args)[:, None]


tt = sp.Symbol("t", real=True)
_rf = {a: 1 - tt, b: tt}
# 1-D Gaussian data N(0, s²): the irreducible velocity loss Var(v | x_t) = Var(v) − Cov(v, x_t)²/Var(x_t)
_L1d = (1 + s**2) - (tt - (1 - tt) * s**2) ** 2 / ((1 - tt) ** 2 * s**2 + tt**2)
_tstar = s**2 / (1 + s**2)


# ---- strategies ---------------------------------------------------------------------------------
@st.composite
def _mixture(draw, d_max=3, K_max=3):
    d, K = draw(st.integers(1, d_max)), draw(st.integers(1, K_max))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    return rng, random_mixture(rng, K, d)


@st.composite
def _posterior_cases(draw):
    rng, (w, m, c) = draw(_mixture())
    n = draw(st.integers(1, 8))
    rho = rng.uniform(0.5, 1.5, n)
    theta = rng.uniform(0.0, math.pi / 2, n)
    theta[rng.random(n) < 0.2] = 0.0                      # b = 0: clean
    theta[rng.random(n) < 0.2] = math.pi / 2              # a = 0: pure noise
    aa, bb = rho * np.cos(theta), rho * np.sin(theta)
    aa[theta == math.pi / 2], bb[theta == 0.0] = 0.0, 0.0
    if draw(st.booleans()):                               # scalar coefficients
        aa, bb = float(aa[0]), float(bb[0])
    x_t = (np.asarray(aa)[..., None] * sample_mixture(rng, n, w, m, c)
           + np.asarray(bb)[..., None] * rng.standard_normal((n, m.shape[1])))
    return {"x_t": x_t, "a": aa, "b": bb, "weights": w, "means": m, "covs": c}


@st.composite
def _symbolic_cases(draw):
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    w, m, c = random_mixture(rng, 2, 1, spread=2.0, lam=(0.2, 2.0))
    n = draw(st.integers(1, 6))
    aa, bb = rng.uniform(0.05, 1.0, n), rng.uniform(0.3, 1.0, n)
    x_t = aa[:, None] * sample_mixture(rng, n, w, m, c) + bb[:, None] * rng.standard_normal((n, 1))
    return {"x_t": x_t, "a": aa, "b": bb, "weights": w, "means": m, "covs": c}


_PATHS = (("rf", None), ("vp", "linear"), ("vp", "cosine"), ("ve", None))


def _singular(path, target):
    """Targets with an infinite coefficient at t = 0 on the path (family.affine's singular points)."""
    return target == "score" and path in ("rf", "vp") or (target == "velocity" and path == "vp")


@st.composite
def _prediction_cases(draw, paths=_PATHS):
    rng, (w, m, c) = draw(_mixture())
    n = draw(st.integers(1, 8))
    path, schedule = draw(st.sampled_from(paths))
    target = draw(st.sampled_from(R.TARGETS))
    t = rng.uniform(0.0, 1.0, n)
    t[rng.random(n) < 0.2], t[rng.random(n) < 0.2] = 0.0, 1.0
    t = draw_edges(draw, t, T_EDGES)                                # t within 1e-9..1e-3 of 0 and 1
    if _singular(path, target):
        t = np.maximum(t, 0.02)
    if draw(st.booleans()):
        t = float(t[0])
    tn = np.broadcast_to(t, (n,))
    a_, b_ = R.coefficients(tn, path, "x", schedule)[:2]
    x_t = a_[:, None] * sample_mixture(rng, n, w, m, c) + b_[:, None] * rng.standard_normal((n, m.shape[1]))
    return {"x_t": x_t, "t": t, "weights": w, "means": m, "covs": c,
            "target": target, "path": path, "schedule": schedule}


# ---- Monte Carlo ------------------------------------------------------------------------------
def importance_posterior(rng, q, a_, b_, w, m, c, n=20000):
    """Self-normalised importance estimate of E[x | x_t = q] from data samples alone, with its standard error.

    Independent of the closed form: uses only samples of x and the density of x_t | x = N(a x, b² I).
    """
    xs = sample_mixture(rng, n, w, m, c)
    logw = -0.5 * np.sum((q[None] - a_ * xs) ** 2, axis=1) / b_**2
    om = np.exp(logw - logw.max())
    om /= om.sum()
    est = om @ xs
    se = np.sqrt(om**2 @ (xs - est) ** 2)                # delta-method standard error per coordinate
    return est, se, 1.0 / np.sum(om**2)


def _slack(ctx, clause, ref):
    tol = ctx.tolerance(clause)
    return tol.atol + tol.rtol * np.abs(ref)


def _mc_check(clause, target_of):
    """The target agrees with importance-weighted Monte Carlo within 5.5 standard errors."""
    def check(ctx, fn, inp):
        rng = np.random.default_rng(int(1e6 * abs(inp["means"]).sum()) % 2**32)
        w, m, c = inp["weights"], inp["means"], inp["covs"]
        d = m.shape[1]
        checked = 0
        for t in (0.25, 0.5, 0.75, 1.0):
            a_, b_ = (float(v[0]) for v in R.coefficients(np.array([t]), inp.get("path", "rf"), "x",
                                                          inp.get("schedule"))[:2])
            q = a_ * sample_mixture(rng, 3, w, m, c) + b_ * rng.standard_normal((3, d))
            for qi in q:
                est, se, ess = importance_posterior(rng, qi, a_, b_, w, m, c)
                if ess < 200:
                    continue
                checked += 1
                got, k = target_of(fn, qi[None], t, a_, b_, inp)          # prediction and its factor on x̂
                # E[y|q] = k E[x|q] + (terms of q alone), so the estimate's error is |k| se
                ref = got[1](est)
                err = np.abs(got[0][0] - ref)
                se_k = np.abs(k) * np.resize(se, k.shape)
                bound = 5.5 * se_k + 1e-9 + _slack(ctx, clause, ref)
                ctx.require(clause, bool(np.all(err <= bound)),
                            f"t = {t}: oracle {got[0][0]} vs Monte Carlo {ref} ± {se_k} (ESS {ess:.0f})")
        ctx.require(clause, checked > 0, "no query point had an effective sample size ≥ 200")
    return check


def _post_target(fn, q, t, a_, b_, inp):
    xh, zh = fn(x_t=q, a=a_, b=b_, weights=inp["weights"], means=inp["means"], covs=inp["covs"])
    got = np.concatenate([xh, zh], axis=1)
    return (got, lambda est: np.concatenate([est, (q[0] - a_ * est) / b_])), np.concatenate(
        [np.ones(q.shape[1]), np.full(q.shape[1], a_ / b_)])


def _pred_target(fn, q, t, a_, b_, inp):
    cc, dd = R.target_coefficients(np.array([t]), inp["target"], inp["path"], inp["schedule"])
    cc, dd = float(cc[0]), float(dd[0])
    got = fn(x_t=q, t=np.array([t]), weights=inp["weights"], means=inp["means"], covs=inp["covs"],
             target=inp["target"], path=inp["path"], schedule=inp["schedule"])
    # y = c x + d z = (c − d a/b) x + d q / b
    k = cc - dd * a_ / b_
    return (got, lambda est: k * est + dd * q[0] / b_), np.full(q.shape[1], k)


def _post_identity(ctx, fn, inp):
    xh, zh = fn(**inp)
    aa = np.broadcast_to(inp["a"], (inp["x_t"].shape[0],))[:, None]
    bb = np.broadcast_to(inp["b"], (inp["x_t"].shape[0],))[:, None]
    ctx.assert_close(POST, aa * xh + bb * zh, inp["x_t"], what="a E[x|x_t] + b E[z|x_t] vs x_t")


def _post_singular(ctx, fn, inp):
    w, m, c, x = inp["weights"], inp["means"], inp["covs"], inp["x_t"]
    xh, zh = fn(x_t=x, a=0.0, b=0.7, weights=w, means=m, covs=c)
    mean = (w / w.sum()) @ m
    ctx.assert_close(POST, xh, np.broadcast_to(mean, x.shape), what="a = 0: E[x|x_t] vs the mixture mean")
    ctx.assert_close(POST, zh, x / 0.7, what="a = 0: E[z|x_t] vs x_t / b")
    xh, zh = fn(x_t=x, a=0.8, b=0.0, weights=w, means=m, covs=c)
    ctx.assert_close(POST, xh, x / 0.8, what="b = 0: E[x|x_t] vs x_t / a")
    ctx.assert_close(POST, zh, np.zeros_like(x), what="b = 0: E[z|x_t] vs 0")


def _pred_targets_agree(ctx, fn, inp):
    """Every target is c(t) x̂ + d(t) ε̂ with (x̂, ε̂) the x and epsilon predictions, and a x̂ + b ε̂ = x_t:
    the targets are one posterior."""
    kw = {k: v for k, v in inp.items() if k != "target"}
    tn = np.broadcast_to(inp["t"], (inp["x_t"].shape[0],))
    f_x, f_eps = fn(**kw, target="x"), fn(**kw, target="epsilon")
    a_, b_ = R.coefficients(tn, inp["path"], "x", inp["schedule"])[:2]
    ctx.assert_close(PRED, a_[:, None] * f_x + b_[:, None] * f_eps, inp["x_t"], what="a x̂ + b ε̂ vs x_t")
    for tg in R.TARGETS:
        if tg in ("x", "epsilon") or (_singular(inp["path"], tg) and np.any(tn == 0)):
            continue
        try:    # t = 5e-324 (T_EDGES) is singular for score in float64 too: 1/b(t) overflows, the reference refuses
            cc, dd = R.target_coefficients(tn, tg, inp["path"], inp["schedule"])
        except SpecInputError:
            continue                                # a singular t of this target: no value to compare with
        if not _representable(ctx, a_, b_, cc, dd):
            continue    # e.g. float32 t = 1e-40: b² subnormal, or 1/b beyond the dtype's largest number
        ctx.assert_close(PRED, fn(**kw, target=tg), cc[:, None] * f_x + dd[:, None] * f_eps,
                         what=f"target {tg} vs c x̂ + d ε̂")


def _representable(ctx, a, b, *coefficients) -> bool:
    """Whether the path's a², b² and a target's coefficients are numbers the run's dtype holds to full precision.
    Near a singular t they are not in float32 (and bfloat16) while they are in float64: at vp-cosine t = 1e-40,
    b² = 1 − ᾱ = 3.9e-42 is subnormal (float32 keeps 1e-4 of it, so ε̂ = E[z | x_t] ≈ 1e-21 is right only to
    its atol) and d = −1/b = −5e20 amplifies that to 8e-5 relative in d ε̂, while the target's own score is exact
    to 1e-9; at rf t = 1e-40, 1/b overflows and the target refuses. Beyond full precision the property has no
    value in the dtype to hold the combination to; the value check still holds each target to the reference."""
    if ctx.run_dtype == "float64":
        return True
    tiny, big = float(np.finfo(np.float32).tiny), float(np.finfo(np.float32).max)
    squares = np.concatenate([np.square(a), np.square(b)])
    return bool(np.all((squares == 0) | (squares >= tiny))) and all(bool(np.all(np.abs(v) < big)) for v in coefficients)


def _pred_endpoints(ctx, fn, inp):
    w, m, c, x = inp["weights"], inp["means"], inp["covs"], inp["x_t"]
    n = x.shape[0]
    mean = np.broadcast_to((w / w.sum()) @ m, x.shape)
    expect = {0.0: {"velocity": -x, "epsilon": np.zeros_like(x), "x": x, "v": np.zeros_like(x)},
              1.0: {"velocity": x - mean, "epsilon": x, "x": mean, "v": -mean}}
    for t, table in expect.items():
        for tg, want in table.items():
            got = fn(x_t=x, t=np.full(n, t), weights=w, means=m, covs=c, target=tg, path="rf", schedule=None)
            ctx.assert_close(PRED, got, want, what=f"t = {t:g}, target {tg}")


def _pred_orthogonal(ctx, fn, inp):
    """E[(y − f*(x_t, t)) g(x_t, t)] = 0 for test functions g: the defining property of the conditional mean."""
    rng = np.random.default_rng(int(1e6 * abs(inp["means"]).sum()) % 2**32)
    w, m, c = inp["weights"], inp["means"], inp["covs"]
    M, d = 4000, m.shape[1]
    x, z, t = sample_mixture(rng, M, w, m, c), rng.standard_normal((M, d)), rng.uniform(0.02, 1, M)
    a_, b_, cc, dd = R.coefficients(t, inp["path"], inp["target"], inp["schedule"])
    x_t = a_[:, None] * x + b_[:, None] * z
    y = cc[:, None] * x + dd[:, None] * z
    res = y - fn(x_t=x_t, t=t, weights=w, means=m, covs=c, target=inp["target"], path=inp["path"],
                 schedule=inp["schedule"])
    gs = [np.ones(M), t, *x_t.T, *np.tanh(x_t).T, t * x_t[:, 0]]
    tol = ctx.tolerance(PRED)
    for gi, g in enumerate(gs):
        prod = res * g[:, None]
        mean, se = prod.mean(0), prod.std(0) / math.sqrt(M)
        slack = tol.atol + tol.rtol * np.abs(y * g[:, None]).mean(0)
        ctx.require(PRED, bool(np.all(np.abs(mean) <= 5 * se + slack)),
                    f"target {inp['target']}: E[(y − f*) g_{gi}] = {mean} ± {se}: f* is not the conditional mean")


def irreducible_loss_curve(ts, n=20000, seed=0, mixture=BIMODAL):
    """L*(t) = E‖v − f*(x_t, t)‖² by Monte Carlo with the reference oracle: (mean, standard error) per t."""
    rng = np.random.default_rng(seed)
    w, m, c = mixture
    out = []
    for t in ts:
        x, z = sample_mixture(rng, n, w, m, c), rng.standard_normal((n, m.shape[1]))
        x_t = (1 - t) * x + t * z
        loss = np.sum((z - x - R.optimal_prediction(x_t, t, w, m, c)) ** 2, axis=1)
        out.append((loss.mean(), loss.std() / math.sqrt(n)))
    return np.array(out)


def _hardest_mid(ctx, fn, inp):
    ts = np.linspace(0.0, 1.0, 11)
    curve = irreducible_loss_curve(ts)
    L, se = curve[:, 0], curve[:, 1]
    w, m, c = BIMODAL
    d, trcov = m.shape[1], float(np.trace(np.einsum("k,kij->ij", w, c) + np.cov(m.T, aweights=w, bias=True)))
    ctx.require(MID, abs(L[0] - d) <= 5 * se[0], f"L*(0) = {L[0]} ± {se[0]}, expected d = {d}")
    ctx.require(MID, abs(L[-1] - trcov) <= 5 * se[-1], f"L*(1) = {L[-1]} ± {se[-1]}, expected tr Cov x = {trcov}")
    i = int(np.argmax(L))
    ctx.require(MID, 0 < i < len(ts) - 1, f"the largest irreducible loss is at t = {ts[i]}, an endpoint: {L}")
    for j in (0, len(ts) - 1):
        ctx.require(MID, L[i] - L[j] > 5 * math.hypot(se[i], se[j]),
                    f"L*({ts[i]:.2f}) = {L[i]:.3f} is not significantly above L*({ts[j]:g}) = {L[j]:.3f}")


# ---- the checks ---------------------------------------------------------------------------------
CHECKS = [
    ClauseChecks(
        clause=POST,
        cases=_posterior_cases(),
        proofs=(Proof("Gaussian conditioning: E[x|x_t,k] = μ + a s²(x_t − aμ)/(a²s² + b²)",
                      lambda: sp.simplify(X_HAT - (mu + a * s**2 * (xt - a * mu) / VAR_XT))),
                Proof("E[z|x_t,k] = b (x_t − aμ)/(a²s² + b²)",
                      lambda: sp.simplify(Z_HAT - b * (xt - a * mu) / VAR_XT)),
                Proof("a E[x|x_t,k] + b E[z|x_t,k] = x_t", lambda: sp.simplify(a * X_HAT + b * Z_HAT - xt)),
                Proof("a = 0: E[x|x_t,k] = μ, E[z|x_t,k] = x_t/b",
                      lambda: [sp.simplify(X_HAT.subs(a, 0) - mu), sp.simplify(Z_HAT.subs(a, 0) - xt / b)]),
                Proof("b = 0: E[x|x_t,k] = x_t/a, E[z|x_t,k] = 0",
                      lambda: [sp.simplify(X_HAT.subs(b, 0) - xt / a), Z_HAT.subs(b, 0)]),
                Proof("responsibilities sum to 1 (Bayes' rule)", lambda: sp.simplify(_resp[0] + _resp[1] - 1))),
        symbolic=_symbolic_posterior,
        symbolic_cases=_symbolic_cases(),
        properties=(Property("a E[x|x_t] + b E[z|x_t] = x_t", _post_identity),
                    Property("singular points a = 0 and b = 0", _post_singular),
                    Property("agrees with importance-weighted Monte Carlo", _mc_check(POST, _post_target))),
        max_examples=15,
        example=lambda: {"x_t": np.array([[0.5, 0.0], [-1.0, 1.0]]), "a": 0.5, "b": 0.5,
                         "weights": BIMODAL[0], "means": BIMODAL[1], "covs": BIMODAL[2]},
    ),
    ClauseChecks(
        clause=PRED,
        cases=_prediction_cases(),
        proofs=(Proof("argmin_f E[(y − f)² | x_t] = E[y | x_t] (first-order condition)",
                      lambda: sp.solve(sp.diff(m2 - 2 * f * m1 + f**2, f), f) == [m1]),
                Proof("and it is a minimum (second derivative 2 > 0)",
                      lambda: sp.diff(m2 - 2 * f * m1 + f**2, f, 2) - 2),
                Proof("rf velocity: E[z − x | x_t] = E[z|x_t] − E[x|x_t] (linearity) with c = −1, d = 1",
                      lambda: sp.simplify((Z_HAT - X_HAT) - (-1 * X_HAT + 1 * Z_HAT))),
                Proof("rf at t = 0: E[x|x_t] = x_t, E[z|x_t] = 0",
                      lambda: [sp.simplify(X_HAT.subs(_rf).subs(tt, 0) - xt), Z_HAT.subs(_rf).subs(tt, 0)]),
                Proof("rf at t = 1: E[x|x_t] = μ, E[z|x_t] = x_t",
                      lambda: [sp.simplify(X_HAT.subs(_rf).subs(tt, 1) - mu),
                               sp.simplify(Z_HAT.subs(_rf).subs(tt, 1) - xt)])),
        properties=(Property("targets are one posterior: velocity = ε̂ − x̂, v = −b x̂ + a ε̂", _pred_targets_agree),
                    Property("endpoints t = 0 and t = 1", _pred_endpoints),
                    Property("agrees with importance-weighted Monte Carlo", _mc_check(PRED, _pred_target)),
                    Property("orthogonality: E[(y − f*) g(x_t, t)] = 0", _pred_orthogonal)),
        max_examples=12,
        example=lambda: {"x_t": np.array([[0.5, 0.0], [-1.0, 1.0]]), "t": np.array([0.0, 0.5]),
                         "weights": BIMODAL[0], "means": BIMODAL[1], "covs": BIMODAL[2],
                         "target": "velocity", "path": "rf", "schedule": None},
    ),
    ClauseChecks(
        clause=MID,
        proofs=(Proof("1-D N(0, s²): L*(t*) = 1 + s² at t* = s²/(1 + s²)",
                      lambda: sp.simplify(_L1d.subs(tt, _tstar) - 1 - s**2)),
                Proof("1-D: t* is a stationary point of L*", lambda: sp.simplify(sp.diff(_L1d, tt).subs(tt, _tstar))),
                Proof("1-D: L*(0) = 1 (= d), L*(1) = s² (= Var x), both below L*(t*)",
                      lambda: [sp.simplify(_L1d.subs(tt, 0) - 1), sp.simplify(_L1d.subs(tt, 1) - s**2)])),
        properties=(Property("bimodal 2-D mixture: interior maximum of L*(t), endpoints d and tr Cov x",
                             _hardest_mid),),
    ),
]
