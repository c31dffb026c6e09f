"""Conformance checks of the cond family: the class-conditional oracle, the class posterior, the conditional loss.

Also the strategies and callables (Dual) the cfg family reuses: random class-conditional Gaussian mixtures, a
row-wise linear conditional field, and the oracle as a network f(x_t, y, t).
"""
from __future__ import annotations

import functools

import numpy as np
import scipy.stats
import sympy as sp
import sympy.stats as ss
from hypothesis import strategies as st

from reference import cond as R

from ..harness.arrays import T_EDGES, draw_edges
from ..harness.declare import ClauseChecks, Dual, Proof, Property

VELOCITY, POSTERIOR, LOSS = "cond.velocity", "cond.class_posterior", "cond.loss"


# ---- mixtures and fields ------------------------------------------------------------------------
def make_mixture(seed, d=None, num_classes=None):
    """A class-conditional Gaussian mixture: C ∈ {2, 3} classes, C..C+2 components, |μ| ≲ 4, eig Σ ∈ [0.2, 2]."""
    rng = np.random.default_rng(seed)
    d = d or int(rng.integers(1, 4))
    C = num_classes or int(rng.integers(2, 4))
    K = C + int(rng.integers(0, 3))
    labels = rng.permutation(np.concatenate([np.arange(C), rng.integers(0, C, K - C)]))
    weights = rng.uniform(0.2, 1.0, K)
    means = rng.normal(0.0, 1.5, (K, d))
    Q = np.linalg.qr(rng.standard_normal((K, d, d)))[0]
    covs = np.einsum("kij,kj,klj->kil", Q, rng.uniform(0.2, 2.0, (K, d)), Q)
    covs = 0.5 * (covs + np.swapaxes(covs, 1, 2))
    return {"weights": weights / weights.sum(), "means": means, "covs": covs, "labels": labels.astype(np.int64)}


def sample_mixture(gm, n, rng):
    """(x, y) pairs from the mixture: component k ~ w, x ~ N(μ_k, Σ_k), y = ℓ_k."""
    k = rng.choice(len(gm["weights"]), size=n, p=gm["weights"])
    L = np.linalg.cholesky(gm["covs"])
    x = gm["means"][k] + np.einsum("nij,nj->ni", L[k], rng.standard_normal((n, gm["means"].shape[1])))
    return x, gm["labels"][k]


def noisy_points(gm, t, rng):
    """x_t = (1 − t) x + t z with x from the mixture: points where the oracle's posteriors are typical."""
    x, _ = sample_mixture(gm, t.shape[0], rng)
    return (1.0 - t)[:, None] * x + t[:, None] * rng.standard_normal(x.shape)


def fd_grad_log_posterior(x_t, y, t, gm, h=1e-5):
    """∇_{x_t} log p(y | x_t) by central differences of the reference class posterior (error ~h² ≈ 1e-10): the
    implicit classifier's gradient for cfg.score and cfg.classifier_guidance."""
    n, d = x_t.shape
    rows = np.arange(n)
    g = np.empty_like(x_t)
    for j in range(d):
        e = np.zeros(d)
        e[j] = h
        up = np.log(R.class_posterior(x_t + e, t, **gm)[rows, y])
        dn = np.log(R.class_posterior(x_t - e, t, **gm)[rows, y])
        g[:, j] = (up - dn) / (2 * h)
    return g


def num_classes(gm):
    return int(gm["labels"].max()) + 1


def null_of(gm_or_C, null_label="extra_class"):
    C = gm_or_C if isinstance(gm_or_C, int) else num_classes(gm_or_C)
    return R.null_value(C, null_label)


def oracle_field(gm):
    """The class-conditional oracle as a network f(x_t, y, t) in both backends; accepts y_∅ = C or −1.

    The torch side computes in float64 and rounds once to x's dtype, so in a low-precision run only the
    guided step's own arithmetic is under test."""
    C = num_classes(gm)
    fix = lambda y: np.where(y == -1, C, y)

    def f_np(x, y, t):
        return R.conditional_velocity(x, fix(np.asarray(y)), t, gm["weights"], gm["means"], gm["covs"], gm["labels"])

    def f_torch(x, y, t):
        import torch

        from accelerated import cond as A
        dev = x.device
        tens = {k: torch.as_tensor(v, device=dev) for k, v in gm.items()}
        y = torch.where(y == -1, torch.full_like(y, C), y)
        out = A.conditional_velocity(x.double(), y, t.double(), tens["weights"], tens["means"], tens["covs"],
                                     tens["labels"])
        return out.to(x.dtype)

    return Dual(f_np, f_torch, label=f"oracle field, C={C}")


def linear_field(seed, d, C, scale=0.5):
    """f(x, y, t) = x A_y + t b_y with one row per class and a null row (index C, or −1 which NumPy and torch
    both read as the last row): row-wise, cheap, exact up to the dtype's rounding."""
    rng = np.random.default_rng(seed)
    A = rng.normal(0.0, scale / np.sqrt(d), (C + 1, d, d))
    b = rng.normal(0.0, 1.0, (C + 1, d))

    def f_np(x, y, t):
        y = np.asarray(y)
        return np.einsum("ni,nij->nj", x, A[y]) + np.asarray(t)[:, None] * b[y]

    def f_torch(x, y, t):
        import torch
        At, bt = torch.as_tensor(A, device=x.device), torch.as_tensor(b, device=x.device)
        out = torch.einsum("ni,nij->nj", x.double(), At[y]) + t.double()[:, None] * bt[y]
        return out.to(x.dtype)

    return Dual(f_np, f_torch, label=f"linear field d={d} C={C}")


def numpy_side(ref):
    """The reference called with the NumPy side of every Dual argument (run.py hands the reference the inputs
    as drawn, Duals included)."""
    @functools.wraps(ref)
    def call(**kw):
        return ref(**{k: (v.numpy if isinstance(v, Dual) else v) for k, v in kw.items()})
    return call


class Counted:
    """A Dual wrapper that counts calls and rows (x.shape[0] summed over calls) of either backend."""

    def __init__(self, dual):
        self.calls, self.rows = 0, 0

        def wrap(fn):
            def g(x, y, t):
                self.calls += 1
                self.rows += int(x.shape[0])
                return fn(x, y, t)
            return g

        self.dual = Dual(wrap(dual.numpy), wrap(dual.torch), label=f"counted {dual.label}")


# ---- strategies ---------------------------------------------------------------------------------
_seeds = st.integers(0, 2**32 - 1)


@st.composite
def oracle_inputs(draw, null_label="extra_class", allow_null=True, t_low=0.0, t_high=1.0, max_n=8):
    """Keyword inputs (x_t, y, t, weights, means, covs, labels); t includes the endpoints where allowed."""
    gm = make_mixture(draw(_seeds))
    rng = np.random.default_rng(draw(_seeds))
    n = draw(st.integers(1, max_n))
    t = rng.uniform(t_low, t_high, n)
    if draw(st.booleans()):
        t[0] = draw(st.sampled_from([t_low, t_high]))
    if (t_low, t_high) == (0.0, 1.0):
        t = draw_edges(draw, t, T_EDGES)                            # t within 1e-9..1e-3 of 0 and 1
    C = num_classes(gm)
    y = rng.integers(0, C + (1 if allow_null else 0), n)
    if allow_null:
        y = np.where(y == C, null_of(C, null_label), y)
    return {"x_t": noisy_points(gm, t, rng), "y": y.astype(np.int64), "t": t, **gm}


def _velocity_cases(conv):
    return oracle_inputs(null_label=conv["null_label"])


@st.composite
def _posterior_cases(draw):
    inp = draw(oracle_inputs(allow_null=False))
    del inp["y"]
    return inp


@st.composite
def _loss_cases(draw):
    rng = np.random.default_rng(draw(_seeds))
    n, d, C = draw(st.integers(1, 12)), draw(st.integers(1, 3)), draw(st.integers(1, 4))
    t = rng.uniform(0.0, 1.0, n)
    t[0] = draw(st.sampled_from([0.0, 1.0, t[0]]))
    return {"f": linear_field(draw(_seeds), d, C), "x": rng.normal(0, 2, (n, d)),
            "y": rng.integers(0, C + 1, n).astype(np.int64), "z": rng.standard_normal((n, d)), "t": t}


# ---- properties ---------------------------------------------------------------------------------
def _gm(inp):
    return {k: inp[k] for k in ("weights", "means", "covs", "labels")}


def _total_expectation(ctx, fn, inp):
    """f(x_t, y_∅, t) = Σ_y p(y | x_t) f(x_t, y, t), p(y | x_t) from the reference class posterior."""
    null = null_of(inp, ctx.target.conventions_for(VELOCITY)["null_label"])
    x_t, t, gm = inp["x_t"], inp["t"], _gm(inp)
    n, C = x_t.shape[0], num_classes(inp)
    post = R.class_posterior(x_t, t, **gm)
    mixed = sum(post[:, [y]] * fn(x_t=x_t, y=np.full(n, y), t=t, **gm) for y in range(C))
    ctx.assert_close(VELOCITY, mixed, fn(x_t=x_t, y=np.full(n, null), t=t, **gm),
                     what="Σ_y p(y | x_t) f(x_t, y, t) vs f(x_t, y_∅, t)")


def _class_means(inp):
    w, mu, lab = inp["weights"] / inp["weights"].sum(), inp["means"], inp["labels"]
    C = num_classes(inp)
    return np.stack([(w[lab == y, None] * mu[lab == y]).sum(0) / w[lab == y].sum() for y in range(C)] + [w @ mu])


def _endpoints(ctx, fn, inp):
    """t = 1: f = x_t − E[x | y] (class mean; mixture mean for y_∅). t = 0: f = −x_t."""
    null = null_of(inp, ctx.target.conventions_for(VELOCITY)["null_label"])
    x_t, gm = inp["x_t"], _gm(inp)
    n, C = x_t.shape[0], num_classes(inp)
    means = _class_means(inp)[inp["y"]]                       # the cases' null label is C (the default)
    y = np.where(inp["y"] == C, null, inp["y"])
    ctx.assert_close(VELOCITY, fn(x_t=x_t, y=y, t=np.ones(n), **gm), x_t - means, what="f(x_t, y, 1) vs x_t − E[x|y]")
    ctx.assert_close(VELOCITY, fn(x_t=x_t, y=y, t=np.zeros(n), **gm), -x_t, what="f(x_t, y, 0) vs −x_t")


def _posterior_rows(ctx, fn, inp):
    p = fn(**inp)
    n, C = inp["x_t"].shape[0], num_classes(inp)
    ctx.require(POSTERIOR, p.shape == (n, C), f"shape {p.shape}, expected {(n, C)}")
    tol = ctx.tolerance(POSTERIOR)
    ctx.require(POSTERIOR, bool(np.all(p >= -tol.atol) and np.all(p <= 1 + tol.rtol + tol.atol)),
                "probabilities outside [0, 1]")
    ctx.assert_close(POSTERIOR, p.sum(axis=1), np.ones(n), what="Σ_y p(y | x_t)")


def _posterior_prior_at_noise(ctx, fn, inp):
    n = inp["x_t"].shape[0]
    prior = np.bincount(inp["labels"], weights=inp["weights"]) / inp["weights"].sum()
    ctx.assert_close(POSTERIOR, fn(**{**inp, "t": np.ones(n)}), np.tile(prior, (n, 1)), what="p(y | x_1) vs p(y)")


def _posterior_bayes_scipy(ctx, fn, inp):
    """Bayes' rule with densities from scipy.stats: p(y) p_t(x_t | y) / Σ_y' (…), x_t | k ~ N(aμ_k, a²Σ_k + b²I)."""
    x_t, t = inp["x_t"], inp["t"]
    w = inp["weights"] / inp["weights"].sum()
    C, d = num_classes(inp), x_t.shape[1]
    joint = np.zeros((x_t.shape[0], C))
    for i, (x, ti) in enumerate(zip(x_t, t, strict=True)):
        a, b = 1.0 - ti, ti
        for k in range(len(w)):
            S = a * a * inp["covs"][k] + b * b * np.eye(d)
            joint[i, inp["labels"][k]] += w[k] * scipy.stats.multivariate_normal(a * inp["means"][k], S).pdf(x)
    ok = joint.sum(axis=1) > 1e-250  # far tails underflow in density space; the reference works in log space
    got = fn(**inp)
    ctx.assert_close(POSTERIOR, got[ok], (joint / np.where(ok, joint.sum(axis=1), 1.0)[:, None])[ok],
                     what="p(y | x_t) vs Bayes with scipy densities")


LOSS_GM = make_mixture(7, d=2, num_classes=3)


def _loss_minimised_by_oracle(ctx, fn, inp):
    """On pairs (x, y) from the mixture, the conditional oracle beats the unconditional one and any offset."""
    rng = np.random.default_rng(11)
    n = 2000
    x, y = sample_mixture(LOSS_GM, n, rng)
    z, t = rng.standard_normal(x.shape), rng.uniform(0.0, 1.0, n)
    f = oracle_field(LOSS_GM)
    C = num_classes(LOSS_GM)
    shifted = Dual(lambda a, b, c: f.numpy(a, b, c) + 0.3, lambda a, b, c: f.torch(a, b, c) + 0.3, "oracle + 0.3")
    uncond = Dual(lambda a, b, c: f.numpy(a, np.full_like(b, C), c),
                  lambda a, b, c: f.torch(a, b.new_full(b.shape, C), c), "unconditional oracle")
    L = {name: float(fn(f=g, x=x, y=y, z=z, t=t)) for name, g in
         (("oracle", f), ("oracle + 0.3", shifted), ("unconditional", uncond))}
    # expected gap for the offset: ‖δ‖² = 2 · 0.09 = 0.18 (cross term O(1/√n) ≈ 0.03)
    ctx.require(LOSS, L["oracle"] + 0.1 < L["oracle + 0.3"], f"the oracle must beat an offset predictor: {L}")
    ctx.require(LOSS, L["oracle"] + 0.05 < L["unconditional"], f"conditioning must lower the loss: {L}")


# ---- derivations --------------------------------------------------------------------------------
_r = sp.symbols("r1:5", nonnegative=True)      # w_k N(x_t; a μ_k, S_k): unnormalised responsibilities
_m = sp.symbols("m1:5", real=True)             # E[z − x | x_t, k]: per-component posterior means
_classes = ((0, 1), (2, 3))


def _total_expectation_proof():
    total = sum(_r)
    uncond = sum(r * m for r, m in zip(_r, _m, strict=True)) / total
    cond = [sum(_r[k] * _m[k] for k in ks) / sum(_r[k] for k in ks) for ks in _classes]
    post = [sum(_r[k] for k in ks) / total for ks in _classes]
    return sp.simplify(sum(p * c for p, c in zip(post, cond, strict=True)) - uncond)


def _renormalisation_proof():
    """Renormalising class y's weights by p(y) leaves its responsibilities unchanged: p(y) cancels."""
    P = sp.Symbol("P", positive=True)
    ks = _classes[0]
    return sp.simplify(_r[0] / P / sum(_r[k] / P for k in ks) - _r[0] / sum(_r[k] for k in ks))


def _gaussian_marginal_proof():
    """x | k ~ N(μ, σ²), z ~ N(0, 1) independent: a x + b z ~ mean a μ, variance a² σ² + b²."""
    a, b, mu = sp.symbols("a b mu", real=True)
    s = sp.Symbol("sigma", positive=True)
    X, Z = ss.Normal("X", mu, s), ss.Normal("Z", 0, 1)
    xt = a * X + b * Z
    return [sp.simplify(ss.E(xt) - a * mu), sp.simplify(ss.variance(xt) - (a ** 2 * s ** 2 + b ** 2))]


def _bayes_proof():
    py = sp.symbols("q1:4", positive=True)
    lik = sp.symbols("l1:4", positive=True)
    post = [p * l / sum(pp * ll for pp, ll in zip(py, lik, strict=True)) for p, l in zip(py, lik, strict=True)]
    return sp.simplify(sum(post) - 1)


def _loss_orthogonality_proof():
    """E[(f − v)² | x_t] = (f − m)² + s², m = E[v | x_t], s² = Var[v | x_t]: minimised by f = m."""
    f, m = sp.symbols("f m", real=True)
    s2 = sp.Symbol("s2", nonnegative=True)
    risk = f ** 2 - 2 * f * m + (s2 + m ** 2)          # E[f² − 2 f v + v² | x_t]
    return [sp.expand(risk - ((f - m) ** 2 + s2)), sp.solve(sp.diff(risk, f), f)[0] - m]


# ---- the checks ---------------------------------------------------------------------------------
CHECKS = [
    ClauseChecks(
        clause=VELOCITY,
        cases=oracle_inputs(),
        convention_cases=_velocity_cases,
        proofs=(Proof("law of total expectation: Σ_y p(y | x_t) E[v | x_t, y] = E[v | x_t] (mixture algebra)",
                      _total_expectation_proof),
                Proof("renormalised class weights w_k / p(y) give the same responsibilities", _renormalisation_proof),
                Proof("x_t | k ~ N(a μ_k, a² Σ_k + b² I) (mean and variance, 1-D)", _gaussian_marginal_proof)),
        properties=(Property("f(x_t, y_∅, t) = Σ_y p(y | x_t) f(x_t, y, t)", _total_expectation),
                    Property("endpoints: t = 1 gives x_t − E[x | y], t = 0 gives −x_t", _endpoints)),
        max_examples=15,
        example=lambda: {"x_t": np.array([[0.5], [0.5], [0.5]]), "y": np.array([0, 1, 2]), "t": 0.5,
                         "weights": np.array([0.5, 0.5]), "means": np.array([[-2.0], [2.0]]),
                         "covs": np.array([[[0.25]], [[0.25]]]), "labels": np.array([0, 1])},
    ),
    ClauseChecks(
        clause=POSTERIOR,
        cases=_posterior_cases(),
        proofs=(Proof("Bayes: Σ_y p(y) p(x|y) / Σ_y' p(y') p(x|y') = 1", _bayes_proof),
                Proof("x_t | k ~ N(a μ_k, a² Σ_k + b² I) (mean and variance, 1-D)", _gaussian_marginal_proof)),
        properties=(Property("rows are probabilities summing to 1", _posterior_rows),
                    Property("t = 1 gives the prior p(y)", _posterior_prior_at_noise),
                    Property("Bayes' rule with scipy.stats densities", _posterior_bayes_scipy)),
        max_examples=15,
        example=lambda: {"x_t": np.array([[0.0], [1.0]]), "t": 0.5, "weights": np.array([0.5, 0.5]),
                         "means": np.array([[-2.0], [2.0]]), "covs": np.array([[[0.25]], [[0.25]]]),
                         "labels": np.array([0, 1])},
    ),
    ClauseChecks(
        clause=LOSS,
        cases=_loss_cases(),
        reference=numpy_side(R.conditional_rf_loss),
        proofs=(Proof("E[(f − v)² | x_t] = (f − E[v|x_t])² + Var[v|x_t]: the conditional mean minimises it",
                      _loss_orthogonality_proof),),
        properties=(Property("the conditional oracle minimises the loss on pairs (x, y)", _loss_minimised_by_oracle,
                             cases=st.just({})),),
        example=lambda: {"f": linear_field(0, 2, 2), "x": np.array([[1.0, 0.0]]), "y": np.array([1]),
                         "z": np.array([[0.0, 1.0]]), "t": np.array([0.5])},
    ),
]

__all__ = ["CHECKS", "make_mixture", "sample_mixture", "noisy_points", "oracle_field", "linear_field", "Counted",
           "oracle_inputs", "null_of", "num_classes",
           "numpy_side"]
