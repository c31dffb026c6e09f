"""The sampler family and family.equivalence: the Euler grid by hand, the time conventions, evaluation counts, any
callable (an nn.Module), bad inputs, the measured convergence order, the equivalence table, and planted bugs.

Budget: ≈ 20 s.
"""
import numpy as np
import pytest
import torch

from genspec.accelerated import sampler as A
from genspec.conformance import Target
from genspec.conformance.checks.sampler import convergence, equivalence_samples, exact_flow, in_convention
from genspec.conformance.fixtures import BIMODAL, Recorder, oracle
from genspec.conformance.harness.api import check, failing
from genspec.conformance.harness.target import from_modules
from genspec.reference import sampler as R
from genspec.spec.errors import SpecInputError


def lin_np(x, t):
    return x * t[:, None]


def lin_torch(x, t):
    return x * t[:, None]


# ---- by hand ----------------------------------------------------------------------------------------
def test_grid_by_hand():
    # f(x, t) = t x: T = 2 evaluates at t = 1 then 1/2: x → x − x/2 = x/2 → x/2 − (1/2)(1/2)(x/2) = 3x/8
    x1 = np.array([[8.0, -16.0]])
    np.testing.assert_array_equal(R.euler_sample(lin_np, x1, 2), [[3.0, -6.0]])
    np.testing.assert_array_equal(A.euler_sample(lin_torch, torch.tensor(x1), 2).numpy(), [[3.0, -6.0]])
    np.testing.assert_array_equal(R.euler_sample(lin_np, x1, 1), [[0.0, 0.0]])          # one step: x1 − f(x1, 1)


def test_evaluation_count_and_times():
    rec = Recorder(oracle(*BIMODAL))
    A.euler_sample(rec.dual.torch, torch.randn(3, 2, dtype=torch.float64), 5)
    assert [float(t[0]) for _, t in rec.calls] == [1.0, 0.8, 0.6, 0.4, 0.2]
    assert all(t.shape == (3,) for _, t in rec.calls)


def test_time_conventions_give_the_same_samples():
    f = oracle(*BIMODAL)
    x1 = np.random.default_rng(0).standard_normal((6, 2))
    base = R.euler_sample(f.numpy, x1, 7)
    np.testing.assert_allclose(R.euler_sample(f.numpy, x1, 7, time="reversed_time"), base, rtol=1e-14, atol=1e-14)
    fm = in_convention(f.numpy, f.torch, "noise_at_0", "fm")
    np.testing.assert_allclose(R.euler_sample(fm.numpy, x1, 7, time="noise_at_0"), base, rtol=1e-12, atol=1e-12)


def test_any_callable_batched_and_dtype():
    net = torch.nn.Sequential(torch.nn.Linear(3, 16), torch.nn.Tanh(), torch.nn.Linear(16, 2))
    f = lambda x, t: net(torch.cat([x, t[:, None]], dim=1))
    x1 = torch.randn(1000, 2)
    with torch.no_grad():
        out = A.euler_sample(f, x1, 10)
    ref = R.euler_sample(lambda x, t: f(torch.tensor(x, dtype=torch.float32), torch.tensor(t, dtype=torch.float32))
                         .detach().double().numpy(), x1.double().numpy(), 10)
    assert out.dtype == torch.float32 and out.shape == x1.shape
    np.testing.assert_allclose(out.numpy(), ref, rtol=1e-5, atol=1e-5)
    assert A.euler_sample(lin_torch, torch.randn(4, 3, 2, dtype=torch.bfloat16).flatten(1), 3).dtype == torch.bfloat16


@pytest.mark.parametrize("mod", [R, A])
@pytest.mark.parametrize("f, x1, T, argument", [
    (lin_np, np.ones((2, 2)), 0, "T"), (lin_np, np.ones((2, 2)), 2.5, "T"), (lin_np, np.ones((2, 2)), True, "T"),
    (lin_np, np.ones((2, 2)), float("nan"), "T"), (None, np.ones((2, 2)), 3, "f"), (lin_np, np.ones(2), 3, "x1"),
    (lambda x, t: x[:1], np.ones((2, 2)), 3, "f"), (lin_np, np.full((2, 2), np.inf), 3, "x1"),
])
def test_bad_inputs(mod, f, x1, T, argument):
    if mod is A:
        x1 = torch.tensor(x1)
        f = lin_torch if f is lin_np else f
    with pytest.raises(SpecInputError) as e:
        mod.euler_sample(f, x1, T)
    assert (e.value.clause, e.value.argument) == ("sampler.euler", argument)


# ---- measured convergence and the equivalence table --------------------------------------------------
def test_first_order_convergence():
    Ts = (8, 16, 32, 64)
    fn = lambda f, x1, T: A.euler_sample(f.torch, torch.tensor(x1), T).numpy()
    errs, order = convergence(fn, "data_at_0", Ts)
    print("Euler with the oracle velocity (bimodal 2-D, 64 points) vs DOP853 rtol 1e-11: RMS error "
          + ", ".join(f"T={T}: {e:.4g}" for T, e in zip(Ts, errs, strict=True)) + f"; fitted order {order:.3f}")
    assert 0.9 < order < 1.1


def test_equivalence_table():
    ref = exact_flow(np.random.default_rng(1).standard_normal((128, 2)))       # the noise equivalence_samples uses
    rows = {T: equivalence_samples(T, n=128) for T in (8, 32, 128)}
    print("RMS distance to the exact flow's sample (DOP853, same noise, 128 points):")
    for cmb in rows[8]:
        print(f"  {cmb[0]:>2}/{cmb[1] or '-':<7} {cmb[2]:<9}" + "  ".join(
            f"T={T}: {np.sqrt(np.mean(np.sum((rows[T][cmb] - ref) ** 2, 1))):.4f}" for T in rows))
    for cmb in rows[8]:
        d = [np.sqrt(np.mean(np.sum((rows[T][cmb] - ref) ** 2, 1))) for T in rows]
        assert d[0] > d[1] > d[2], (cmb, d)


def test_epsilon_on_rf_is_singular_at_t1():
    with pytest.raises(SpecInputError) as e:
        R.oracle_sample(np.zeros((1, 2)), 3, *BIMODAL, target="epsilon", path="rf")
    assert e.value.argument == "t"


# ---- planted bugs -----------------------------------------------------------------------------------
ACC = from_modules("accelerated", "accelerated", "torch")


def _grid_off_by_one(f, x1, T):
    """Bug: t_k = 1 − (k + 1)/T (the last evaluation at t = 0, the first never at t = 1)."""
    x = x1.clone()
    for k in range(T):
        x = x - (1.0 / T) * f(x, torch.full((x.shape[0],), 1 - (k + 1) / T, dtype=x.dtype))
    return x


def _wrong_direction(f, x1, T):
    """Bug: the clock runs from 0 up to 1 (t_k = k/T) while stepping as if it ran down."""
    x = x1.clone()
    for k in range(T):
        x = x - (1.0 / T) * f(x, torch.full((x.shape[0],), k / T, dtype=x.dtype))
    return x


def _plus_sign(f, x1, T):
    """Bug: x ← x + (1/T) f (03's dx/dt = −f integrated in t instead of τ)."""
    x = x1.clone()
    for k in range(T):
        x = x + (1.0 / T) * f(x, torch.full((x.shape[0],), (T - k) / T, dtype=x.dtype))
    return x


@pytest.mark.parametrize("bug", [_grid_off_by_one, _wrong_direction, _plus_sign])
def test_planted_bug_fails_exactly_its_clause(bug):
    target = Target(name=bug.__name__, backend="torch", bindings={**ACC.bindings, "sampler.euler": bug})
    res = check(target, ["sampler", "family.equivalence", "distill"], target_independent=False, shrink=False)
    assert failing(res) == {"sampler.euler"}, {c: r.failures[:1] for c, r in res.items() if r.status == "failed"}


def test_declared_time_convention_is_checked_in_that_convention():
    import functools
    conv = {"sampler.euler": {"time": "noise_at_0"}}
    good = Target(name="fm", backend="numpy", conventions=conv,
                  bindings={"sampler.euler": functools.partial(R.euler_sample, time="noise_at_0")})
    assert failing(check(good, ["sampler.euler"], target_independent=False, shrink=False)) == set()
    liar = Target(name="liar", backend="numpy", conventions=conv, bindings={"sampler.euler": R.euler_sample})
    assert failing(check(liar, ["sampler.euler"], target_independent=False, shrink=False)) == {"sampler.euler"}
