"""Classifier guidance (cfg.classifier_guidance): planted bugs, the declared 'w' convention, bad input, and a trained
noisy classifier guiding reverse-SDE sampling on the 2-D mixture (accelerated/models/classifier.py).

Budget: < 10 s on 2 cores (a 300-step classifier fit, six guided runs of n = 600, T = 100).
Measured (seed 0, 600 training steps, n = 900): adherence 0.35 / 0.78 / 1.00 at s = 0 / 1 / 3 with the trained
classifier, 0.35 / 0.78 / 1.00 with the exact posterior.
"""
import numpy as np
import pytest
import torch

import genspec.accelerated.guidance as A
import genspec.reference.guidance as R
from genspec.accelerated.models import classifier as M
from genspec.conformance import Target
from genspec.conformance.harness.api import check, failing
from genspec.spec import SpecInputError

GM = {"weights": torch.tensor([0.3, 0.3, 0.4], dtype=torch.float64),
      "means": torch.tensor([[-1.0, 0.0], [1.0, 0.0], [0.0, 1.2]], dtype=torch.float64),
      "covs": torch.eye(2, dtype=torch.float64).expand(3, 2, 2) * 0.5,
      "labels": torch.tensor([0, 1, 2])}
Y = torch.arange(3).repeat_interleave(200)


def test_planted_gain_off_by_one_fails():
    bad = Target(name="planted", backend="torch",
                 bindings={"cfg.classifier_guidance": lambda score, grad_log_classifier, s:
                           A.classifier_guided_score(score, grad_log_classifier, 1.0 + s)})
    assert failing(check(bad, ["cfg.classifier_guidance"], target_independent=False, shrink=False)) \
        == {"cfg.classifier_guidance"}


def test_declared_w_convention_conforms():
    """A target written with CFG's w (gain 1 + w) conforms when it declares scale = 'w'."""
    tgt = Target(name="w", backend="torch",
                 bindings={"cfg.classifier_guidance": lambda score, grad_log_classifier, s:
                           A.classifier_guided_score(score, grad_log_classifier, 1.0 + s)},
                 conventions={"cfg.classifier_guidance": {"scale": "w"}})
    assert failing(check(tgt, ["cfg.classifier_guidance"], target_independent=False, shrink=False)) == set()


def test_reference_scales():
    sc, g = np.array([[1.0, 2.0]]), np.array([[0.5, -1.0]])
    np.testing.assert_array_equal(R.classifier_guided_score(sc, g, 2.0), [[2.0, 0.0]])
    np.testing.assert_array_equal(R.classifier_guided_score(sc, g, 1.0, scale="w"), [[2.0, 0.0]])


@pytest.mark.parametrize("call, arg", [
    (lambda: R.classifier_guided_score(np.ones((2, 3)), np.ones((2, 2)), 1.0), "grad_log_classifier"),
    (lambda: R.classifier_guided_score(np.ones((2, 3)), np.ones((2, 3)), np.nan), "s"),
    (lambda: R.classifier_guided_score(np.ones((2, 3)), np.ones((2, 3)), 1.0, scale="gamma"), "scale"),
    (lambda: A.classifier_guided_score(torch.ones(2, 3), torch.ones(3), 1.0), "grad_log_classifier"),
])
def test_bad_input_names_clause_and_argument(call, arg):
    with pytest.raises(SpecInputError) as e:
        call()
    assert e.value.clause == "cfg.classifier_guidance" and e.value.argument == arg


@pytest.fixture(scope="module")
def trained():
    torch.manual_seed(0)
    return M.train_classifier(GM, steps=300, batch=256)


def test_trained_classifier_guidance_raises_adherence(trained):
    adh = [M.adherence(GM, M.guided_samples(GM, trained, Y, s, steps=100), Y) for s in (0.0, 1.0, 3.0)]
    assert adh[0] < adh[1] < adh[2] and adh[2] > 0.9, adh


def test_exact_posterior_guidance_at_s1_samples_the_class_conditional():
    """s = 1 with the exact p(y | x_t) is the conditional score (CFG at w = 0): its adherence matches direct samples
    of p(x | y) within 4 standard errors of the difference of two proportions."""
    x = M.guided_samples(GM, M.exact_log_posterior(GM), Y, 1.0, steps=100)
    guided = M.adherence(GM, x, Y)
    g = torch.Generator().manual_seed(5)
    direct = []
    for c in range(3):
        part = {**GM, "weights": torch.tensor([1.0 if k == c else 0.0 for k in range(3)], dtype=torch.float64)}
        xc, _ = M.sample_mixture(part, 2000, g)
        direct.append(M.adherence(GM, xc, torch.full((2000,), c)))
    p = float(np.mean(direct))
    se = np.sqrt(p * (1 - p) / len(Y) + p * (1 - p) / 6000)
    assert abs(guided - p) < 4 * se, (guided, p, se)
