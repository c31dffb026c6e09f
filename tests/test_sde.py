"""The ELBO and SDE views of diffusion (spec/sde.py): the reverse-SDE sampler against the exact Gaussian-mixture
marginals, the probability-flow ODE integrated by the rectified-flow Euler sampler, planted bugs, bad input.

Budget: < 12 s on 2 cores (two Euler–Maruyama runs of n = 4000, T = 200; planted-bug runs of single clauses).

The statistical bound: n = 4000 samples of the reverse SDE (exact mixture score, T = 200 Euler–Maruyama steps)
pass a Kolmogorov–Smirnov test per coordinate against the exact t = 0 marginal at level 1e-3, and their mean is
within 5 standard errors of the exact mean. Measured (seed 0, T = 200, `T._ks_pvalues(T._em(path), path)`):
KS p-values 0.69, 0.86 (vp) and 0.68, 0.55 (ve); T = 100 gave 0.58, 0.04 and T = 500 0.94, 0.17 (vp). The sampler
with the probability-flow drift in place of the reverse drift (f − ½g² s plus noise) fails it (p ≈ 1e-228).
"""
import numpy as np
import pytest
import torch
from scipy import stats

import genspec.accelerated.optimal as AO
import genspec.accelerated.sampler as AS
import genspec.accelerated.sde as A
import genspec.reference.sde as R
from genspec.conformance import Target
from genspec.conformance.harness.api import check, failing
from genspec.conformance.harness.target import from_modules
from genspec.reference import family as F
from genspec.spec import SpecInputError
from genspec.spec.family import DEFAULT_SCHEDULE

W = np.array([0.3, 0.7])
MU = np.array([[-2.0, 0.0], [1.5, 1.0]])
COV = np.array([[[0.3, 0.1], [0.1, 0.2]], [[0.2, 0.0], [0.0, 0.5]]])
MIX = tuple(torch.tensor(v) for v in (W, MU, COV))
N, T, ALPHA = 4000, 200, 1e-3


def _ab(t, path):
    a, b, _, _ = F._path_ab(np.atleast_1d(np.float64(t)), path, DEFAULT_SCHEDULE[path])
    return a[0], b[0]


def _marginal_samples(rng, t, path, n):
    """Exact samples of p_t: a(t) x + b(t) z, x from the mixture."""
    k = rng.choice(2, n, p=W)
    x = MU[k] + np.einsum("nij,nj->ni", np.linalg.cholesky(COV)[k], rng.standard_normal((n, 2)))
    a, b = _ab(t, path)
    return a * x + b * rng.standard_normal((n, 2))


def _marginal_cdf(v, j, path):
    """CDF of coordinate j of p_0 = Σ_k w_k N(a(0) μ_k, a(0)² Σ_k + b(0)² I) (b(0) = σ_min on ve)."""
    a, b = _ab(0.0, path)
    return sum(W[k] * stats.norm.cdf(v, a * MU[k, j], np.sqrt(a * a * COV[k, j, j] + b * b)) for k in range(2))


def _em(path, drift_half=False, seed=0):
    rng = np.random.default_rng(seed)
    x1 = torch.tensor(_marginal_samples(rng, 1.0, path, N))
    noise = torch.tensor(rng.standard_normal((T, N, 2)))

    def score(x, t):
        s = AO.optimal_prediction(x, t, *MIX, target="score", path=path)
        return 0.5 * s if drift_half else s          # f − ½g² s: the probability-flow drift, wrong with noise
    return A.euler_maruyama_sample(score, x1, noise, path).numpy()


def _ks_pvalues(x0, path):
    return [stats.kstest(x0[:, j], lambda v, j=j: _marginal_cdf(v, j, path)).pvalue for j in range(2)]


@pytest.mark.parametrize("path", ["vp", "ve"])
def test_reverse_sde_matches_the_exact_marginal(path):
    x0 = _em(path)
    p = _ks_pvalues(x0, path)
    assert min(p) > ALPHA, p
    a, b = _ab(0.0, path)
    se = x0.std(axis=0) / np.sqrt(N)
    assert np.all(np.abs(x0.mean(axis=0) - a * (W @ MU)) < 5 * se)


def test_a_wrong_reverse_drift_fails_the_statistical_bound():
    assert min(_ks_pvalues(_em("vp", drift_half=True), "vp")) < ALPHA


@pytest.mark.parametrize("path", ["vp", "ve"])
def test_rf_euler_sampler_integrates_the_probability_flow_ode(path):
    """accelerated.sampler.euler_sample (x ← x − v/T) run with the probability-flow drift of the exact score is the
    run with the velocity oracle of the same path: the same ODE (sde.probability_flow), the same iterates."""
    rng = np.random.default_rng(1)
    x1 = torch.tensor(_marginal_samples(rng, 1.0, path, 64))
    t_lo = 1e-3       # the score of the data (t = 0 on vp, b = 0) is not evaluated: euler_sample stops at t = 1/T

    def pf(x, t):
        s = AO.optimal_prediction(x, t.clamp_min(t_lo), *MIX, target="score", path=path)
        return A.probability_flow_drift(x, t.clamp_min(t_lo), s, path)

    def velocity(x, t):
        return AO.optimal_prediction(x, t.clamp_min(t_lo), *MIX, target="velocity", path=path)
    a = AS.euler_sample(pf, x1, 50)
    b = AS.euler_sample(velocity, x1, 50)
    assert torch.allclose(a, b, rtol=1e-9, atol=1e-9)


def test_elbo_weights_by_hand():
    betas = np.array([1e-4, 0.02, 0.05])
    ab = np.cumprod(1 - betas)
    eps, eps_hat = np.array([[1.0, 0.0]]), np.array([[0.0, 0.0]])
    # Ho et al. eq. 12 with σ² = β̃_3 = (1 − ᾱ_2)/(1 − ᾱ_3) β_3
    bt = (1 - ab[1]) / (1 - ab[2]) * betas[2]
    want = betas[2] ** 2 / (2 * bt * (1 - betas[2]) * (1 - ab[2]))
    assert R.elbo_kl(eps_hat, eps, np.array([3]), betas)[0] == pytest.approx(want, rel=1e-12)
    assert float(A.elbo_kl(torch.tensor(eps_hat), torch.tensor(eps), torch.tensor([3]), torch.tensor(betas))[0]) \
        == pytest.approx(want, rel=1e-12)
    want_beta = betas[2] ** 2 / (2 * betas[2] * (1 - betas[2]) * (1 - ab[2]))
    assert R.elbo_kl(eps_hat, eps, np.array([2]), betas, sigma="beta", indexing="zero_based")[0] == \
        pytest.approx(want_beta, rel=1e-12)


@pytest.mark.parametrize("sigma, indexing", [("beta", "one_based"), ("beta_tilde", "zero_based"),
                                             ("beta", "zero_based")])
def test_declared_elbo_variants_conform(sigma, indexing):
    """A target in another variant is checked in it, including against the closed-form Gaussian KL."""
    fn = lambda eps_pred, eps, t, betas: R.elbo_kl(eps_pred, eps, t, betas, sigma=sigma, indexing=indexing)
    tgt = Target(name="elbo-variant", backend="numpy", bindings={"ddpm.elbo": fn},
                 conventions={"ddpm.elbo": {"sigma": sigma, "indexing": indexing}})
    assert failing(check(tgt, ["ddpm.elbo"], target_independent=False, shrink=False)) == set()


# ---- planted bugs -------------------------------------------------------------------------------
def _with(clause, fn):
    base = from_modules("accelerated", "accelerated", "torch")
    bindings = {k: v for k, v in base.bindings.items() if k.startswith(("sde.", "ddpm.elbo"))}
    bindings[clause] = fn
    return Target(name=f"planted:{clause}", backend="torch", bindings=bindings)


PLANTED = {
    "ddpm.elbo": lambda eps_pred, eps, t, betas: A.elbo_kl(eps_pred, eps, t, betas) * 2,        # σ² = β̃ / 2
    "sde.forward": lambda x, t, path="vp": (lambda f, g: (f, g * g))(*A.forward_sde(x, t, path)),   # g² for g
    "sde.reverse": lambda x, t, score, path="vp": A.probability_flow_drift(x, t, score, path),     # ½ g²
    "sde.probability_flow": lambda x, t, score, path="vp": A.reverse_drift(x, t, score, path),   # no ½
    "sde.euler_maruyama": lambda score, x1, noise, path="vp": A.euler_maruyama_sample(score, x1, noise * 0.5, path),
}


@pytest.mark.parametrize("clause", sorted(PLANTED))
def test_planted_bug_fails_exactly_its_clause(clause):
    res = check(_with(clause, PLANTED[clause]), [clause], target_independent=False, shrink=False)
    assert failing(res) == {clause}, {k: r.failures for k, r in res.items() if r.failures}


@pytest.mark.parametrize("call, clause, arg", [
    (lambda: R.elbo_kl(np.ones((2, 3)), np.ones((2, 3)), np.array([1, 2]), np.full(3, 0.1)), "ddpm.elbo", "t"),
    (lambda: R.elbo_kl(np.ones((2, 3)), np.ones((2, 3)), np.array([2, 4]), np.full(3, 0.1)), "ddpm.elbo", "t"),
    (lambda: R.elbo_kl(np.ones((2, 3)), np.ones((2, 2)), np.array([2, 3]), np.full(3, 0.1)), "ddpm.elbo",
     "eps"),
    (lambda: R.forward_sde(np.ones((2, 3)), np.array([0.5, 1.5])), "sde.forward", "t"),
    (lambda: R.forward_sde(np.ones((2, 3)), np.array([0.5, 0.5]), path="rf"), "sde.forward", "path"),
    (lambda: R.reverse_drift(np.ones((2, 3)), np.array([0.5, 0.5]), np.ones((2, 2))), "sde.reverse", "score"),
    (lambda: R.euler_maruyama_sample(None, np.ones((2, 3)), np.ones((4, 2, 3))), "sde.euler_maruyama", "score"),
    (lambda: R.euler_maruyama_sample(lambda x, t: x, np.ones((2, 3)), np.ones((4, 3, 3))), "sde.euler_maruyama",
     "noise"),
    (lambda: A.elbo_kl(torch.ones(2, 3), torch.ones(2, 3), torch.tensor([1, 2]), torch.full((3,), 0.1)),
     "ddpm.elbo", "t"),
    (lambda: A.probability_flow_drift(torch.ones(2, 3), torch.tensor([0.5, 0.5]), torch.ones(2, 3), path="x"),
     "sde.probability_flow", "path"),
    (lambda: A.euler_maruyama_sample(lambda x, t: x[:1], torch.ones(2, 3), torch.ones(2, 2, 3)),
     "sde.euler_maruyama", "score"),
])
def test_bad_input_names_clause_and_argument(call, clause, arg):
    with pytest.raises(SpecInputError) as e:
        call()
    assert e.value.clause == clause and e.value.argument == arg
