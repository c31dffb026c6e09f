"""DDPM and DDIM: the forward process against iterated corruptions (exact and Monte Carlo), indexing, singular
steps, bad input.

Budget: < 3 s on 2 cores (Monte Carlo: 20000 chains × 1000 steps in NumPy).
"""
import math

import numpy as np
import pytest
import torch

import accelerated.ddpm as A
import reference.ddpm as R
from spec import SpecInputError

HO = R.linear_betas()


def test_ho_schedule_is_named_and_exact():
    assert HO.shape == (1000,) and HO[0] == 1e-4 and HO[-1] == pytest.approx(0.02, abs=1e-17)
    np.testing.assert_allclose(np.diff(HO), (0.02 - 1e-4) / 999, rtol=1e-9)
    ab = R.alpha_bars(HO)
    assert ab[-1] == pytest.approx(math.exp(np.sum(np.log1p(-HO))), rel=1e-13)   # ᾱ_T ≈ 4.04e-5
    assert 4.0e-5 < ab[-1] < 4.1e-5


def test_forward_equals_iterated_corruptions_exactly_for_long_sequences():
    """m_t = √(1 − β_t) m_{t−1}, v_t = (1 − β_t) v_{t−1} + β_t, iterated 1000 times, vs the closed form."""
    m, v = [1.0], [0.0]
    for b in HO:
        m.append(math.sqrt(1 - b) * m[-1])
        v.append((1 - b) * v[-1] + b)
    t = np.arange(1001)
    mean_coef = R.forward(np.ones((1001, 1)), np.zeros((1001, 1)), t, HO)[:, 0]
    std = R.forward(np.zeros((1001, 1)), np.ones((1001, 1)), t, HO)[:, 0]
    np.testing.assert_allclose(mean_coef, m, rtol=1e-12, atol=0)
    np.testing.assert_allclose(std**2, v, rtol=1e-12, atol=1e-300)


def test_forward_matches_monte_carlo_of_iterated_one_step_corruptions():
    """n = 20000 chains of q(x_t | x_{t−1}) = N(√(1 − β_t) x_{t−1}, β_t): moments within 5 standard errors."""
    rng = np.random.default_rng(7)
    n, x0 = 20000, 1.5
    x = np.full(n, x0)
    checkpoints = {1, 10, 100, 300, 1000}
    for t in range(1, 1001):
        x = math.sqrt(1 - HO[t - 1]) * x + math.sqrt(HO[t - 1]) * rng.standard_normal(n)
        if t in checkpoints:
            mean = R.forward(np.array([[x0]]), np.zeros((1, 1)), np.array([t]), HO)[0, 0]
            var = R.forward(np.zeros((1, 1)), np.ones((1, 1)), np.array([t]), HO)[0, 0] ** 2
            assert abs(x.mean() - mean) < 5 * math.sqrt(var / n), (t, x.mean(), mean)
            assert abs(x.var() - var) < 5 * var * math.sqrt(2 / n), (t, x.var(), var)


def test_zero_based_indexing_is_the_one_based_shifted():
    rng = np.random.default_rng(0)
    x0, eps = rng.standard_normal((4, 3)), rng.standard_normal((4, 3))
    k = np.array([0, 1, 500, 999])                                  # 02's torch.randint(0, T)
    np.testing.assert_array_equal(R.forward(x0, eps, k, HO, indexing="zero_based"), R.forward(x0, eps, k + 1, HO))
    ab = R.alpha_bars(HO)                                           # 02's alpha_bars[t]
    want = np.sqrt(ab[k])[:, None] * x0 + np.sqrt(1 - ab[k])[:, None] * eps
    np.testing.assert_allclose(R.forward(x0, eps, k, HO, indexing="zero_based"), want, rtol=1e-12, atol=1e-12)


def test_ancestral_step_singular_and_variants():
    rng = np.random.default_rng(0)
    x, e, xi = rng.standard_normal((3, 2)), rng.standard_normal((3, 2)), rng.standard_normal((3, 2))
    t1 = np.ones(3, dtype=np.int64)
    for sigma in ("beta_tilde", "beta"):                           # t = 1: no noise in either variant
        np.testing.assert_array_equal(R.ancestral_step(x, e, t1, HO, xi, sigma=sigma),
                                      R.ancestral_step(x, e, t1, HO, 0 * xi, sigma=sigma))
    t = np.full(3, 10)
    d_big = R.ancestral_step(x, e, t, HO, xi, sigma="beta") - R.ancestral_step(x, e, t, HO, 0 * xi, sigma="beta")
    d_small = R.ancestral_step(x, e, t, HO, xi) - R.ancestral_step(x, e, t, HO, 0 * xi)
    assert np.all(np.abs(d_big) >= np.abs(d_small))                 # β_t ≥ β̃_t
    with pytest.raises(SpecInputError) as err:
        R.ancestral_step(x, e, np.zeros(3, dtype=np.int64), HO, xi)  # t = 0: nothing to undo
    assert (err.value.clause, err.value.argument) == ("ddpm.ancestral_step", "t")


def test_ddim_reaches_the_data_and_rejects_forward_jumps():
    rng = np.random.default_rng(0)
    x0, eps = rng.standard_normal((3, 2)), rng.standard_normal((3, 2))
    xt = R.forward(x0, eps, np.full(3, 1000), HO)
    np.testing.assert_allclose(R.ddim_step(xt, eps, np.full(3, 1000), np.zeros(3, dtype=np.int64), HO), x0, atol=1e-12)
    with pytest.raises(SpecInputError) as err:
        R.ddim_step(xt, eps, np.full(3, 5), np.full(3, 5), HO)
    assert (err.value.clause, err.value.argument) == ("ddpm.ddim_step", "t_prev")


def test_accelerated_matches_reference_on_gpu_style_inputs():
    rng = np.random.default_rng(3)
    x0, eps = rng.standard_normal((4, 2)), rng.standard_normal((4, 2))
    t = np.array([0, 1, 999, 1000])
    got = A.forward(torch.tensor(x0, dtype=torch.float32), torch.tensor(eps, dtype=torch.float32), torch.tensor(t),
                    torch.tensor(HO, dtype=torch.float32))
    assert got.dtype == torch.float32
    np.testing.assert_allclose(got.numpy(), R.forward(x0, eps, t, HO.astype(np.float32).astype(np.float64)), atol=2e-6)
    assert A.forward(torch.tensor(x0), torch.tensor(eps), 5, torch.tensor(HO)).shape == (4, 2)   # a Python int t


@pytest.mark.parametrize("call, clause, arg", [
    (lambda: R.forward(np.ones((2, 2)), np.ones((2, 2)), np.array([0.5, 1.0]), HO), "ddpm.forward", "t"),
    (lambda: R.forward(np.ones((2, 2)), np.ones((2, 2)), np.array([1, 1001]), HO), "ddpm.forward", "t"),
    (lambda: R.forward(np.ones((2, 2)), np.ones((2, 2)), np.array([1, 1]), np.array([0.1, 1.0])), "ddpm.forward",
     "betas"),
    (lambda: R.forward(np.ones((2, 2)), np.ones((2, 3)), np.array([1, 1]), HO), "ddpm.forward", "eps"),
    (lambda: R.forward(np.ones((2, 2)), np.ones((2, 2)), np.array([1, 1]), HO,
                       indexing="1"), "ddpm.forward", "indexing"),
    (lambda: R.linear_betas(0), "ddpm.beta_schedule", "T"),
    (lambda: R.alpha_bars(np.array([])), "ddpm.alpha_bar", "betas"),
    (lambda: R.loss(np.ones((2, 2)), np.ones((3, 2))), "ddpm.loss", "eps"),
    (lambda: A.forward(torch.ones(2, 2), torch.ones(2, 2), torch.tensor([0.0, 1.0]), torch.tensor(HO)), "ddpm.forward",
     "t"),
    (lambda: A.ddim_step(torch.ones(2, 2), torch.ones(2, 2), 3, 3, torch.tensor(HO)), "ddpm.ddim_step", "t_prev"),
])
def test_bad_input_names_clause_and_argument(call, clause, arg):
    with pytest.raises(SpecInputError) as e:
        call()
    assert e.value.clause == clause and e.value.argument == arg
