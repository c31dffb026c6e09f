"""Progressive distillation: the target by hand in every variant, the student-reproduces-teacher property on a
network teacher, bad inputs, variant targets, planted bugs.

Budget: ≈ 10 s.
"""
import functools

import numpy as np
import pytest
import torch

from genspec.accelerated import distill as A
from genspec.accelerated.sampler import euler_sample
from genspec.conformance import Target
from genspec.conformance.harness.api import check, failing
from genspec.conformance.harness.target import from_modules
from genspec.reference import distill as R
from genspec.spec.errors import SpecInputError


def test_target_by_hand():
    # teacher f(x, t) = x: x' = (1 − Δ) x, x'' = (1 − Δ)² x, ṽ = (1 − (1 − Δ)²)/(2Δ) x = (1 − Δ/2) x
    x, t, dt = np.array([[4.0, -2.0]]), 1.0, 0.25
    f = lambda xx, tt: xx
    np.testing.assert_allclose(R.distillation_target(f, x, t, dt), 0.875 * x, rtol=1e-15)
    np.testing.assert_allclose(A.distillation_target(lambda xx, tt: xx, torch.tensor(x), t, dt).numpy(), 0.875 * x)
    np.testing.assert_allclose(R.distillation_target(f, x, t, dt, student_target="state"), 0.5625 * x)
    # x variant: (t x'' − (t − 2Δ) x_t)/(2Δ) = (0.5625 − 0.5) x / 0.5 = 0.125 x
    np.testing.assert_allclose(R.distillation_target(f, x, t, dt, student_target="x"), 0.125 * x)
    np.testing.assert_allclose(R.distillation_target(f, x, t, dt, teacher_step="ddim"), 0.875 * x, rtol=1e-15)


def test_student_of_a_network_teacher_reproduces_it():
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(3, 32), torch.nn.SiLU(), torch.nn.Linear(32, 2)).double()
    teacher = lambda x, t: net(torch.cat([x, t[:, None]], 1))
    x1 = torch.randn(64, 2, dtype=torch.float64)
    with torch.no_grad():
        for N in (1, 4, 16):
            student = lambda x, t, N=N: A.distillation_target(teacher, x, t, 1 / (2 * N))
            torch.testing.assert_close(euler_sample(student, x1, N), euler_sample(teacher, x1, 2 * N), rtol=1e-12,
                                       atol=1e-12)
    assert not A.distillation_target(teacher, x1, 1.0, 0.25).requires_grad          # the teacher carries no gradient


@pytest.mark.parametrize("mod", [R, A])
@pytest.mark.parametrize("t, dt, argument", [(0.4, 0.25, "t"), (1.0, 0.0, "dt"), (1.0, -0.1, "dt"), (1.5, 0.1, "t"),
                                             (np.array([1.0, 0.1]), 0.1, "t")])
def test_bad_inputs(mod, t, dt, argument):
    x = np.ones((2, 2))
    f = lambda xx, tt: xx
    if mod is A:
        x, t = torch.tensor(x), torch.tensor(t) if isinstance(t, np.ndarray) else t
    with pytest.raises(SpecInputError) as e:
        mod.distillation_target(f, x, t, dt)
    assert (e.value.clause, e.value.argument) == ("distill.progressive", argument)


@pytest.mark.parametrize("conv", [{"student_target": "x"}, {"student_target": "state"}, {"teacher_step": "ddim"}])
def test_declared_variant_is_checked_in_that_variant(conv):
    good = Target(name="variant", backend="numpy",
                  bindings={"distill.progressive": functools.partial(R.distillation_target, **conv)},
                  conventions={"distill.progressive": conv})
    assert failing(check(good, ["distill.progressive"], target_independent=False, shrink=False)) == set()
    if "student_target" in conv:
        liar = Target(name="liar", backend="numpy", bindings={"distill.progressive": R.distillation_target},
                      conventions={"distill.progressive": conv})
        assert failing(check(liar, ["distill.progressive"], target_independent=False,
                             shrink=False)) == {"distill.progressive"}


ACC = from_modules("accelerated", "accelerated", "torch")


def _one_teacher_step(f, x_t, t, dt):
    """Bug: the student regresses onto one teacher step (no distillation)."""
    return f(x_t, torch.as_tensor(t, dtype=x_t.dtype).expand(x_t.shape[0]))


def _second_step_same_time(f, x_t, t, dt):
    """Bug: the second teacher evaluation at t instead of t − Δ."""
    t = torch.as_tensor(t, dtype=x_t.dtype).expand(x_t.shape[0])
    v1 = f(x_t, t)
    return 0.5 * (v1 + f(x_t - dt * v1, t))


@pytest.mark.parametrize("bug", [_one_teacher_step, _second_step_same_time])
def test_planted_bug_fails_exactly_its_clause(bug):
    target = Target(name=bug.__name__, backend="torch", bindings={**ACC.bindings, "distill.progressive": bug})
    res = check(target, ["distill", "sampler"], target_independent=False, shrink=False)
    assert failing(res) == {"distill.progressive"}, {c: r.failures[:1] for c, r in res.items() if r.status == "failed"}
