"""Conformance checks of the cond family: the class-conditional oracle, the class posterior, the conditional loss.

The oracle cases are valid class-conditional mixtures (conformance/fixtures.oracle_inputs: covariances positive
definite, every class weighted), which the symbols' domains cannot generate; the loss's cases come from its domains.
"""
from __future__ import annotations

import numpy as np
import scipy.stats
import sympy as sp
import sympy.stats as ss
from hypothesis import strategies as st

from genspec.reference import cond as R

from ..fixtures import (
    _seeds,
    linear_field,
    make_mixture,
    null_of,
    num_classes,
    oracle_field,
    oracle_inputs,
    random_labels,
    sample_labelled,
)
from ..harness.declare import ClauseChecks, Dual, Proof, Property
from ..harness.inputs import derived, inputs

VELOCITY, POSTERIOR, LOSS = "cond.velocity", "cond.class_posterior", "cond.loss"


def _velocity_cases(conv):
    return oracle_inputs(null_label=conv["null_label"])


_posterior_cases = oracle_inputs(allow_null=False).map(lambda inp: {k: v for k, v in inp.items() if k != "y"})


_loss_cases = inputs(LOSS, dims={"n": (1, 12), "d": (1, 3)},
                     f=derived(lambda v: _seeds.map(lambda s: linear_field(s, v["d"], v["C"]))),
                     y=derived(lambda v: random_labels(v["n"], v["C"] + 1)))
"""x, z, t from the clause's domains; a linear field of C classes (C a named dimension, 1..4) and labels for it,
the null label y_∅ = C included (training with conditioning dropout passes it)."""


# ---- properties ---------------------------------------------------------------------------------
def _gm(inp):
    return {k: inp[k] for k in ("weights", "means", "covs", "labels")}


def _total_expectation(ctx, fn, inp):
    """f(x_t, y_∅, t) = Σ_y p(y | x_t) f(x_t, y, t), p(y | x_t) from the reference class posterior."""
    null = null_of(inp, ctx.convention(VELOCITY, "null_label"))
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
    null = null_of(inp, ctx.convention(VELOCITY, "null_label"))
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
    x, y = sample_labelled(LOSS_GM, n, rng)
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
        cases=_posterior_cases,
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
        cases=_loss_cases,
        proofs=(Proof("E[(f − v)² | x_t] = (f − E[v|x_t])² + Var[v|x_t]: the conditional mean minimises it",
                      _loss_orthogonality_proof),),
        properties=(Property("the conditional oracle minimises the loss on pairs (x, y)", _loss_minimised_by_oracle,
                             cases=st.just({})),),
        example=lambda: {"f": linear_field(0, 2, 2), "x": np.array([[1.0, 0.0]]), "y": np.array([1]),
                         "z": np.array([[0.0, 1.0]]), "t": np.array([0.5])},
    ),
]

__all__ = ["CHECKS"]
