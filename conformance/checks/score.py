"""Conformance checks of the score and Tweedie's formula (score.*)."""
from __future__ import annotations

import numpy as np
import sympy as sp
from hypothesis import strategies as st
from scipy import stats

from genspec.spec.schema import Tolerance

from ..harness.arrays import SIGMA_EDGES, draw_edges, uniform
from ..harness.declare import ClauseChecks, Proof, Property

# ---- derivations --------------------------------------------------------------------------------
x1, x2, m1, m2, xt, mu, e = sp.symbols("x_1 x_2 mu_1 mu_2 x_t mu epsilon", real=True)
s11, s22, sd, sig, a, b = sp.symbols("s_11 s_22 s a sigma b", positive=True)
s12 = sp.Symbol("s_12", real=True)
xv = sp.symbols("x", real=True)


def _gaussian_2d():
    Sigma = sp.Matrix([[s11, s12], [s12, s22]])
    X, M = sp.Matrix([x1, x2]), sp.Matrix([m1, m2])
    logp = -sp.Rational(1, 2) * ((X - M).T * Sigma.inv() * (X - M))[0] - sp.log(2 * sp.pi) - sp.log(Sigma.det()) / 2
    grad = sp.Matrix([sp.diff(logp, x1), sp.diff(logp, x2)])
    return Sigma, X, M, grad


def _score_claim():
    Sigma, X, M, grad = _gaussian_2d()
    return (grad + Sigma.inv() * (X - M)).applyfunc(sp.simplify)


_score_fn = None


def _symbolic_score(x, mu, cov):
    """The 2-D sympy gradient, lambdified (symbolic cases are 2-D)."""
    global _score_fn
    if _score_fn is None:
        _, _, _, grad = _gaussian_2d()
        _score_fn = sp.lambdify((x1, x2, m1, m2, s11, s12, s22), list(grad), "numpy")
    g = _score_fn(x[:, 0], x[:, 1], mu[0], mu[1], cov[0, 0], cov[0, 1], cov[1, 1])
    return np.stack([np.broadcast_to(v, x[:, 0].shape) for v in g], axis=1)


def _posterior_mean(a_, b_):
    """Gaussian data x ~ N(μ, s²), x_t = a x + b z, z ~ N(0, 1): log p(x | x_t) is quadratic in x; its mean is the
    vertex −c₁/(2c₂) of the quadratic (completing the square, no formula assumed)."""
    logpost = -(xv - mu) ** 2 / (2 * sd**2) - (xt - a_ * xv) ** 2 / (2 * b_**2)
    poly = sp.Poly(sp.expand(logpost), xv)
    c2, c1 = poly.coeff_monomial(xv**2), poly.coeff_monomial(xv)
    return sp.simplify(-c1 / (2 * c2))


def _marginal_score(a_, b_):
    """p_t = N(a μ, a² s² + b²) (sum of independent Gaussians); its score at x_t."""
    var = a_**2 * sd**2 + b_**2
    return sp.diff(-(xt - a_ * mu) ** 2 / (2 * var) - sp.log(var) / 2, xt)


def _tweedie_claims():
    post = _posterior_mean(1, sig)
    score = _marginal_score(1, sig)
    return [sp.simplify(xt + sig**2 * score - post),                 # E[x | x_t] = x_t + σ² ∇ log p_t
            sp.simplify(-sig * score - (xt - post) / sig)]          # E[ε | x_t] = (x_t − E[x | x_t])/σ = −σ ∇ log p_t


def _tweedie_affine_claims():
    post = _posterior_mean(a, b)
    score = _marginal_score(a, b)
    return [sp.simplify((xt + b**2 * score) / a - post),
            sp.simplify(-b * score - (xt - a * post) / b)]          # E[z | x_t] = (x_t − a E[x | x_t])/b


# ---- a 1-D Gaussian mixture: score in closed form, posterior means by quadrature ----------------
MIX_W, MIX_MU, MIX_S = np.array([0.3, 0.7]), np.array([-2.0, 1.5]), np.array([0.5, 0.8])
GRID = np.linspace(-8.0, 8.0, 8001)


def _mixture_score(x_t, a_, b_):
    var = a_**2 * MIX_S**2 + b_**2
    dens = MIX_W * stats.norm.pdf(x_t[..., None], a_ * MIX_MU, np.sqrt(var))
    return np.sum(dens * (-(x_t[..., None] - a_ * MIX_MU) / var), -1) / np.sum(dens, -1)


def _mixture_posterior_mean(x_t, a_, b_):
    """E[x | x_t] = ∫ x p(x) N(x_t; a x, b²) dx / ∫ p(x) N(x_t; a x, b²) dx by the trapezoid rule on a fine grid."""
    px = np.sum(MIX_W * stats.norm.pdf(GRID[:, None], MIX_MU, MIX_S), -1)
    lik = stats.norm.pdf(x_t[:, None], a_ * GRID[None, :], b_)
    w = px[None, :] * lik
    return np.trapezoid(w * GRID, GRID, axis=1) / np.trapezoid(w, GRID, axis=1)


# ---- strategies ---------------------------------------------------------------------------------
@st.composite
def _gauss_cases(draw, d=None):
    d = d or draw(st.integers(1, 3))
    n = draw(st.integers(1, 5))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    Q, _ = np.linalg.qr(rng.standard_normal((d, d)))
    ev = rng.uniform(0.1, 10.0, d)                     # κ(Σ) ≤ 100: the declared conditioning
    cov = (Q * ev) @ Q.T
    cov = 0.5 * (cov + cov.T)
    mu_ = rng.uniform(-3, 3, d)
    return {"x": mu_ + rng.uniform(-5, 5, (n, d)), "mu": mu_, "cov": cov}


@st.composite
def _tweedie_cases(draw):
    n = draw(st.integers(1, 5))
    shape = draw(st.sampled_from([(n,), (n, 3)]))
    sigma = draw_edges(draw, draw(uniform((n,), 0.0, 3.0)), SIGMA_EDGES)   # σ tiny and huge
    if draw(st.booleans()):
        sigma[0] = 0.0                                   # the singular point σ = 0
    return {"x_t": draw(uniform(shape, -5, 5)), "score": draw(uniform(shape, -5, 5)), "sigma": sigma}


@st.composite
def _affine_cases(draw):
    n = draw(st.integers(1, 5))
    shape = draw(st.sampled_from([(n,), (n, 3)]))
    bb = draw_edges(draw, draw(uniform((n,), 0.0, 2.0)), SIGMA_EDGES)    # b tiny and huge
    if draw(st.booleans()):
        bb[0] = 0.0
    return {"x_t": draw(uniform(shape, -5, 5)), "score": draw(uniform(shape, -5, 5)),
            "a": draw(uniform((n,), 0.2, 1.0)), "b": bb}


# ---- properties ---------------------------------------------------------------------------------
def _score_fd(ctx, fn, inp):
    """The target's score equals central differences of log N(x; μ, Σ) (scipy)."""
    x, mu_, cov = inp["x"], inp["mu"], inp["cov"]
    h = 1e-5
    lp = stats.multivariate_normal(mu_, cov).logpdf
    fd = np.stack([(np.atleast_1d(lp(x + h * ei)) - np.atleast_1d(lp(x - h * ei))) / (2 * h)
                   for ei in np.eye(x.shape[1])], axis=1)
    tol = ctx.tolerance("score.definition")
    ctx.assert_close("score.definition", fn(**inp), fd, what="score vs central differences of log p",
                     tol=Tolerance(rtol=max(tol.rtol, 1e-6), atol=max(tol.atol, 1e-6)))


def _score_zero_at_mean(ctx, fn, inp):
    ctx.assert_close("score.definition", fn(x=inp["mu"][None, :], mu=inp["mu"], cov=inp["cov"]),
                     np.zeros((1, inp["mu"].size)), what="s(μ) = 0", tol=Tolerance(rtol=0.0, atol=1e-12 if
                                                                                  ctx.dtype == "float64" else 1e-3))


def _mixture_check(clause, affine):
    def check(ctx, fn, inp):
        a_, b_ = (0.8, 0.6) if affine else (1.0, inp["sigma"])
        x_t = ctx.round({"x": np.linspace(-4.0, 4.0, 17)})["x"]
        score = ctx.round({"s": _mixture_score(x_t, a_, b_)})["s"]
        ex, ez = fn(x_t=x_t, score=score, a=a_, b=b_) if affine else fn(x_t=x_t, score=score, sigma=b_)
        want_x = _mixture_posterior_mean(x_t, a_, b_)
        tol = ctx.tolerance(clause)
        loose = Tolerance(rtol=max(tol.rtol, 1e-7), atol=max(tol.atol, 1e-7) * 8)
        ctx.assert_close(clause, ex, want_x, what="E[x | x_t] vs quadrature of the mixture posterior", tol=loose)
        ctx.assert_close(clause, ez, (x_t - a_ * want_x) / b_,
                         what="E[noise | x_t] vs (x_t − a E[x | x_t])/b", tol=loose)
    return check


def _tweedie_gaussian(ctx, fn, inp):
    """Gaussian data N(μ, s²): the target's E[x | x_t] equals the closed-form posterior mean
    μ + s²(x_t − μ)/(s² + σ²)."""
    mu_, s_ = 0.7, 1.3
    x_t, sigma = inp["x_t"], inp["sigma"]
    sb = sigma.reshape(sigma.shape + (1,) * (x_t.ndim - 1))
    score = ctx.round({"s": -(x_t - mu_) / (s_**2 + sb**2)})["s"]
    ex, _ = fn(x_t=x_t, score=score, sigma=sigma)
    want = x_t + sb**2 * score                        # exact for the rounded score; equals μ + s²(x_t − μ)/(s² + σ²)
    ctx.assert_close("score.tweedie", ex, want, what="E[x | x_t] on Gaussian data")
    if ctx.dtype == "float64":
        ctx.assert_close("score.tweedie", ex, mu_ + s_**2 * (x_t - mu_) / (s_**2 + sb**2),
                         what="closed-form posterior mean")


def _affine_consistency(ctx, fn, inp):
    """a E[x | x_t] + b E[z | x_t] = x_t, and (a, b) = (1, σ) is score.tweedie."""
    ex, ez = fn(**inp)
    ab = lambda v: v.reshape(v.shape + (1,) * (inp["x_t"].ndim - 1))
    tol = ctx.tolerance("score.tweedie_affine")
    scale = float(np.max(np.abs(inp["x_t"]) + ab(inp["b"]) ** 2 * np.abs(inp["score"])))
    ctx.assert_close("score.tweedie_affine", ab(inp["a"]) * ex + ab(inp["b"]) * ez, inp["x_t"],
                     what="a E[x] + b E[z] = x_t",
                     tol=Tolerance(rtol=tol.rtol, atol=tol.atol + tol.rtol * scale))
    ones = np.ones_like(inp["a"])
    ex1, ez1 = fn(x_t=inp["x_t"], score=inp["score"], a=ones, b=inp["b"])
    ctx.assert_close("score.tweedie_affine", ex1, inp["x_t"] + ab(inp["b"]) ** 2 * inp["score"],
                     what="a = 1: E[x | x_t]")


def _affine_a_zero_raises(ctx, fn, inp):
    ctx.require_raises("score.tweedie_affine", lambda: fn(x_t=np.ones((2, 1)), score=np.ones((2, 1)),
                                                          a=np.array([1.0, 0.0]), b=np.array([0.5, 1.0])), "a = 0")


# ---- the checks ---------------------------------------------------------------------------------
CHECKS = [
    ClauseChecks(
        clause="score.definition",
        cases=_gauss_cases(),
        proofs=(Proof("∇_x log N(x; μ, Σ) = −Σ⁻¹(x − μ) (2-D, symbolic SPD Σ)", _score_claim),),
        symbolic=_symbolic_score,
        symbolic_cases=_gauss_cases(d=2),
        properties=(Property("equals central differences of log p", _score_fd),
                    Property("vanishes at the mean", _score_zero_at_mean)),
        example=lambda: {"x": np.array([[1.0, 0.0]]), "mu": np.zeros(2), "cov": np.array([[2.0, 0.5], [0.5, 1.0]])},
    ),
    ClauseChecks(
        clause="score.tweedie",
        cases=_tweedie_cases(),
        proofs=(Proof("Gaussian data: x_t + σ²∇log p_t = E[x | x_t] and −σ∇log p_t = E[ε | x_t] (posterior by "
                      "completing the square)", _tweedie_claims),),
        symbolic=lambda x_t, score, sigma: (lambda sb: (x_t + sb**2 * score, -sb * score))(
            sigma.reshape(sigma.shape + (1,) * (x_t.ndim - 1))),
        properties=(Property("Gaussian data: closed-form posterior mean", _tweedie_gaussian),
                    Property("Gaussian mixture: quadrature of the posterior", _mixture_check("score.tweedie", False),
                             cases=st.fixed_dictionaries({"sigma": st.sampled_from([0.3, 1.0, 2.0])}))),
        example=lambda: {"x_t": np.array([[1.0, -1.0]]), "score": np.array([[-0.5, 0.5]]), "sigma": np.array([0.5])},
    ),
    ClauseChecks(
        clause="score.tweedie_affine",
        cases=_affine_cases(),
        proofs=(Proof("Gaussian data: (x_t + b²∇log p_t)/a = E[x | x_t] and −b∇log p_t = E[z | x_t]",
                      _tweedie_affine_claims),),
        symbolic=lambda x_t, score, a, b: (lambda A_, B_: ((x_t + B_**2 * score) / A_, -B_ * score))(
            a.reshape(a.shape + (1,) * (x_t.ndim - 1)), b.reshape(b.shape + (1,) * (x_t.ndim - 1))),
        properties=(Property("a E[x | x_t] + b E[z | x_t] = x_t; a = 1 is score.tweedie", _affine_consistency),
                    Property("Gaussian mixture: quadrature of the posterior",
                             _mixture_check("score.tweedie_affine", True),
                             cases=st.just({})),
                    Property("a = 0 raises", _affine_a_zero_raises, cases=st.just({}))),
        example=lambda: {"x_t": np.array([[1.0, -1.0]]), "score": np.array([[-0.5, 0.5]]), "a": np.array([0.8]),
                         "b": np.array([0.6])},
    ),
]
