"""Rectified flow and 02's flow-matching convention: conventions, bad input, and planted bugs the suite must catch.

Budget: < 8 s on 2 cores (two planted-bug runs of the rf/fm clauses at the ci profile).
"""
import numpy as np
import pytest
import torch

import genspec.accelerated.rf as A
import genspec.reference.rf as R
from genspec.conformance import Target
from genspec.conformance.harness.api import check, failing
from genspec.conformance.harness.target import from_modules
from genspec.spec import SpecInputError

RF = ("rf.", "fm.")


def _with(clause, fn, conventions=None):
    base = from_modules("accelerated", "accelerated", "torch")
    bindings = {k: v for k, v in base.bindings.items() if k.startswith(RF)}
    bindings[clause] = fn
    return Target(name=f"planted:{clause}", backend="torch", bindings=bindings, conventions=conventions or {})


def _per_sample(t, x):
    return t.reshape(t.shape + (1,) * (x.ndim - 1))


# ---- planted bugs: exactly the right clause fails ----------------------------------------------
PLANTED = {
    "rf.interpolation": lambda x, z, t: _per_sample(t, x) * x + (1 - _per_sample(t, x)) * z,   # wrong time direction
    "rf.velocity": lambda x, z: x - z,                                                        # v = x − z
}


@pytest.mark.parametrize("clause", sorted(PLANTED))
def test_planted_bug_fails_exactly_its_clause(clause):
    res = check(_with(clause, PLANTED[clause]), ["rf", "fm"], target_independent=False)
    assert failing(res) == {clause}, {k: r.failures for k, r in res.items() if r.failures}


def test_declared_fm_time_convention_is_checked_in_that_variant():
    """The same 'wrong' functions conform when the target declares 02's noise_at_0 variant."""
    bindings = {k: v for k, v in from_modules("accelerated", "accelerated",
                                              "torch").bindings.items() if k.startswith(RF)}
    bindings.update(PLANTED)
    tgt = Target(name="fm-time", backend="torch", bindings=bindings,
                 conventions={"rf.interpolation": {"time": "noise_at_0"}, "rf.velocity": {"time": "noise_at_0"}})
    assert failing(check(tgt, ["rf.interpolation", "rf.velocity"], target_independent=False)) == set()


# ---- the conventions and their mappings, computed independently ---------------------------------
def test_fm_mapping_t_fm_is_one_minus_t_rf_and_v_fm_is_minus_v_rf():
    rng = np.random.default_rng(0)
    x, z, t = rng.standard_normal((5, 3)), rng.standard_normal((5, 3)), rng.uniform(0, 1, 5)
    xt_fm, v_fm = R.flow_matching_pair(x0=z, x1=x, t=t)
    np.testing.assert_allclose(xt_fm, R.interpolate(x, z, 1 - t), rtol=0, atol=1e-15)
    np.testing.assert_allclose(v_fm, -R.velocity(x, z), rtol=0, atol=0)
    # the reference's noise_at_0 variant is exactly 02's form
    np.testing.assert_allclose(R.interpolate(x, z, t, time="noise_at_0"), (1 - t[:, None]) * z + t[:, None] * x,
                               atol=1e-15)
    # Euler in 02's time from t_fm = 0 (noise) to 1 with v_fm lands on the data in one step (straight path)
    np.testing.assert_allclose(z + 1.0 * v_fm, x, atol=1e-15)


def test_loss_reductions_differ_by_the_number_of_elements_per_sample():
    rng = np.random.default_rng(1)
    f, x, z = (rng.standard_normal((4, 2, 3)) for _ in range(3))
    by_hand = np.mean([np.sum((f[i] - (z[i] - x[i])) ** 2) for i in range(4)])
    assert R.loss(f, x, z) == pytest.approx(by_hand, rel=1e-14)
    assert R.loss(f, x, z, reduction="mse_all_elements") == pytest.approx(by_hand / 6, rel=1e-14)
    mse = torch.nn.functional.mse_loss(torch.tensor(f), torch.tensor(z - x)).item()          # 02's code
    assert R.loss(f, x, z, reduction="mse_all_elements") == pytest.approx(mse, rel=1e-14)


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_accelerated_preserves_dtype(dtype):
    x, z = torch.randn(3, 2, dtype=dtype), torch.randn(3, 2, dtype=dtype)
    t = torch.rand(3, dtype=dtype)
    assert A.interpolate(x, z, t).dtype == dtype and A.velocity(x, z).dtype == dtype
    assert A.loss(x, x, z).dtype == dtype and A.flow_matching_pair(x, z, t)[0].dtype == dtype
    assert A.interpolate(x, z, 0.5).dtype == dtype                                             # a Python float t


# ---- bad input: SpecInputError naming clause and argument ---------------------------------------
@pytest.mark.parametrize("call, clause, arg", [
    (lambda: R.interpolate(np.ones((2, 3)), np.ones((2, 3)), np.array([0.5, 1.5])), "rf.interpolation", "t"),
    (lambda: R.interpolate(np.ones((2, 3)), np.ones((2, 4)), 0.5), "rf.interpolation", "z"),
    (lambda: R.interpolate(np.ones((2, 3)), np.ones((2, 3)), np.array([0.5, 0.5, 0.5])), "rf.interpolation", "t"),
    (lambda: R.interpolate(np.ones((2, 3)), np.full((2, 3), np.nan), 0.5), "rf.interpolation", "z"),
    (lambda: R.interpolate(np.ones((2, 3)), np.ones((2, 3)), 0.5, time="fm"), "rf.interpolation", "time"),
    (lambda: R.velocity("x", np.ones(2)), "rf.velocity", "x"),
    (lambda: R.loss(np.ones((2, 3)), np.ones((2, 2)), np.ones((2, 2))), "rf.loss", "x"),
    (lambda: R.loss(np.ones((0, 3)), np.ones((0, 3)), np.ones((0, 3))), "rf.loss", "f"),
    (lambda: A.interpolate(torch.ones(2, 3), torch.ones(2, 3), torch.tensor([0.5, -0.1])), "rf.interpolation", "t"),
    (lambda: A.velocity(np.ones((2, 3)), torch.ones(2, 3)), "rf.velocity", "x"),
    (lambda: A.flow_matching_pair(torch.ones(2, 3), torch.ones(2, 3), torch.tensor([2.0, 0.0])), "fm.convention", "t"),
])
def test_bad_input_names_clause_and_argument(call, clause, arg):
    with pytest.raises(SpecInputError) as e:
        call()
    assert e.value.clause == clause and e.value.argument == arg
