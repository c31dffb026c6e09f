"""The consistency family: the Gaussian closed form by hand, the numerical function at its boundary, the loss by hand
in every convention, its gradient convention (only f is trained), variant targets, bad inputs, planted bugs.

Budget: ≈ 20 s.
"""
import copy
import functools
import math

import numpy as np
import pytest
import torch

from genspec.accelerated import consistency as A
from genspec.conformance import Target
from genspec.conformance.fixtures import BIMODAL
from genspec.conformance.harness.api import check, failing
from genspec.conformance.harness.target import from_modules
from genspec.reference import consistency as R
from genspec.spec.errors import SpecInputError


# ---- closed form ------------------------------------------------------------------------------------
def test_gaussian_by_hand():
    # μ = 1, s = 2, t = 0.5: σ_t = √(0.25·4 + 0.25) = √1.25; x_t = 3: f = 1 + 2 (3 − 0.5)/√1.25
    want = 1 + 2 * 2.5 / math.sqrt(1.25)
    assert R.gaussian_consistency_function(np.array([[3.0]]), 0.5, np.array([1.0]),
                                           2.0)[0, 0] == pytest.approx(want, rel=1e-15)
    got = A.gaussian_consistency_function(torch.tensor([[3.0]], dtype=torch.float64), 0.5, torch.tensor([1.0]), 2.0)
    assert float(got) == pytest.approx(want, rel=1e-15)
    # t = 0 is the identity, t = 1 maps noise z to μ + s z
    x = np.array([[0.3, -1.0]])
    np.testing.assert_allclose(R.gaussian_consistency_function(x, 0.0, np.array([1.0, 2.0]), np.array([0.5, 3.0])), x)
    np.testing.assert_allclose(R.gaussian_consistency_function(x, 1.0, np.array([1.0, 2.0]), np.array([0.5, 3.0])),
                               [[1.15, -1.0]])


def test_numerical_function_boundary_and_noise_end():
    w, m, c = BIMODAL
    x = np.array([[0.4, -0.3], [2.0, 0.1]])
    np.testing.assert_array_equal(R.consistency_function(x, 0.0, w, m, c), x)
    got = A.consistency_function(*[torch.tensor(v) for v in (x, np.zeros(2), w, m, c)])
    np.testing.assert_array_equal(got.numpy(), x)
    # from pure noise the function lands near a mode (±2, 0)
    end = R.consistency_function(np.array([[1.0, 0.0], [-1.0, 0.0]]), 1.0, w, m, c)
    assert abs(end[0, 0] - 2.0) < 0.8 and abs(end[1, 0] + 2.0) < 0.8


# ---- the loss -----------------------------------------------------------------------------------------
def _ident(x, t):
    return x


def _zero_v(x, t):
    return np.zeros_like(x)


def test_loss_by_hand_every_convention():
    x, z = np.array([[1.0, 0.0]]), np.array([[0.0, 2.0]])
    # t_next = 0.5: x_{t_{n+1}} = (0.5, 1); teacher velocity (1, 1) over Δt = 0.25: x̂ = (0.25, 0.75)
    v = lambda xx, t: np.ones_like(xx)
    L = R.consistency_loss(_ident, _ident, v, x, z, 0.5, 0.25)
    assert L == pytest.approx(0.25**2 + 0.25**2)
    # training mode: x̂ = 0.75 x + 0.25 z = (0.75, 0.5): ‖(0.5, 1) − (0.75, 0.5)‖² = 0.0625 + 0.25
    assert R.consistency_loss(_ident, _ident, v, x, z, 0.5, 0.25, mode="training") == pytest.approx(0.3125)
    # pseudo-Huber: √(0.125 + c²) − c, c = 0.00054 √2
    cc = 0.00054 * math.sqrt(2)
    assert R.consistency_loss(_ident, _ident, v, x, z, 0.5, 0.25, distance="pseudo_huber") == pytest.approx(
        math.sqrt(0.125 + cc**2) - cc)
    # stopgrad ignores f_ema; ema uses it
    double = lambda xx, t: 2 * xx
    assert R.consistency_loss(_ident, double, v, x, z, 0.5, 0.25, target_network="stopgrad") == pytest.approx(0.125)
    assert R.consistency_loss(_ident, double, v, x, z, 0.5, 0.25) == pytest.approx(0.0**2 + 0.5**2)


def test_accelerated_loss_trains_f_only():
    torch.manual_seed(0)
    net = torch.nn.Linear(3, 2).double()
    ema = copy.deepcopy(net)
    teacher = torch.nn.Linear(3, 2).double()
    f = lambda x, t: net(torch.cat([x, t[:, None]], 1))
    f_ema = lambda x, t: ema(torch.cat([x, t[:, None]], 1))
    v = lambda x, t: teacher(torch.cat([x, t[:, None]], 1))
    x, z = torch.randn(8, 2, dtype=torch.float64), torch.randn(8, 2, dtype=torch.float64)
    L = A.consistency_loss(f, f_ema, v, x, z, torch.full((8,), 0.6, dtype=torch.float64), 0.5)
    L.backward()
    assert net.weight.grad is not None and net.weight.grad.abs().sum() > 0
    assert ema.weight.grad is None and teacher.weight.grad is None
    np_ = lambda g: (lambda xx, t: g(torch.tensor(xx), torch.tensor(t)).detach().numpy())
    ref = R.consistency_loss(np_(f), np_(f_ema), np_(v), x.numpy(), z.numpy(), 0.6, 0.5)
    assert float(L.detach()) == pytest.approx(ref, rel=1e-12)


@pytest.mark.parametrize("mod", [R, A])
@pytest.mark.parametrize("call, clause, argument", [
    (lambda M, T: M.consistency_loss(_ident, _ident, _zero_v, T(np.ones((2, 2))), T(np.ones((2, 2))), 0.5, 0.5),
     "consistency.loss", "t_prev"),
    (lambda M, T: M.consistency_loss(_ident, None, _zero_v, T(np.ones((2, 2))), T(np.ones((2, 2))), 0.5, 0.4),
     "consistency.loss", "f_ema"),
    (lambda M, T: M.consistency_loss(_ident, _ident, _zero_v, T(np.ones((2, 2))), T(np.ones((2, 3))), 0.5, 0.4),
     "consistency.loss", "z"),
    (lambda M, T: M.gaussian_consistency_function(T(np.ones((2, 1))), 0.5, T(np.zeros(1)), 0.0),
     "consistency.gaussian", "s"),
    (lambda M, T: M.gaussian_consistency_function(T(np.ones((2, 1))), 1.5, T(np.zeros(1)), 1.0),
     "consistency.gaussian", "t"),
    (lambda M, T: M.consistency_function(T(np.ones((2, 3))), 0.5, *map(T, BIMODAL)), "consistency.property", "means"),
])
def test_bad_inputs(mod, call, clause, argument):
    T = (lambda a: torch.tensor(a)) if mod is A else (lambda a: a)
    with pytest.raises(SpecInputError) as e:
        call(mod, T)
    assert (e.value.clause, e.value.argument) == (clause, argument)


# ---- conventions declared by a target are checked in that variant ---------------------------------------
@pytest.mark.parametrize("conv", [{"distance": "pseudo_huber"}, {"mode": "training"}, {"target_network": "stopgrad"}])
def test_declared_variant_is_checked_in_that_variant(conv):
    def numpy_side(fn):
        return lambda **kw: fn(**{k: (v.numpy if hasattr(v, "numpy") and not isinstance(v, np.ndarray) else v)
                                  for k, v in kw.items()})
    good = Target(name="variant", backend="numpy",
                  bindings={"consistency.loss": functools.partial(R.consistency_loss, **conv)},
                  conventions={"consistency.loss": conv})
    assert failing(check(good, ["consistency.loss"], target_independent=False, shrink=False)) == set()
    liar = Target(name="liar", backend="numpy", bindings={"consistency.loss": R.consistency_loss},
                  conventions={"consistency.loss": conv})
    assert failing(check(liar, ["consistency.loss"], target_independent=False, shrink=False)) == {"consistency.loss"}


# ---- planted bugs -------------------------------------------------------------------------------------
ACC = from_modules("accelerated", "accelerated", "torch")


def _time_reversed_gaussian(x_t, t, mu, s):
    """Bug: t and 1 − t exchanged (02's clock)."""
    return A.gaussian_consistency_function(x_t, 1.0 - torch.as_tensor(t, dtype=x_t.dtype), mu, s)


def _few_steps(x_t, t, weights, means, covs):
    """Bug: 2 RK4 steps (not converged)."""
    return A.rk4_to_data(x_t, t, weights, means, covs, steps=2)


def _ema_swapped(f, f_ema, velocity, x, z, t_next, t_prev):
    """Bug: the online and EMA networks exchanged."""
    return A.consistency_loss(f_ema, f, velocity, x, z, t_next, t_prev)


@pytest.mark.parametrize("clause, bug", [("consistency.gaussian", _time_reversed_gaussian),
                                         ("consistency.property", _few_steps),
                                         ("consistency.loss", _ema_swapped)])
def test_planted_bug_fails_exactly_its_clause(clause, bug):
    target = Target(name=bug.__name__, backend="torch", bindings={**ACC.bindings, clause: bug})
    res = check(target, [clause], target_independent=False, shrink=False)
    assert failing(res) == {clause}, {c: r.failures[:1] for c, r in res.items() if r.status == "failed"}
