"""The affine family: every singular point, bad input, the round-trip error, the continuous-vs-discrete VP schedule,
and planted bugs the suite must catch.

Budget: < 15 s on 2 cores (two planted-bug runs over the family clauses at the ci profile).
"""
import itertools
import math

import numpy as np
import pytest
import torch

import genspec.accelerated.family as A
import genspec.reference.ddpm as D
import genspec.reference.family as R
from genspec.conformance import Target
from genspec.conformance.checks.family import PATH_SCHEDULES, SINGULAR
from genspec.conformance.harness.api import check, failing
from genspec.conformance.harness.target import from_modules
from genspec.spec import SpecInputError
from genspec.spec.family import TARGETS

FAMILY = ["family.affine", "family.vp_schedule", "family.ve_schedule", "family.interpolate", "family.target",
          "family.loss", "family.recover", "family.convert"]


def _with(clause, fn):
    base = from_modules("accelerated", "accelerated", "torch")
    bindings = {k: v for k, v in base.bindings.items() if k in FAMILY}
    bindings[clause] = fn
    return Target(name=f"planted:{clause}", backend="torch", bindings=bindings)


def _vp_without_sqrt(t, path="rf", target="velocity", schedule=None):
    a, b, c, d = A.coefficients(t, path, target, schedule)
    if path == "vp":                                    # a = ᾱ, b = 1 − ᾱ instead of their square roots
        a, b = a * a, b * b
        if target == "v":
            c, d = -b, a
    return a, b, c, d


def _swap_x_eps(x_t, y, t, from_target, to_target, path="rf", schedule=None):
    swap = {"x": "epsilon", "epsilon": "x"}
    return A.convert(x_t, y, t, from_target, swap.get(to_target, to_target), path, schedule)


PLANTED = {"family.affine": _vp_without_sqrt, "family.convert": _swap_x_eps}


@pytest.mark.parametrize("clause", sorted(PLANTED))
def test_planted_bug_fails_exactly_its_clause(clause):
    res = check(_with(clause, PLANTED[clause]), FAMILY, target_independent=False)
    assert failing(res) == {clause}, {k: r.failures for k, r in res.items() if r.failures}


# ---- singular points: exactly what the clauses say ----------------------------------------------
@pytest.mark.parametrize("path, schedule, target, t", SINGULAR)
def test_every_singular_point_raises_naming_clause_and_t(path, schedule, target, t):
    x_t, y = np.ones((2, 2)), np.array([[1.0, 2.0], [3.0, 4.0]])
    tt = np.array([0.5, t])
    for fn, clause in ((lambda: R.recover(x_t, y, tt, path, target, schedule), "family.recover"),
                       (lambda: R.convert(x_t, y, tt, target, "v", path, schedule), "family.convert"),
                       (lambda: A.convert(torch.tensor(x_t), torch.tensor(y), torch.tensor(tt), target, "v", path,
                                          schedule),
                        "family.convert")):
        with pytest.raises(SpecInputError) as e:
            fn()
        assert (e.value.clause, e.value.argument) == (clause, "t") and f"{t:g}" in str(e.value)
    np.testing.assert_array_equal(R.convert(x_t, y, tt, target, target, path, schedule), y)   # identity is fine


def test_singular_list_is_complete():
    """Scan every (path, target) at t ∈ {0, 1} (and a grid inside): det = 0 or an infinite coefficient
    only at SINGULAR."""
    found = set()
    grid = np.concatenate([[0.0, 1.0], np.linspace(1e-6, 1 - 1e-6, 201)])
    for (path, schedule), target in itertools.product(PATH_SCHEDULES, TARGETS):
        for t in grid:
            try:
                R.recover(np.ones((1, 1)), np.ones((1, 1)), np.array([t]), path, target, schedule)
            except SpecInputError:
                found.add((path, schedule, target, float(t)))
    assert found == set(SINGULAR)


def test_table_values_at_the_endpoints():
    a, b, c, d = R.coefficients(np.array([0.0, 1.0]), "vp", "epsilon", "cosine")
    np.testing.assert_array_equal(a, [1.0, 0.0])                  # exactly: ε-prediction is singular at t = 1
    np.testing.assert_allclose(b, [0.0, 1.0], atol=1e-15)
    a, b, _, _ = R.coefficients(np.array([0.0, 1.0]), "vp", "epsilon", "linear")
    assert a[1] == pytest.approx(math.exp(-0.5 * (0.5 * 19.9 + 0.1)), rel=1e-14)   # √ᾱ(1) = e^{-5.025} > 0
    a, b, _, _ = R.coefficients(np.array([0.0, 1.0]), "ve", "epsilon")
    np.testing.assert_allclose(b, [0.01, 50.0], rtol=1e-14)
    # the default schedule of each path
    np.testing.assert_array_equal(R.coefficients(np.array([0.3]), "vp")[0], R.coefficients(np.array([0.3]), "vp",
                                                                                           schedule="linear")[0])


def test_continuous_linear_vp_is_the_limit_of_ho_et_al():
    """ᾱ(i/T) of the continuous schedule vs the discrete DDPM ᾱ_i (β = 1e-4..0.02, T = 1000): O(1/T) apart."""
    T = 1000
    ab_discrete = D.alpha_bars(D.beta_schedule(T))
    ab_cont = R.vp_alpha_bar(np.arange(1, T + 1) / T)
    err = np.max(np.abs(ab_discrete - ab_cont))
    assert err < 2e-3, err                                        # measured 8.1e-4 (at i = 141)


ROUND_TRIP = {}


@pytest.mark.parametrize("backend", ["reference-float64", "accelerated-float32"])
def test_round_trip_error_over_every_pair(backend):
    """A → B → A on a grid t ∈ [0.01, 0.99] (the stated margin), all paths and target pairs."""
    rng = np.random.default_rng(0)
    t = np.linspace(0.01, 0.99, 99)
    x_t, y = rng.standard_normal((99, 4)), rng.standard_normal((99, 4))
    worst = 0.0
    for (path, schedule), A_, B_ in itertools.product(PATH_SCHEDULES, TARGETS, TARGETS):
        if backend == "reference-float64":
            back = R.convert(x_t, R.convert(x_t, y, t, A_, B_, path, schedule), t, B_, A_, path, schedule)
            err = np.max(np.abs(back - y))
        else:
            f = lambda v: torch.tensor(v, dtype=torch.float32)
            there = A.convert(f(x_t), f(y), f(t), A_, B_, path, schedule)
            back = A.convert(f(x_t), there, f(t), B_, A_, path, schedule)
            err = float((back.double() - f(y).double()).abs().max())
        worst = max(worst, err)
    ROUND_TRIP[backend] = worst
    assert worst < (1e-9 if backend == "reference-float64" else 1e-1), worst


def test_accelerated_coefficients_match_reference_and_accept_python_floats():
    for (path, schedule), target in itertools.product(PATH_SCHEDULES, TARGETS):
        t = np.linspace(0.05, 1.0, 20)
        ref = R.coefficients(t, path, target, schedule)
        acc = A.coefficients(torch.tensor(t), path, target, schedule)
        for r, a in zip(ref, acc, strict=True):
            np.testing.assert_allclose(a.numpy(), r, rtol=1e-13, atol=1e-15)
    a, b, c, d = A.coefficients(0.5, "rf")
    assert float(a) == 0.5 and float(c) == -1.0
    assert A.affine_interpolate(torch.ones(2, 3, dtype=torch.bfloat16), torch.zeros(2, 3, dtype=torch.bfloat16), 0.25,
                                "vp").dtype == torch.bfloat16


@pytest.mark.parametrize("call, clause, arg", [
    (lambda: R.coefficients(np.array([1.5]), "rf"), "family.affine", "t"),
    (lambda: R.coefficients(np.array([0.5]), "edm"), "family.affine", "path"),
    (lambda: R.coefficients(np.array([0.5]), "vp", "noise"), "family.affine", "target"),
    (lambda: R.coefficients(np.array([0.5]), "rf", schedule="cosine"), "family.affine", "schedule"),
    (lambda: R.coefficients(np.array([0.0]), "vp", "velocity"), "family.affine", "t"),
    (lambda: R.affine_interpolate(np.ones((2, 3)), np.ones((2, 3)), np.ones(3) / 2), "family.interpolate", "t"),
    (lambda: R.affine_target(np.ones((2, 3)), np.ones((3, 3)), 0.5), "family.target", "z"),
    (lambda: R.affine_loss(np.ones((2, 2)), np.ones((2, 3)), np.ones((2, 3)), 0.5), "family.loss", "x"),
    (lambda: R.convert(np.ones((2, 2)), np.ones((2, 2)), 0.5, "x", "eps"), "family.convert", "to_target"),
    (lambda: R.vp_alpha_bar(np.array([0.5]), "geometric"), "family.vp_schedule", "schedule"),
    (lambda: R.ve_sigma(np.array([np.nan])), "family.ve_schedule", "t"),
    (lambda: A.recover(torch.ones(2, 2), torch.ones(2, 2), torch.tensor([0.5, 0.0]), "rf", "x"), "family.recover", "t"),
])
def test_bad_input_names_clause_and_argument(call, clause, arg):
    with pytest.raises(SpecInputError) as e:
        call()
    assert e.value.clause == clause and e.value.argument == arg
