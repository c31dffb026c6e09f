"""Conformance checks of the VAE family: sympy derivations (the KL and the expected log-likelihood by integration,
the ELBO gap, Bayes' rule), reference vs derivation, target vs reference, and the properties the notes claim."""
from __future__ import annotations

import math
from functools import cache

import numpy as np
import sympy as sp
import sympy.stats as sps
from hypothesis import strategies as st
from scipy import stats

from genspec import spec
from genspec.spec.vae import LOGVAR_HIGH, LOGVAR_LOW

from ..harness.declare import ClauseChecks, Proof, Property

# ---- derivations (sympy) ------------------------------------------------------------------------
z_, t_, mu_, lv_, eps_ = sp.symbols("z t mu logvar epsilon", real=True)
x_, w_, c_, m_ = sp.symbols("x w c m", real=True)
sigma_, S_, s2_ = sp.symbols("sigma S s2", positive=True)
oo = sp.oo


def normal_pdf(v, mean, var):
    return sp.exp(-(v - mean) ** 2 / (2 * var)) / sp.sqrt(2 * sp.pi * var)


def log_normal(v, mean, var):
    return sp.expand_log(sp.log(normal_pdf(v, mean, var)), force=True)


@cache
def standard_normal_moment(j):
    """∫ φ(t) t^j dt, by integration."""
    return sp.integrate(normal_pdf(t_, 0, 1) * t_**j, (t_, -oo, oo))


def gaussian_expectation(f, mean, sd):
    """E[f(z)], z ~ N(mean, sd²), for f polynomial in z (a log-ratio of Gaussians is quadratic): substitute
    z = mean + sd t (q(z) dz = φ(t) dt) and integrate term by term against φ."""
    poly = sp.Poly(sp.expand(f.subs(z_, mean + sd * t_)), t_)
    return sp.Add(*[coeff * standard_normal_moment(j) for (j,), coeff in poly.terms()])


Z = mu_ + sp.exp(lv_ / 2) * eps_                            # 02: z = μ + σ ε, σ = exp(½ logvar)
KL_CLOSED = -sp.Rational(1, 2) * (1 + lv_ - mu_**2 - sp.exp(lv_))  # 02's closed form, one coordinate


@cache
def kl_integral():
    """∫ q log(q/p) dz for q = N(μ, σ²), p = N(0, 1)."""
    log_ratio = log_normal(z_, mu_, sigma_**2) - log_normal(z_, 0, 1)
    return gaussian_expectation(log_ratio, mu_, sigma_)


# linear-Gaussian model in one dimension (d = k = 1): p(z) = N(0, 1), p(x|z) = N(wz + c, s²), q = N(m, S)
POST_VAR = 1 / (1 + w_**2 / s2_)
POST_MEAN = POST_VAR * w_ * (x_ - c_) / s2_
LOG_EVIDENCE = log_normal(x_, c_, w_**2 + s2_)
KL_Q_PRIOR = (S_ + m_**2 - 1 - sp.log(S_)) / 2
EXPECTED_LOGLIK_CLOSED = -sp.log(2 * sp.pi * s2_) / 2 - ((x_ - c_ - w_ * m_) ** 2 + w_**2 * S_) / (2 * s2_)


@cache
def expected_loglik():
    """E_{z~N(m, S)} log N(x; wz + c, s²), by integration."""
    return gaussian_expectation(log_normal(x_, w_ * z_ + c_, s2_), m_, sp.sqrt(S_))


def elbo_1d():
    return expected_loglik() - KL_Q_PRIOR


def kl_gauss_1d(m1, v1, m2, v2):
    return (v1 / v2 + (m2 - m1) ** 2 / v2 - 1 + sp.log(v2) - sp.log(v1)) / 2


@cache
def _lambdified(name):
    """NumPy functions of the derived expressions (d = k = 1 for the linear-Gaussian ones)."""
    return {
        "z": lambda: sp.lambdify((mu_, lv_, eps_), Z, "numpy"),
        "kl": lambda: sp.lambdify((mu_, lv_), kl_integral().subs(sigma_, sp.exp(lv_ / 2)), "numpy"),
        "elbo": lambda: sp.lambdify((x_, w_, c_, s2_, m_, S_), elbo_1d(), "numpy"),
        "log_evidence": lambda: sp.lambdify((x_, w_, c_, s2_), LOG_EVIDENCE, "numpy"),
    }[name]()


def _zero(e):
    return sp.simplify(sp.expand_log(e, force=True))


# ---- helpers ------------------------------------------------------------------------------------
def _close_scaled(ctx, cid, got, expected, scale, what):
    """|got - expected| ≤ atol·scale + rtol·|expected|: the clause tolerance relative to the terms' magnitude."""
    scale = np.asarray(scale, dtype=np.float64)
    scale = np.where(scale > 0, scale, 1.0)
    ctx.assert_close(cid, np.asarray(got, dtype=np.float64) / scale, np.asarray(expected, dtype=np.float64) / scale,
                     what=f"{what} (relative to the terms' magnitude)")


def _variant(ctx, cid, name):
    return ctx.conventions(cid)[name] if ctx.target is not None else None


def _to_param(logvar, variant):
    """The encoder output under each parameterization (spec/vae.py ENCODER_OUTPUT) for a given logvar."""
    return {"logvar": logvar, "log_sigma": 0.5 * logvar, "sigma": np.exp(0.5 * logvar)}[variant]


def _reduce(per_sample, reduction):
    return {"sum_last": per_sample, "sum_all": np.sum(per_sample), "mean_batch": np.mean(per_sample)}[reduction]


def _kl_magnitude(mu, logvar):
    """½ Σ_last (1 + |logvar| + μ² + e^logvar): the size of the KL's terms before they cancel."""
    return 0.5 * np.sum(1.0 + np.abs(logvar) + mu**2 + np.exp(logvar), axis=-1)


# ---- strategies ---------------------------------------------------------------------------------
def _logvars(rng, shape):
    """Mostly typical log-variances, some anywhere in the domain, the domain's ends now and then."""
    lv = rng.uniform(-6.0, 6.0, shape)
    wide = rng.random(shape) < 0.2
    lv[wide] = rng.uniform(LOGVAR_LOW, LOGVAR_HIGH, int(wide.sum()))
    ends = rng.random(shape) < 0.05
    lv[ends] = rng.choice([LOGVAR_LOW, LOGVAR_HIGH, 0.0], int(ends.sum()))
    return lv


@st.composite
def _gaussian_inputs(draw, with_eps=True):
    n, k = draw(st.integers(1, 4)), draw(st.integers(1, 5))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    mu = 3.0 * rng.standard_normal((n, k))
    lv = _logvars(rng, (n, k))
    if draw(st.booleans()):
        mu[0], lv[0] = 0.0, 0.0                      # the prior itself: KL = 0
    out = {"mu": mu, "logvar": lv}
    if with_eps:
        eps = rng.standard_normal((n, k))
        if draw(st.booleans()):
            eps[-1] = 0.0                            # ε = 0: z = μ exactly
        out["eps"] = eps
    return out


def _reparam_convention_cases(conv):
    return _gaussian_inputs().map(lambda d: {**d, "logvar": _to_param(d["logvar"], conv["parameterization"])})


@st.composite
def _kl_quadrature_cases(draw):
    n = draw(st.integers(1, 3))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    return {"mu": rng.uniform(-3.0, 3.0, (n, 1)), "logvar": rng.uniform(-4.0, 4.0, (n, 1))}


def _model_draw(rng, n, d, k):
    W = rng.standard_normal((d, k))
    c = rng.standard_normal(d)
    s2 = float(rng.uniform(0.1, 2.0))
    x = rng.standard_normal((n, k)) @ W.T + c + math.sqrt(s2) * rng.standard_normal((n, d))
    return {"x": x, "W": W, "c": c, "s2": s2}


def _posterior(W, c, s2, x):
    """q*(z|x) = N(S* Wᵀ(x - c)/s², S*), S* = (I + WᵀW/s²)⁻¹, in float64 NumPy."""
    k = W.shape[1]
    S_post = np.linalg.inv(np.eye(k) + W.T @ W / s2)
    S_post = 0.5 * (S_post + S_post.T)
    m_post = (x - c) @ W @ S_post / s2
    return m_post, S_post


@st.composite
def _elbo_inputs(draw, d_max=5, k_max=3):
    n, d, k = draw(st.integers(1, 3)), draw(st.integers(1, d_max)), draw(st.integers(1, k_max))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    inp = _model_draw(rng, n, d, k)
    Q, _ = np.linalg.qr(rng.standard_normal((k, k)))
    lam = np.exp(rng.uniform(math.log(0.05), math.log(10.0), (n, k)))   # eigenvalues of S in [0.05, 10]
    S = np.einsum("ij,nj,kj->nik", Q, lam, Q)
    S = 0.5 * (S + np.swapaxes(S, 1, 2))
    m = rng.standard_normal((n, k))
    if draw(st.booleans()):                                               # the exact posterior: ELBO = log p(x)
        m_post, S_post = _posterior(inp["W"], inp["c"], inp["s2"], inp["x"])
        m, S = m_post, np.broadcast_to(S_post, (n, k, k)).copy()
    return {**inp, "m": m, "S": S}


@st.composite
def _evidence_inputs(draw):
    n, d, k = draw(st.integers(1, 3)), draw(st.integers(1, 5)), draw(st.integers(1, 3))
    return _model_draw(np.random.default_rng(draw(st.integers(0, 2**32 - 1))), n, d, k)


@st.composite
def _loss_inputs(draw):
    n = draw(st.integers(1, 4))
    data = draw(st.one_of(st.tuples(st.integers(1, 8)), st.tuples(st.integers(1, 3), *[st.integers(1, 4)] * 2)))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    x = rng.uniform(-1.0, 1.0, (n, *data))            # rows (n, D), or images (n, C, H, W) as 02's loss takes
    x_hat = x + 0.3 * rng.standard_normal(x.shape)
    g = draw(_gaussian_inputs(with_eps=False))
    mu = np.resize(g["mu"], (n, g["mu"].shape[1]))
    lv = np.resize(g["logvar"], (n, g["logvar"].shape[1]))
    if draw(st.booleans()):
        x_hat[0] = x[0]                              # perfect reconstruction of one row
    return {"x": x, "x_hat": x_hat, "mu": mu, "logvar": lv}


# ---- comparisons scaled by the terms' magnitude -------------------------------------------------
def _reparam_compare(ctx, got, expected, inp):
    _close_scaled(ctx, "vae.reparameterization", got, expected, np.abs(inp["mu"]) + np.abs(expected - inp["mu"]), "z")


def _kl_compare(ctx, got, expected, inp):
    scale = _reduce(_kl_magnitude(inp["mu"], inp["logvar"]), _variant(ctx, "vae.kl", "reduction") or "sum_last")
    _close_scaled(ctx, "vae.kl", got, expected, scale, "KL")


def _elbo_magnitude(x, W, c, s2, m, S):
    d, k = W.shape
    r = x - c - m @ W.T
    logdet = np.linalg.slogdet(S)[1]
    return (0.5 * d * abs(math.log(2 * math.pi * s2))
            + (np.sum(r**2, -1) + np.einsum("ij,nji->n", W.T @ W, S)) / (2 * s2)
            + 0.5 * (np.trace(S, axis1=1, axis2=2) + np.sum(m**2, -1) + k + np.abs(logdet)))


def _evidence_magnitude(x, W, c, s2):
    d = W.shape[0]
    C = W @ W.T + s2 * np.eye(d)
    r = x - c
    return 0.5 * (d * math.log(2 * math.pi) + abs(np.linalg.slogdet(C)[1]) + np.sum(r * np.linalg.solve(C, r.T).T, -1))


def _loss_magnitude(x, x_hat, mu, logvar):
    return np.sum((x_hat - x) ** 2) + np.sum(_kl_magnitude(mu, logvar)) + 0.5 * x.size * math.log(2 * math.pi)


# ---- properties ---------------------------------------------------------------------------------
def _z_minus_mu_is_sigma_eps(ctx, fn, inp):
    cid = "vae.reparameterization"
    variant = _variant(ctx, cid, "parameterization")
    mu, eps = inp["mu"], inp["eps"]
    z = fn(mu=mu, logvar=_to_param(inp["logvar"], variant), eps=eps)
    sigma_eps = np.sqrt(np.exp(inp["logvar"])) * eps                  # σ = √(σ²), not the reference's exp(½ logvar)
    _close_scaled(ctx, cid, z - mu, sigma_eps, np.abs(mu) + np.abs(sigma_eps), "z - μ vs σ ε")
    z0 = fn(mu=mu, logvar=_to_param(inp["logvar"], variant), eps=np.zeros_like(eps))
    ctx.assert_close(cid, z0, mu, what="z at ε = 0 vs μ",
                     tol=spec.get(cid).tolerance_of("z - μ = σ ε; ε = 0 gives z = μ", ctx.dtype))


def _autograd(ctx, fn, inp):
    """Torch targets: ∂z/∂μ = 1 and ∂z/∂a = (dσ/da) ε by autograd through the target (a NumPy target has none)."""
    cid = "vae.reparameterization"
    if ctx.target.backend != "torch":
        return
    import torch
    variant = _variant(ctx, cid, "parameterization")
    raw = ctx.target.binding(cid)
    dt = ctx._torch_dtype()
    mu = torch.tensor(inp["mu"], dtype=dt, device=ctx.device, requires_grad=True)
    a = torch.tensor(_to_param(inp["logvar"], variant), dtype=dt, device=ctx.device, requires_grad=True)
    eps = torch.tensor(inp["eps"], dtype=dt, device=ctx.device)
    try:
        with torch.enable_grad():
            g_mu, g_a = torch.autograd.grad(raw(mu, a, eps).sum(), (mu, a))
    except Exception as e:  # noqa: BLE001 - not differentiable is a failure of this clause only
        raise AssertionError(f"{cid}: autograd through the target failed: {type(e).__name__}: {e}") from None
    a64, e64 = a.detach().double().cpu().numpy(), eps.double().cpu().numpy()
    dsigma_da = {"logvar": lambda: 0.5 * np.exp(0.5 * a64), "log_sigma": lambda: np.exp(a64),
                 "sigma": lambda: np.ones_like(a64)}[variant]()
    g_mu = g_mu.double().cpu().numpy()
    exact = spec.get(cid).tolerance_of("autograd: ∂z/∂μ = 1, ∂z/∂logvar = ½ σ ε (torch targets)", ctx.dtype)
    ctx.assert_close(cid, g_mu, np.ones_like(g_mu), what="∂z/∂μ vs 1", tol=exact)
    want = dsigma_da * e64
    _close_scaled(ctx, cid, g_a.double().cpu().numpy(), want, np.abs(want), f"∂z/∂{variant} vs (dσ/d{variant}) ε")


def _kl_nonnegative(ctx, fn, inp):
    cid = "vae.kl"
    red = _variant(ctx, cid, "reduction")
    kl = fn(**inp)
    tol = ctx.tolerance(cid)
    slack = tol.atol * _reduce(_kl_magnitude(inp["mu"], inp["logvar"]), red)
    ctx.require(cid, bool(np.all(kl >= -slack)), f"KL must be ≥ 0, got {kl}")
    zero = fn(mu=np.zeros_like(inp["mu"]), logvar=np.zeros_like(inp["logvar"]))
    ctx.assert_close(cid, zero, np.zeros_like(zero), what="KL(N(0, 1) ‖ N(0, 1)) vs 0",
                     tol=spec.get(cid).tolerance_of("KL ≥ 0, and KL = 0 exactly at the prior", ctx.dtype))


def _kl_quadrature(ctx, fn, inp):
    """The target's KL against ∫ q log(q/p) dz by the trapezoid rule on μ ± 12σ (spectrally accurate here)."""
    cid = "vae.kl"
    mu, lv = inp["mu"][:, 0], inp["logvar"][:, 0]
    sd = np.sqrt(np.exp(lv))
    zs = mu[:, None] + sd[:, None] * np.linspace(-12.0, 12.0, 4001)[None, :]
    log_q = stats.norm.logpdf(zs, mu[:, None], sd[:, None])
    integrand = np.exp(log_q) * (log_q - stats.norm.logpdf(zs))
    per_sample = np.trapezoid(integrand, zs, axis=1)
    red = _variant(ctx, cid, "reduction")
    _close_scaled(ctx, cid, fn(**inp), _reduce(per_sample, red), _reduce(_kl_magnitude(inp["mu"], lv[:, None]), red),
                  "KL vs quadrature of ∫ q log(q/p)")


def _mvn_logpdf(v, mean, cov):
    """log N(v; mean, cov) row by row, through slogdet and solve (not the reference's Cholesky route)."""
    r = np.atleast_2d(v - mean)
    quad = np.sum(r * np.linalg.solve(cov, r.T).T, axis=-1)
    return -0.5 * (r.shape[-1] * math.log(2 * math.pi) + np.linalg.slogdet(cov)[1] + quad)


def _log_px(x, W, c, s2):
    return _mvn_logpdf(x, c, W @ W.T + s2 * np.eye(W.shape[0]))


def _elbo_bound(ctx, fn, inp):
    cid = "vae.elbo"
    elbo = fn(**inp)
    log_px = _log_px(inp["x"], inp["W"], inp["c"], inp["s2"])
    slack = ctx.tolerance(cid).atol * _elbo_magnitude(**inp) + ctx.tolerance(cid).rtol * np.abs(log_px)
    ctx.require(cid, bool(np.all(elbo <= log_px + slack)), f"ELBO {elbo} exceeds log p(x) {log_px}")


def _elbo_tight_at_posterior(ctx, fn, inp):
    cid = "vae.elbo"
    x, W, c, s2 = inp["x"], inp["W"], inp["c"], inp["s2"]
    m_post, S_post = _posterior(W, c, s2, x)
    S_post = np.broadcast_to(S_post, (x.shape[0],) + S_post.shape).copy()
    q = {"x": x, "W": W, "c": c, "s2": s2, "m": m_post, "S": S_post}
    _close_scaled(ctx, cid, fn(**q), _log_px(x, W, c, s2), _elbo_magnitude(**q),
                  "ELBO at the exact posterior vs log p(x)")


def _elbo_gap_is_kl(ctx, fn, inp):
    """log p(x) - ELBO(q) = KL(q ‖ p(z|x)) for a full-covariance Gaussian q."""
    cid = "vae.elbo"
    x, W, c, s2, m, S = (inp[k] for k in ("x", "W", "c", "s2", "m", "S"))
    m_post, S_post = _posterior(W, c, s2, x)
    P = np.linalg.inv(S_post)
    dm = m_post - m
    k = W.shape[1]
    kl = 0.5 * (np.einsum("ij,nji->n", P, S) + np.einsum("ni,ij,nj->n", dm, P, dm) - k
                + np.linalg.slogdet(S_post)[1] - np.linalg.slogdet(S)[1])
    _close_scaled(ctx, cid, _log_px(x, W, c, s2) - fn(**inp), kl, _elbo_magnitude(**inp),
                  "log p(x) - ELBO vs KL(q ‖ posterior)")


def _bayes(ctx, fn, inp):
    """log p(x) = log p(x|z) + log p(z) - log p(z|x) at an arbitrary z (here z = 0.7·1 - 0.3 m*)."""
    cid = "vae.log_evidence"
    x, W, c, s2 = inp["x"], inp["W"], inp["c"], inp["s2"]
    d, k = W.shape
    m_post, S_post = _posterior(W, c, s2, x)
    zs = 0.7 - 0.3 * m_post
    rhs = np.array([_mvn_logpdf(xi, W @ z + c, s2 * np.eye(d))[0] + _mvn_logpdf(z, np.zeros(k), np.eye(k))[0]
                    - _mvn_logpdf(z, mp, S_post)[0] for xi, z, mp in zip(x, zs, m_post, strict=True)])
    _close_scaled(ctx, cid, fn(**inp), rhs, _evidence_magnitude(**inp),
                  "log p(x) vs log p(x|z) + log p(z) - log p(z|x)")


def _loss_decomposition(ctx, fn, inp):
    """loss(x, x̂, 0, 0) is the reconstruction term alone and loss(x, x, μ, logvar) - loss(x, x, 0, 0) the KL."""
    cid = "vae.loss"
    variant = _variant(ctx, cid, "reconstruction")
    x, x_hat, mu, lv = inp["x"], inp["x_hat"], inp["mu"], inp["logvar"]
    D = x.size
    sse = np.sum((x_hat - x) ** 2)
    nll = lambda var: -np.sum(stats.norm.logpdf(x, x_hat, math.sqrt(var)))   # -log N(x; x̂, var I)
    recon = {"sse": lambda: sse, "gaussian_nll_half": lambda: nll(0.5), "gaussian_nll_unit": lambda: nll(1.0),
             "mse_mean": lambda: sse / D}[variant]()
    zeros = np.zeros_like(mu)
    mag = _loss_magnitude(**inp)
    _close_scaled(ctx, cid, fn(x=x, x_hat=x_hat, mu=zeros, logvar=zeros), recon, mag, "loss at the prior vs recon")
    sd = np.sqrt(np.exp(lv))
    kl = np.sum(-np.log(sd) + (sd**2 + mu**2) / 2 - 0.5)                # KL in σ form
    got = fn(x=x, x_hat=x, mu=mu, logvar=lv) - fn(x=x, x_hat=x, mu=zeros, logvar=zeros)
    _close_scaled(ctx, cid, got, kl, mag, "loss(x, x, μ, logvar) - loss(x, x, 0, 0) vs KL")


# ---- the checks ---------------------------------------------------------------------------------
CHECKS = [
    ClauseChecks(
        clause="vae.reparameterization",
        cases=_gaussian_inputs(),
        convention_cases=_reparam_convention_cases,
        compare=_reparam_compare,
        proofs=(Proof("∂z/∂μ = 1", lambda: sp.diff(mu_ + sigma_ * eps_, mu_) - 1),
                Proof("∂z/∂σ = ε", lambda: sp.diff(mu_ + sigma_ * eps_, sigma_) - eps_),
                Proof("∂z/∂logvar = ½ σ ε with σ = exp(½ logvar)",
                      lambda: sp.diff(Z, lv_) - sp.exp(lv_ / 2) * eps_ / 2),
                Proof("ε ~ N(0, 1) ⇒ E z = μ, Var z = exp(logvar)", lambda: (
                    sps.E(Z.subs(eps_, sps.Normal("e", 0, 1))) - mu_,
                    sps.variance(Z.subs(eps_, sps.Normal("e", 0, 1))) - sp.exp(lv_)))),
        symbolic=lambda mu, logvar, eps: _lambdified("z")(mu, logvar, eps),
        properties=(Property("z - μ = σ ε; ε = 0 gives z = μ", _z_minus_mu_is_sigma_eps, cases=_gaussian_inputs()),
                    Property("autograd: ∂z/∂μ = 1, ∂z/∂logvar = ½ σ ε (torch targets)", _autograd,
                             cases=_gaussian_inputs())),   # logvar drawn; each property maps it to the variant
        example=lambda: {"mu": np.array([[0.0, 1.0]]), "logvar": np.array([[0.0, math.log(4.0)]]),
                         "eps": np.array([[1.0, -0.5]])},
    ),
    ClauseChecks(
        clause="vae.kl",
        cases=_gaussian_inputs(with_eps=False),
        compare=_kl_compare,
        proofs=(Proof("∫ N(μ, σ²) log(N(μ, σ²)/N(0, 1)) dz = -½(1 + logvar - μ² - e^logvar), σ² = e^logvar",
                      lambda: _zero(kl_integral().subs(sigma_, sp.exp(lv_ / 2)) - KL_CLOSED)),
                Proof("KL = 0 at μ = 0, logvar = 0 and ∂KL/∂μ = ∂KL/∂logvar = 0 there (the minimum)",
                      lambda: (KL_CLOSED.subs({mu_: 0, lv_: 0}), sp.diff(KL_CLOSED, mu_).subs({mu_: 0, lv_: 0}),
                               sp.diff(KL_CLOSED, lv_).subs({mu_: 0, lv_: 0})))),
        symbolic=lambda mu, logvar: np.sum(_lambdified("kl")(mu, logvar), axis=-1),
        properties=(Property("KL ≥ 0, and KL = 0 exactly at the prior", _kl_nonnegative),
                    Property("equals ∫ q log(q/p) dz by quadrature", _kl_quadrature, cases=_kl_quadrature_cases())),
        example=lambda: {"mu": np.array([[0.0, 0.0], [1.0, -1.0]]),
                         "logvar": np.array([[0.0, 0.0], [0.0, math.log(2.0)]])},
    ),
    ClauseChecks(
        clause="vae.elbo",
        cases=_elbo_inputs(),
        compare=lambda ctx, got, expected, inp: _close_scaled(ctx, "vae.elbo", got, expected, _elbo_magnitude(**inp),
                                                              "ELBO"),
        proofs=(Proof("E_{N(m,S)} log N(x; wz + c, s²) = -½log 2πs² - ((x - c - wm)² + w²S)/(2s²)  (integration)",
                      lambda: _zero(expected_loglik() - EXPECTED_LOGLIK_CLOSED)),
                Proof("log p(x) - ELBO(m, S) = KL(N(m, S) ‖ p(z|x))  (d = k = 1)",
                      lambda: _zero(LOG_EVIDENCE - elbo_1d() - kl_gauss_1d(m_, S_, POST_MEAN, POST_VAR))),
                Proof("ELBO(m*, S*) = log p(x) at the exact posterior",
                      lambda: _zero(elbo_1d().subs({m_: POST_MEAN, S_: POST_VAR}) - LOG_EVIDENCE))),
        symbolic=lambda x, W, c, s2, m, S: _lambdified("elbo")(x[:, 0], W[0, 0], c[0], s2, m[:, 0], S[:, 0, 0]),
        symbolic_cases=_elbo_inputs(d_max=1, k_max=1),
        properties=(Property("ELBO ≤ log p(x)", _elbo_bound),
                    Property("ELBO = log p(x) at the exact posterior", _elbo_tight_at_posterior),
                    Property("log p(x) - ELBO = KL(q ‖ p(z|x))", _elbo_gap_is_kl)),
        max_examples=20,
        example=lambda: {"x": np.array([[1.0, 0.0]]), "W": np.array([[1.0], [0.5]]), "c": np.zeros(2), "s2": 0.5,
                         "m": np.array([[0.3]]), "S": np.array([[[0.5]]])},
    ),
    ClauseChecks(
        clause="vae.log_evidence",
        cases=_evidence_inputs(),
        compare=lambda ctx, got, expected, inp: _close_scaled(ctx, "vae.log_evidence", got, expected,
                                                              _evidence_magnitude(**inp), "log p(x)"),
        proofs=(Proof("Bayes: log N(x; wz + c, s²) + log N(z; 0, 1) - log N(z; m*, S*) = log N(x; c, w² + s²) for all "
                      "z",
                      lambda: _zero(log_normal(x_, w_ * z_ + c_, s2_) + log_normal(z_, 0, 1)
                                    - log_normal(z_, POST_MEAN, POST_VAR) - LOG_EVIDENCE)),),
        symbolic=lambda x, W, c, s2: _lambdified("log_evidence")(x[:, 0], W[0, 0], c[0], s2),
        symbolic_cases=_elbo_inputs(d_max=1, k_max=1).map(lambda d: {k: d[k] for k in ("x", "W", "c", "s2")}),
        properties=(Property("Bayes' rule at an arbitrary z", _bayes),),
        max_examples=20,
        example=lambda: {"x": np.array([[1.0, 0.0]]), "W": np.array([[1.0], [0.5]]), "c": np.zeros(2), "s2": 0.5},
    ),
    ClauseChecks(
        clause="vae.loss",
        cases=_loss_inputs(),
        compare=lambda ctx, got, expected, inp: _close_scaled(ctx, "vae.loss", got, expected, _loss_magnitude(**inp),
                                                              "loss"),
        properties=(Property("recon term at the prior; KL term at perfect reconstruction", _loss_decomposition),),
        example=lambda: {"x": np.array([[1.0, 0.0]]), "x_hat": np.array([[0.5, 0.0]]), "mu": np.array([[1.0]]),
                         "logvar": np.array([[0.0]])},
    ),
]
