"""The score and Tweedie's formula: a Monte-Carlo check of the posterior mean on mixture data, singular inputs,
bad input, and a planted bug.

Budget: < 5 s on 2 cores.
"""
import numpy as np
import pytest
import torch

import genspec.accelerated.score as A
import genspec.reference.score as R
from genspec.conformance import Target
from genspec.conformance.checks.score import MIX_MU, MIX_S, MIX_W, _mixture_score
from genspec.conformance.harness.api import check, failing
from genspec.conformance.harness.target import from_modules
from genspec.spec import SpecInputError


def _with(clause, fn):
    base = from_modules("accelerated", "accelerated", "torch")
    bindings = {k: v for k, v in base.bindings.items() if k.startswith("score.")}
    bindings[clause] = fn
    return Target(name=f"planted:{clause}", backend="torch", bindings=bindings)


def test_planted_bug_fails_exactly_its_clause():
    """Tweedie with σ instead of σ² (a common slip): only score.tweedie fails."""
    bad = lambda x_t, score, sigma: (x_t + sigma.reshape(-1, *[1] * (x_t.ndim - 1)) * score,
                                     -sigma.reshape(-1, *[1] * (x_t.ndim - 1)) * score)
    res = check(_with("score.tweedie", bad), ["score"], target_independent=False)
    assert failing(res) == {"score.tweedie"}, {k: r.failures for k, r in res.items() if r.failures}


def test_tweedie_matches_monte_carlo_posterior_mean():
    """Sample (x, z) from the mixture and N(0, 1), x_t = a x + b z; regress x on x_t in narrow bins of x_t."""
    rng = np.random.default_rng(11)
    n, a, b = 400_000, 0.8, 0.6
    k = rng.choice(2, n, p=MIX_W)
    x = MIX_MU[k] + MIX_S[k] * rng.standard_normal(n)
    z = rng.standard_normal(n)
    x_t = a * x + b * z
    centres = np.linspace(-2.5, 2.0, 10)
    for c in centres:
        sel = np.abs(x_t - c) < 0.01
        ex, ez = R.tweedie_affine(np.array([c]), _mixture_score(np.array([c]), a, b), a, b)
        se = x[sel].std() / np.sqrt(sel.sum())
        assert abs(x[sel].mean() - ex[0]) < 5 * se + 0.01, (c, x[sel].mean(), ex[0])      # + bin-width bias
        assert abs(z[sel].mean() - ez[0]) < 5 * z[sel].std() / np.sqrt(sel.sum()) + 0.02


def test_singular_points():
    x_t, s = np.array([[1.0, -2.0]]), np.array([[0.3, 0.4]])
    ex, ee = R.tweedie(x_t, s, 0.0)                                   # σ = 0: E[x | x_t] = x_t, E[ε | x_t] = 0
    np.testing.assert_array_equal(ex, x_t) and np.testing.assert_array_equal(ee, 0 * s)
    ex, ez = R.tweedie_affine(x_t, s, 0.5, 0.0)                       # b = 0: (x_t/a, 0)
    np.testing.assert_array_equal(ex, x_t / 0.5)
    with pytest.raises(SpecInputError) as e:
        R.tweedie_affine(x_t, s, 0.0, 1.0)
    assert (e.value.clause, e.value.argument) == ("score.tweedie_affine", "a")


@pytest.mark.parametrize("call, clause, arg", [
    (lambda: R.gaussian_score(np.ones((2, 2)), np.zeros(2), np.array([[1.0, 2.0], [2.0, 1.0]])), "score.definition",
     "cov"),
    (lambda: R.gaussian_score(np.ones((2, 2)), np.zeros(2), np.array([[1.0, 0.5], [0.0, 1.0]])), "score.definition",
     "cov"),
    (lambda: R.gaussian_score(np.ones((2, 2)), np.zeros(3), np.eye(2)), "score.definition", "mu"),
    (lambda: R.tweedie(np.ones((2, 2)), np.ones((2, 2)), -1.0), "score.tweedie", "sigma"),
    (lambda: R.tweedie(np.ones((2, 2)), np.ones((2, 2)), np.ones(3)), "score.tweedie", "sigma"),
    (lambda: R.tweedie_affine(np.ones((2, 2)), np.ones((2, 3)), 1.0, 1.0), "score.tweedie_affine", "score"),
    (lambda: A.gaussian_score(torch.ones(2, 2), torch.zeros(2), -torch.eye(2)), "score.definition", "cov"),
    (lambda: A.tweedie_affine(torch.ones(2, 2), torch.ones(2, 2), 0.0, 1.0), "score.tweedie_affine", "a"),
])
def test_bad_input_names_clause_and_argument(call, clause, arg):
    with pytest.raises(SpecInputError) as e:
        call()
    assert e.value.clause == clause and e.value.argument == arg
