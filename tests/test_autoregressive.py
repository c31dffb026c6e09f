"""Autoregressive family (spec/autoregressive.py, ids ar.*): the telescoping proof, hand-computed chain rules and
inverse-CDF draws, singular prefixes, bad inputs, the chi-square test of ancestral sampling, and planted bugs.

Budget: ≈ 5 s of CPU.
"""
import math

import numpy as np
import pytest
import torch

from genspec.accelerated import autoregressive as A
from genspec.conformance import Target
from genspec.conformance.checks import autoregressive as C
from genspec.conformance.harness.api import check, failing
from genspec.conformance.harness.context import Context
from genspec.conformance.harness.target import from_modules
from genspec.reference import autoregressive as R
from genspec.spec.errors import SpecInputError

# p(x0, x1): p(0, 0) = ½, p(0, 1) = 0, p(1, 0) = p(1, 1) = ¼
JOINT = np.array([[0.5, 0.0], [0.25, 0.25]])
BACKENDS = {"reference": (R, np.asarray, np.asarray),
            "accelerated": (A, lambda a: torch.as_tensor(np.asarray(a)), lambda t: t.cpu().numpy())}


@pytest.mark.parametrize("backend", BACKENDS)
def test_chain_rule_by_hand(backend):
    mod, arr, out = BACKENDS[backend]
    x = np.array([[0, 0], [1, 1], [1, 0], [0, 1]])
    got = out(mod.chain_rule_log_prob(arr(JOINT), arr(x)))
    # p(x0=0) = ½, p(0|0) = 1;  p(x0=1) = ½, p(1|1) = ½;  p(0|1) = ½;  p(1|0) = 0
    np.testing.assert_allclose(got[:3], [math.log(0.5), math.log(0.25), math.log(0.25)], rtol=1e-15)
    assert got[3] == -np.inf


@pytest.mark.parametrize("backend", BACKENDS)
def test_zero_probability_prefix_gives_minus_inf_never_nan(backend):
    mod, arr, out = BACKENDS[backend]
    joint = np.zeros((2, 2, 2))
    joint[1] = 0.25                                   # p(x0 = 0) = 0: every later conditional is undefined
    got = out(mod.chain_rule_log_prob(arr(joint), arr(np.array([[0, 0, 0], [0, 1, 1], [1, 0, 1]]))))
    assert np.array_equal(got[:2], [-np.inf, -np.inf]) and not np.isnan(got).any()
    assert got[2] == pytest.approx(math.log(0.25))


def test_single_token_and_int32_tokens():
    joint = np.array([0.25, 0.75])
    np.testing.assert_allclose(R.chain_rule_log_prob(joint, np.array([[1], [0]], dtype=np.int32)), np.log([0.75, 0.25]))
    got = A.chain_rule_log_prob(torch.tensor(joint, dtype=torch.float32), torch.tensor([[1], [0]], dtype=torch.int32))
    assert got.dtype == torch.float32
    np.testing.assert_allclose(got.numpy(), np.log([0.75, 0.25]), rtol=1e-6)


@pytest.mark.parametrize("backend", BACKENDS)
def test_inverse_cdf_by_hand(backend):
    mod, arr, out = BACKENDS[backend]
    u = np.array([[0.1, 0.9],      # F(0) = ½ > 0.1 → x0 = 0; p(·|0) = (1, 0), F(0) = 1 > 0.9 → 0
                  [0.5, 0.5],      # F(0) = ½ is not > ½ → x0 = 1; p(·|1) = (½, ½), F(0) = ½ not > ½ → 1
                  [0.0, 0.0],      # u = 0 → the first token of positive probability
                  [1.0, 1.0],      # u = 1 → the last token of positive probability: x0 = 1, x1 = 1
                  [0.2, 1.0]])     # x0 = 0, then u = 1 → the last positive token given x0 = 0, which is 0 (p(1|0) = 0)
    got = out(mod.ancestral_sample(arr(JOINT), arr(u)))
    assert got.tolist() == [[0, 0], [1, 1], [0, 0], [1, 1], [0, 0]]


def test_accelerated_sampling_equals_reference_on_smooth_joints():
    rng = np.random.default_rng(7)
    for K, L in [(2, 1), (3, 3), (4, 4)]:
        joint = rng.dirichlet(np.full(K**L, 0.3)).reshape((K,) * L)
        u = rng.random((500, L))
        assert np.array_equal(A.ancestral_sample(torch.tensor(joint), torch.tensor(u)).numpy(),
                              R.ancestral_sample(joint, u))
        x = R.ancestral_sample(joint, u)
        np.testing.assert_allclose(R.chain_rule_log_prob(joint, x), np.log(joint[tuple(x.T)]), rtol=1e-13)


def test_dyadic_joints_are_exact_in_bfloat16():
    rng = np.random.default_rng(1)
    for K, L in [(2, 1), (4, 4), (3, 2)]:
        joint = C.dyadic_joint(rng, K, L, zero_cells=2)
        as_bf16 = torch.tensor(joint).to(torch.bfloat16).double().numpy()
        assert np.array_equal(as_bf16, joint) and joint.sum() == 1.0 and (joint == 0).sum() >= 1


def test_chi_square_cells_merge_small_expected_counts():
    obs, exp = C.chi_square_cells(np.array([3, 1, 9, 20, 2]), np.array([2.0, 1.0, 10.0, 20.0, 3.0]))
    # sorted expected 1, 2, 3 (< 5) merge into 6; 10 and 20 stay
    assert obs.tolist() == [6, 9, 20] and exp.tolist() == [6.0, 10.0, 20.0]
    obs, exp = C.chi_square_cells(np.array([1, 1, 30]), np.array([1.0, 2.0, 29.0]))
    assert exp.tolist() == [32.0] and obs.tolist() == [32]     # the merged bin absorbs cells until it reaches 5


# ---- bad inputs ------------------------------------------------------------------------------------
def _bad_calls(arr):
    ok, x = arr(JOINT), arr(np.array([[0, 1]]))
    u = arr(np.array([[0.5, 0.5]]))
    return [
        ("ar.factorization", "joint", lambda m: m.chain_rule_log_prob(arr(np.array([[0.75, -0.25], [0.25, 0.25]])), x)),
        ("ar.factorization", "joint", lambda m: m.chain_rule_log_prob(arr(JOINT * (1 + 1e-6)), x)),
        ("ar.factorization", "joint", lambda m: m.chain_rule_log_prob(arr(np.full((2, 3), 1 / 6)), x)),
        ("ar.factorization", "joint", lambda m: m.chain_rule_log_prob(arr(np.array([[0.5, np.nan], [0.25, 0.25]])), x)),
        ("ar.factorization", "x", lambda m: m.chain_rule_log_prob(ok, arr(np.array([[0, 2]])))),
        ("ar.factorization", "x", lambda m: m.chain_rule_log_prob(ok, arr(np.array([[-1, 0]])))),
        ("ar.factorization", "x", lambda m: m.chain_rule_log_prob(ok, arr(np.array([[0.0, 1.0]])))),
        ("ar.factorization", "x", lambda m: m.chain_rule_log_prob(ok, arr(np.array([0, 1])))),
        ("ar.factorization", "x", lambda m: m.chain_rule_log_prob(ok, arr(np.array([[0, 1, 1]])))),
        ("ar.sampling", "joint", lambda m: m.ancestral_sample(arr(JOINT / 2), u)),
        ("ar.sampling", "u", lambda m: m.ancestral_sample(ok, arr(np.array([[0.5, 1.5]])))),
        ("ar.sampling", "u", lambda m: m.ancestral_sample(ok, arr(np.array([[0.5, 0.5, 0.5]])))),
        ("ar.sampling", "u", lambda m: m.ancestral_sample(ok, arr(np.array([[0.5, np.nan]])))),
    ]


@pytest.mark.parametrize("backend", BACKENDS)
def test_bad_inputs_name_clause_and_argument(backend):
    mod, arr, _ = BACKENDS[backend]
    for clause, argument, call in _bad_calls(arr):
        with pytest.raises(SpecInputError) as e:
            call(mod)
        assert (e.value.clause, e.value.argument) == (clause, argument), str(e.value)


def test_lower_precision_joint_is_normalised_to_its_rounding():
    """A float32 softmax output sums to 1 only within ~1e-7: accepted by the torch implementation, not by float64."""
    joint = torch.softmax(torch.randn(64, generator=torch.Generator().manual_seed(0)), 0).reshape(4, 4, 4)
    assert abs(float(joint.double().sum()) - 1) > 1e-8
    A.chain_rule_log_prob(joint, torch.zeros(1, 3, dtype=torch.long))
    with pytest.raises(SpecInputError):
        R.chain_rule_log_prob(joint.double().numpy(), np.zeros((1, 3), dtype=np.int64))


# ---- the chi-square property and planted bugs ---------------------------------------------------------
def marginal_sampler(joint, u):
    """Planted bug: x_i drawn from the marginal p(x_i), not the conditional p(x_i | x_<i)."""
    L = joint.ndim
    cols = []
    for i in range(L):
        cdf = torch.cumsum(joint.double().sum(dim=tuple(a for a in range(L) if a != i)), 0)
        cols.append(torch.searchsorted(cdf, (u[:, i].double() * cdf[-1]).contiguous(),
                                       right=True).clamp(max=len(cdf) - 1))
    return torch.stack(cols, 1)


def marginal_chain_rule(joint, x):
    """Planted bug: Σ_i log p(x_i) with marginals instead of conditionals."""
    L = joint.ndim
    return sum(torch.log(joint.sum(dim=tuple(a for a in range(L) if a != i))[x[:, i].long()]) for i in range(L))


def test_chi_square_p_values_pass_for_the_sampler_and_fail_for_the_marginal_bug():
    """On a joint without zero cells (so the zero-cell check cannot be what catches the bug)."""
    rng = np.random.default_rng(11)
    inp = {"joint": rng.dirichlet(np.full(27, 2.0)).reshape(3, 3, 3), "u": rng.random((C.CHI2_N, 3))}
    assert (inp["joint"] > 0).all()
    for fn, should_pass in ((A.ancestral_sample, True), (marginal_sampler, False)):
        ctx = Context(target=Target(name="t", backend="torch", bindings={"ar.sampling": fn}))
        if should_pass:
            C._chi_square(ctx, ctx.wrap("ar.sampling", fn), inp)
        else:
            with pytest.raises(AssertionError, match="chi-square"):
                C._chi_square(ctx, ctx.wrap("ar.sampling", fn), inp)


ACC = from_modules("accelerated", "accelerated", "torch")


@pytest.mark.parametrize("clause,bug", [("ar.factorization", marginal_chain_rule), ("ar.sampling", marginal_sampler)],
                         ids=["chain_rule_with_marginals", "sampling_from_marginals"])
def test_planted_bug_fails_exactly_its_clause(clause, bug):
    target = Target(name=f"bug:{clause}", backend="torch", bindings={**ACC.bindings, clause: bug})
    assert failing(check(target, ["ar"], target_independent=False, shrink=False)) == {clause}
