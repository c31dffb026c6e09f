"""The cond family: class-conditional oracles, the class posterior and the conditional loss.

Expected values come from closed forms derived here (a single Gaussian per class, scipy densities), never from the
code under test. Budget: ≈ 10 s (the planted-bug runs dominate).
"""
import numpy as np
import pytest
import scipy.stats
import torch

from genspec.accelerated import cond as A
from genspec.conformance import Target
from genspec.conformance.fixtures import make_mixture
from genspec.conformance.harness.api import check, failing
from genspec.conformance.harness.target import from_modules
from genspec.reference import cond as R
from genspec.reference import optimal as RO
from genspec.spec.errors import SpecInputError

# Two classes in 1-D, one component each: x | y ~ N(μ_y, s²), p(y) = (0.3, 0.7).
MU, S, PRIOR = np.array([-2.0, 1.5]), 0.6, np.array([0.3, 0.7])
GM = {"weights": PRIOR, "means": MU[:, None], "covs": np.full((2, 1, 1), S ** 2), "labels": np.array([0, 1])}


def gaussian_velocity(x_t, t, mu, s):
    """E[z − x | x_t] for x ~ N(μ, s²), x_t = (1 − t) x + t z (joint-Gaussian conditioning by hand)."""
    var = (1 - t) ** 2 * s ** 2 + t ** 2
    r = x_t - (1 - t) * mu
    return t * r / var - (mu + (1 - t) * s ** 2 * r / var)


def torchify(d):
    return {k: torch.as_tensor(v) for k, v in d.items()}


def test_conditional_velocity_single_gaussian_per_class():
    x_t = np.linspace(-3, 3, 7)[:, None]
    for t in (0.0, 0.3, 0.8, 1.0):
        for y in (0, 1):
            got = R.conditional_velocity(x_t, np.full(7, y), t, **GM)
            np.testing.assert_allclose(got[:, 0], gaussian_velocity(x_t[:, 0], t, MU[y], S), rtol=1e-12, atol=1e-12)


def test_null_label_is_the_whole_mixture_and_total_expectation():
    x_t = np.linspace(-3, 3, 7)[:, None]
    t = 0.4
    post = scipy.stats.norm.pdf(x_t[:, 0, None], (1 - t) * MU, np.sqrt((1 - t) ** 2 * S ** 2 + t ** 2)) * PRIOR
    post /= post.sum(axis=1, keepdims=True)
    by_hand = sum(post[:, y] * gaussian_velocity(x_t[:, 0], t, MU[y], S) for y in (0, 1))
    for null_label, null in (("extra_class", 2), ("minus_one", -1)):
        got = R.conditional_velocity(x_t, np.full(7, null), t, **GM, null_label=null_label)
        np.testing.assert_allclose(got[:, 0], by_hand, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(R.conditional_velocity(x_t, np.full(7, 2), t, **GM),
                               RO.optimal_prediction(x_t, t, GM["weights"], GM["means"], GM["covs"]), atol=1e-14)
    np.testing.assert_allclose(R.class_posterior(x_t, t, **GM), post, rtol=1e-12)


def test_singular_points():
    x_t = np.array([[0.7], [-1.0]])
    y = np.array([0, 2])
    mixture_mean = PRIOR @ MU
    np.testing.assert_allclose(R.conditional_velocity(x_t, y, 1.0, **GM)[:, 0], x_t[:, 0] - [MU[0], mixture_mean])
    np.testing.assert_allclose(R.conditional_velocity(x_t, y, 0.0, **GM), -x_t)
    np.testing.assert_allclose(R.class_posterior(x_t, 1.0, **GM), np.tile(PRIOR, (2, 1)), rtol=1e-15)
    gm = torchify(GM)
    np.testing.assert_allclose(A.conditional_velocity(torch.as_tensor(x_t), torch.as_tensor(y), 1.0,
                                                      **gm).numpy()[:, 0],
                               x_t[:, 0] - [MU[0], mixture_mean], atol=1e-15)


def test_class_without_weight_is_an_input_error():
    gm = dict(GM, weights=np.array([0.0, 1.0]))
    with pytest.raises(SpecInputError, match="cond.velocity.*labels/weights"):
        R.conditional_velocity(np.zeros((1, 1)), np.array([0]), 0.5, **gm)
    with pytest.raises(SpecInputError, match="cond.velocity.*labels/weights"):
        A.conditional_velocity(torch.zeros(1, 1), torch.tensor([0]), 0.5, **torchify(gm))


@pytest.mark.parametrize("backend", ["reference", "accelerated"])
@pytest.mark.parametrize("bad, argument", [
    ({"y": [0.0]}, "y"),                          # float labels
    ({"y": [5]}, "y"),                            # out of range (C = 2, null = 2)
    ({"y": [-1]}, "y"),                           # −1 is the null label only in the minus_one variant
    ({"t": 1.5}, "t"),
    ({"x_t": [[0.0, 1.0]]}, "means"),             # d = 2 from x_t; the mixture has d = 1
    ({"labels": [0.0, 1.0]}, "labels"),
    ({"x_t": [[np.nan]]}, "x_t"),
])
def test_bad_inputs_name_clause_and_argument(backend, bad, argument):
    inp = {"x_t": [[0.0]], "y": [0], "t": 0.5, **{k: v.tolist() for k, v in GM.items()}, **bad}
    if backend == "reference":
        fn, args = R.conditional_velocity, {k: v if k == "t" else np.asarray(v) for k, v in inp.items()}
    else:
        fn, args = A.conditional_velocity, {k: torch.as_tensor(v) for k, v in inp.items()}
    with pytest.raises(SpecInputError) as e:
        fn(**args)
    assert e.value.clause == "cond.velocity" and e.value.argument == argument


def test_loss_bad_predictor_shape():
    with pytest.raises(SpecInputError, match="cond.loss.*'f'"):
        R.conditional_rf_loss(lambda x, y, t: x[:, :1], np.zeros((2, 2)), np.array([0, 1]), np.zeros((2, 2)), 0.5)
    with pytest.raises(SpecInputError, match="cond.loss.*'y'"):
        A.conditional_rf_loss(lambda x, y, t: x, torch.zeros(2, 2), torch.zeros(2), torch.zeros(2, 2), 0.5)


def test_loss_by_hand():
    x, z = np.array([[1.0, 0.0], [0.0, 2.0]]), np.array([[0.0, 1.0], [1.0, 1.0]])
    f = lambda x_t, y, t: np.where(y[:, None] == 0, 0.0, 1.0) * np.ones_like(x_t)
    # f = 0 on row 0 (y = 0), 1 on row 1; targets z − x = (−1, 1), (1, −1): ‖·‖² = 2 and 0 + 4 = 4 → mean 3
    assert R.conditional_rf_loss(f, x, np.array([0, 1]), z, 0.3) == pytest.approx(3.0, abs=1e-15)


# ---- planted bugs: exactly the right clause fails ------------------------------------------------
def _planted(name, clause, fn):
    base = from_modules("accelerated", "accelerated", "torch")
    return Target(name=name, backend="torch", bindings={**base.bindings, clause: fn})


def _ignores_y(x_t, y, t, weights, means, covs, labels):
    """Bug: every label gets the unconditional oracle."""
    C = int(labels.max()) + 1
    return A.conditional_velocity(x_t, torch.full_like(y, C), t, weights, means, covs, labels)


def _posterior_prior_only(x_t, t, weights, means, covs, labels):
    """Bug: p(y | x_t) = p(y) (the likelihood forgotten)."""
    _, prior = A.class_prior("cond.class_posterior", weights, labels)
    return prior.to(x_t.dtype).expand(x_t.shape[0], -1).clone()


@pytest.mark.parametrize("clause, bug",
                         [("cond.velocity", _ignores_y), ("cond.class_posterior", _posterior_prior_only)])
def test_planted_bug_fails_exactly_its_clause(clause, bug):
    res = check(_planted(bug.__name__, clause, bug), ["cond"], target_independent=False)
    assert failing(res) == {clause}


def test_mixture_strategy_is_valid():
    for seed in range(20):
        gm = make_mixture(seed)
        R.class_mixture("cond.velocity", **gm)  # raises if invalid
