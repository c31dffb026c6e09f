"""The optimal family: the Gaussian-mixture oracle by hand, at its singular points, under extreme coefficients, bad
inputs, the mid-t curve, and planted bugs that fail exactly their clause.

Budget: ≈ 15 s.
"""
import math

import numpy as np
import pytest
import torch

from genspec.accelerated import optimal as A
from genspec.conformance import Target
from genspec.conformance.checks.optimal import irreducible_loss_curve
from genspec.conformance.fixtures import BIMODAL, random_mixture
from genspec.conformance.harness.api import check, failing
from genspec.conformance.harness.target import from_modules
from genspec.reference import optimal as R
from genspec.spec.errors import SpecInputError

ONE = (np.array([1.0]), np.array([[0.5]]), np.array([[[2.0]]]))          # x ~ N(0.5, 2) in 1-D


def _t(*arrays):
    return [torch.tensor(np.asarray(a, dtype=float)) for a in arrays]


# ---- by hand ----------------------------------------------------------------------------------------
def test_one_gaussian_by_hand():
    # x ~ N(0.5, 2), x_t = 0.6 x + 0.8 z, x_t = 1.3:
    # Var x_t = 0.36·2 + 0.64 = 1.36, Cov(x, x_t) = 1.2, Cov(z, x_t) = 0.8
    x_hat = 0.5 + 1.2 / 1.36 * (1.3 - 0.3)
    z_hat = 0.8 / 1.36 * (1.3 - 0.3)
    for xh, zh in (R.posterior_means(np.array([[1.3]]), 0.6, 0.8, *ONE),
                   [v.numpy() for v in A.posterior_means(*_t([[1.3]], 0.6, 0.8, *ONE))]):
        np.testing.assert_allclose(xh, [[x_hat]], rtol=1e-14)
        np.testing.assert_allclose(zh, [[z_hat]], rtol=1e-14)


def test_two_point_like_components_by_hand():
    # two narrow components at ±1 with equal weight, x_t = 0.5 x + 0.5 z at x_t = 0: symmetric, E[x | 0] = 0;
    # at x_t = 0.5 the responsibilities are 1 : exp(-2·0.5·0.5/(0.25 s² + 0.25)) with s² = 1e-4
    w, m, c = np.array([0.5, 0.5]), np.array([[-1.0], [1.0]]), np.full((2, 1, 1), 1e-4)
    xh, _ = R.posterior_means(np.array([[0.0], [0.5]]), 0.5, 0.5, w, m, c)
    S = 0.25 * 1e-4 + 0.25
    r = 1.0 / (1.0 + math.exp(-(0.5 * 0.5 * 2) / S))        # weight of the +1 component at x_t = 0.5
    shrink = 0.5 * 1e-4 / S                                  # a Σ / S
    expect = r * (1 + shrink * (0.5 - 0.5)) + (1 - r) * (-1 + shrink * (0.5 + 0.5))
    np.testing.assert_allclose(xh[:, 0], [0.0, expect], atol=1e-14)


@pytest.mark.parametrize("backend", ["reference", "accelerated"])
def test_singular_points(backend):
    w, m, c = random_mixture(np.random.default_rng(0), 3, 2)
    x = np.array([[0.3, -2.0], [5.0, 1.0]])
    fn = R.posterior_means if backend == "reference" else (lambda *a: [v.numpy() for v in A.posterior_means(*_t(*a))])
    xh, zh = fn(x, 0.0, 0.5, w, m, c)
    np.testing.assert_allclose(xh, np.broadcast_to(w @ m, x.shape), rtol=1e-14)
    np.testing.assert_allclose(zh, x / 0.5, rtol=1e-14)
    xh, zh = fn(x, 0.25, 0.0, w, m, c)
    np.testing.assert_allclose(xh, x / 0.25, rtol=1e-14)
    np.testing.assert_array_equal(zh, 0.0)
    # per-row coefficients mixing both singular points and a regular one
    xh, zh = fn(np.array([[1.0, 1.0]] * 3), np.array([0.0, 1.0, 0.5]), np.array([1.0, 0.0, 0.5]), w, m, c)
    assert np.isfinite(xh).all() and np.isfinite(zh).all()
    np.testing.assert_allclose(xh[1], [1.0, 1.0])


def test_prediction_endpoints_rf():
    w, m, c = BIMODAL
    x = np.array([[0.7, -0.2]])
    assert np.allclose(R.optimal_prediction(x, 0.0, w, m, c), -x)                    # velocity = −x_t at t = 0
    assert np.allclose(R.optimal_prediction(x, 1.0, w, m, c), x - w @ m)             # x_t − E[x] at t = 1
    assert np.allclose(R.optimal_prediction(x, 1.0, w, m, c, target="x"), w @ m)
    assert np.allclose(R.optimal_prediction(x, 0.0, w, m, c, target="epsilon"), 0.0)


def test_scale_invariance_and_far_points():
    """(x_t, a, b) and (x_t, a, b)·10^200 have the same posterior; far points give finite responsibilities."""
    w, m, c = random_mixture(np.random.default_rng(1), 3, 2)
    x = np.array([[0.4, 0.1]])
    base = R.posterior_means(x, 0.3, 0.7, w, m, c)
    for k in (1e-200, 1e200):
        for got in (R.posterior_means(x * k, 0.3 * k, 0.7 * k, w, m, c),
                    [v.numpy() for v in A.posterior_means(*_t(x * k, 0.3 * k, 0.7 * k, w, m, c))]):
            np.testing.assert_allclose(got[0], base[0], rtol=1e-10)
            np.testing.assert_allclose(got[1], base[1], rtol=1e-10)
    xh, zh = R.posterior_means(np.array([[1e4, -1e4]]), 1.0, 0.1, w, m, c)
    assert np.isfinite(xh).all() and np.isfinite(zh).all()
    xh32 = A.optimal_prediction(*_t([[1e3, -1e3]], 0.5, w, m, c)[:1], torch.tensor(0.5),
                                *[torch.tensor(v, dtype=torch.float32) for v in (w, m, c)])
    assert torch.isfinite(xh32).all()


def test_dtype_device_and_cached_mixture():
    w, m, c = random_mixture(np.random.default_rng(2), 2, 3)
    x = torch.randn(5, 3, dtype=torch.float32)
    out = A.optimal_prediction(x, torch.rand(5), *[torch.tensor(v) for v in (w, m, c)])
    assert out.dtype == torch.float32 and out.shape == (5, 3)
    mix = A.Mixture(w, m, c, dtype=torch.float32)
    torch.testing.assert_close(mix.prediction(x, 0.3),
                               A.optimal_prediction(x, 0.3, *map(torch.tensor, (w, m, c))))
    bf = mix.prediction(x.bfloat16(), 0.3, target="v", path="vp")
    assert bf.dtype == torch.bfloat16


def test_every_path_and_target_is_one_posterior():
    w, m, c = random_mixture(np.random.default_rng(3), 2, 2)
    x, t = np.random.default_rng(4).standard_normal((4, 2)), np.array([0.1, 0.4, 0.8, 1.0])
    for path, sched in (("rf", None), ("vp", "linear"), ("vp", "cosine"), ("ve", None)):
        a, b, _, _ = R.coefficients(t, path, "x", sched)
        xh, zh = R.posterior_means(x, a, b, w, m, c)
        for tg in R.TARGETS:
            cc, dd = R.target_coefficients(t, tg, path, sched)
            np.testing.assert_allclose(R.optimal_prediction(x, t, w, m, c, target=tg, path=path, schedule=sched),
                                       cc[:, None] * xh + dd[:, None] * zh, rtol=1e-12, atol=1e-12)


# ---- bad inputs -------------------------------------------------------------------------------------
W, M, C = BIMODAL
X = np.zeros((2, 2))


@pytest.mark.parametrize("mod", [R, A])
@pytest.mark.parametrize("kwargs, clause, argument", [
    (dict(x_t=X, a=0.0, b=0.0), "optimal.posterior_means", "a/b"),
    (dict(x_t=X, a=-0.1, b=1.0), "optimal.posterior_means", "a"),
    (dict(x_t=np.zeros((2, 3)), a=0.5, b=0.5), "optimal.posterior_means", "means"),
    (dict(x_t=X, a=np.ones(3), b=0.5), "optimal.posterior_means", "a"),
    (dict(x_t=X, a=0.5, b=0.5, covs=np.stack([np.diag([1.0, -1.0])] * 2)), "optimal.posterior_means", "covs"),
    (dict(x_t=X, a=0.5, b=0.5, covs=np.stack([[[1.0, 0.5], [0.0, 1.0]]] * 2)), "optimal.posterior_means", "covs"),
    (dict(x_t=X, a=0.5, b=0.5, weights=np.array([-1.0, 2.0])), "optimal.posterior_means", "weights"),
    (dict(x_t=X, a=0.5, b=0.5, weights=np.zeros(2)), "optimal.posterior_means", "weights"),
    (dict(x_t=X, a=0.5, b=0.5, means=np.zeros((3, 2))), "optimal.posterior_means", "means"),
])
def test_bad_posterior_inputs(mod, kwargs, clause, argument):
    kw = {"weights": W, "means": M, "covs": C, **kwargs}
    if mod is A:
        kw = {k: torch.tensor(v) if isinstance(v, np.ndarray) else v for k, v in kw.items()}
    with pytest.raises(SpecInputError) as e:
        mod.posterior_means(**kw)
    # the reference's shapes are checked by spec.bind (the later argument is named); accelerated's by its Mixture
    accelerated_names = {"means": ("x_t", "weights/means/covs")}
    ok = (argument,) if mod is R else accelerated_names.get(argument, (argument,))
    assert e.value.clause == clause and e.value.argument in ok, (e.value.clause, e.value.argument)


@pytest.mark.parametrize("mod", [R, A])
@pytest.mark.parametrize("kwargs, argument", [
    (dict(t=1.5), "t"), (dict(t=np.array([0.5, np.nan])), "t"), (dict(target="noise"), "target"),
    (dict(path="edm"), "path"), (dict(target=np.array([1.0])), "target"), (dict(target="score", t=0.0), "t"),
    (dict(path="vp", t=0.0), "t"),
])
def test_bad_prediction_inputs(mod, kwargs, argument):
    kw = {"x_t": X, "t": 0.5, "weights": W, "means": M, "covs": C, **kwargs}
    if mod is A:
        kw = {k: torch.tensor(v) if isinstance(v, (np.ndarray, float)) else v for k, v in kw.items()}
    with pytest.raises(SpecInputError) as e:
        mod.optimal_prediction(**kw)
    assert (e.value.clause, e.value.argument) == ("optimal.prediction", argument)


# ---- the mid-t claim --------------------------------------------------------------------------------
def test_mid_t_curve():
    ts = np.linspace(0.0, 1.0, 11)
    curve = irreducible_loss_curve(ts)
    print("irreducible velocity loss L*(t) on the bimodal 2-D mixture (20000 samples per t):")
    print("  " + "  ".join(f"t={t:.1f}: {l:.3f}±{s:.3f}" for t, (l, s) in zip(ts, curve, strict=True)))
    L = curve[:, 0]
    assert 0 < int(np.argmax(L)) < len(ts) - 1
    assert abs(L[0] - 2.0) < 0.1 and abs(L[-1] - 4.2) < 0.1               # d and tr Cov x


# ---- planted bugs -----------------------------------------------------------------------------------
ACC = from_modules("accelerated", "accelerated", "torch")


def _x_eps_swapped(x_t, t, weights, means=None, covs=None, target="velocity", path="rf", schedule=None):
    """Bug: the x and epsilon predictions exchanged."""
    swap = {"x": "epsilon", "epsilon": "x"}.get(target, target)
    return A.optimal_prediction(x_t, t, weights, means, covs, target=swap, path=path, schedule=schedule)


def _velocity_sign(x_t, t, weights, means=None, covs=None, target="velocity", path="rf", schedule=None):
    """Bug: the rf velocity as E[x − z | x_t] (02's orientation without its time)."""
    out = A.optimal_prediction(x_t, t, weights, means, covs, target=target, path=path, schedule=schedule)
    return -out if target == "velocity" else out


def _prior_responsibilities(x_t, a, b, weights, means=None, covs=None):
    """Bug: responsibilities w_k (the likelihood forgotten)."""
    xh, zh = [], []
    for k in range(len(weights)):
        u, v = A.posterior_means(x_t, a, b, weights[k:k + 1], means[k:k + 1], covs[k:k + 1])
        xh.append(weights[k] / weights.sum() * u)
        zh.append(weights[k] / weights.sum() * v)
    return sum(xh), sum(zh)


@pytest.mark.parametrize("clause, bug", [("optimal.prediction", _x_eps_swapped),
                                         ("optimal.prediction", _velocity_sign),
                                         ("optimal.posterior_means", _prior_responsibilities)])
def test_planted_bug_fails_exactly_its_clause(clause, bug):
    target = Target(name=bug.__name__, backend="torch", bindings={**ACC.bindings, clause: bug})
    res = check(target, ["optimal.posterior_means", "optimal.prediction"], target_independent=False, shrink=False)
    assert failing(res) == {clause}, {c: r.failures[:1] for c, r in res.items() if r.status == "failed"}
