"""VAE family (spec/vae.py): derivations, hand-derived values, autograd, singular points, bad inputs, the
conventions (02's literal code as a target), and planted bugs that must fail exactly their clause.

Budget: ≈ 8 s of CPU (the planted-bug runs dominate).
"""
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from scipy import integrate, stats

from genspec import spec
from genspec.accelerated import vae as A
from genspec.conformance import Target
from genspec.conformance.checks import vae as C
from genspec.conformance.harness.api import check, failing
from genspec.conformance.harness.target import from_modules
from genspec.reference import vae as R
from genspec.spec.errors import SpecInputError

VAE_IDS = [c for c in spec.CLAUSES if c.startswith("vae.")]
BACKENDS = {"reference": (R, lambda a: np.asarray(a, dtype=np.float64)),
            "accelerated": (A, lambda a: torch.as_tensor(np.asarray(a, dtype=np.float64)))}


def _np(v):
    return v.detach().cpu().double().numpy() if isinstance(v, torch.Tensor) else np.asarray(v, dtype=np.float64)


# ---- derivations ---------------------------------------------------------------------------------


def test_kl_derivation_is_the_closed_form_of_02():
    import sympy as sp
    derived = C.kl_integral().subs(C.sigma_, sp.exp(C.lv_ / 2))
    assert sp.simplify(derived - C.KL_CLOSED) == 0
    # and a wrong closed form (02's without the ½) is rejected by the same check
    assert sp.simplify(derived - 2 * C.KL_CLOSED) != 0


# ---- values derived by hand or by an independent numerical route -----------------------------------
@pytest.mark.parametrize("backend", BACKENDS)
def test_reparameterization_by_hand(backend):
    mod, arr = BACKENDS[backend]
    mu, eps = arr([[1.0, -1.0]]), arr([[0.5, 2.0]])
    z = _np(mod.reparameterize(mu, arr([[math.log(4.0), 0.0]]), eps))   # σ = 2, 1
    np.testing.assert_allclose(z, [[2.0, 1.0]], rtol=1e-15)


@pytest.mark.parametrize("variant,a", [("logvar", math.log(4.0)), ("log_sigma", math.log(2.0)), ("sigma", 2.0)])
def test_reparameterization_variants_map_to_one_sigma(variant, a):
    z = R.reparameterize(np.array([1.0]), np.array([a]), np.array([0.5]), parameterization=variant)
    np.testing.assert_allclose(z, [2.0], rtol=1e-15)


def test_reparameterization_autograd():
    mu = torch.tensor([[0.3, -1.2]], dtype=torch.float64, requires_grad=True)
    lv = torch.tensor([[0.7, -2.0]], dtype=torch.float64, requires_grad=True)
    eps = torch.tensor([[1.5, -0.4]], dtype=torch.float64)
    g_mu, g_lv = torch.autograd.grad(A.reparameterize(mu, lv, eps).sum(), (mu, lv))
    assert torch.equal(g_mu, torch.ones_like(mu))                                     # ∂z/∂μ = 1
    torch.testing.assert_close(g_lv, 0.5 * torch.exp(0.5 * lv.detach()) * eps, rtol=1e-15, atol=0)   # ½ σ ε
    assert torch.autograd.gradcheck(lambda m, l: A.reparameterize(m, l, eps), (mu, lv))


def test_kl_against_quad():
    """∫ q log(q/p) by adaptive quadrature (scipy), independent of every closed form in the project."""
    for m, lv in [(0.0, 0.0), (1.5, -2.0), (-0.7, 1.3)]:
        sd = math.exp(lv / 2)
        f = lambda z, m=m, sd=sd: stats.norm.pdf(z, m, sd) * (stats.norm.logpdf(z, m, sd) - stats.norm.logpdf(z))
        want = integrate.quad(f, m - 15 * sd, m + 15 * sd, epsabs=1e-13)[0]
        for mod, arr in BACKENDS.values():
            got = _np(mod.kl_standard_normal(arr([[m]]), arr([[lv]])))
            np.testing.assert_allclose(got, [want], rtol=1e-10, atol=1e-12)


def test_kl_reductions():
    mu, lv = np.array([[0.0, 1.0], [2.0, 0.0]]), np.zeros((2, 2))        # per-sample KL = μ²/2 summed: 0.5, 2
    np.testing.assert_allclose(R.kl_standard_normal(mu, lv), [0.5, 2.0])
    assert R.kl_standard_normal(mu, lv, reduction="sum_all") == pytest.approx(2.5)
    assert R.kl_standard_normal(mu, lv, reduction="mean_batch") == pytest.approx(1.25)


def test_elbo_and_evidence_by_hand():
    """d = k = 1, x = 1, w = 1, c = 0, s² = 1: p(x) = N(1; 0, 2), posterior N(½, ½)."""
    x, W, c = np.array([[1.0]]), np.array([[1.0]]), np.array([0.0])
    log_px = -0.5 * math.log(4 * math.pi) - 0.25
    for mod, arr in BACKENDS.values():
        args = (arr(x), arr(W), arr(c), 1.0)
        assert _np(mod.log_evidence_linear_gaussian(*args)) == pytest.approx([log_px], abs=1e-14)
        at_post = _np(mod.elbo_linear_gaussian(*args, arr([[0.5]]), arr([[[0.5]]])))
        assert at_post == pytest.approx([log_px], abs=1e-14)
        # q = prior N(0, 1): KL(q ‖ p) = 0 and E_q log p(x|z) = -½ log 2π - (1 + 1)/2
        at_prior = _np(mod.elbo_linear_gaussian(*args, arr([[0.0]]), arr([[[1.0]]])))
        assert at_prior == pytest.approx([-0.5 * math.log(2 * math.pi) - 1.0], abs=1e-14)
        assert at_prior[0] < log_px


def test_log_evidence_matches_scipy():
    rng = np.random.default_rng(3)
    W, c, x = rng.standard_normal((4, 2)), rng.standard_normal(4), rng.standard_normal((5, 4))
    want = stats.multivariate_normal(c, W @ W.T + 0.3 * np.eye(4)).logpdf(x)
    np.testing.assert_allclose(R.log_evidence_linear_gaussian(x, W, c, 0.3), want, rtol=1e-12)
    np.testing.assert_allclose(_np(A.log_evidence_linear_gaussian(torch.tensor(x), torch.tensor(W), torch.tensor(c),
                                                                  0.3)),
                               want, rtol=1e-12)


@pytest.mark.parametrize("data", [(6,), (1, 4, 4)])
def test_loss_is_02s_code(data):
    """02's vae_step, transcribed literally, equals the reference and the accelerated vae_loss, on rows and on
    images (02's F.mse_loss(reduction="sum") takes any shape; the latents have their own)."""
    g = torch.Generator().manual_seed(0)
    x, x_hat = (torch.rand(3, *data, generator=g, dtype=torch.float64) for _ in range(2))
    mu, logvar = torch.randn(3, 2, generator=g, dtype=torch.float64), torch.randn(3, 2, generator=g,
                                                                                  dtype=torch.float64)
    recon = F.mse_loss(x_hat, x, reduction="sum")
    kl = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())
    want = float(recon + kl)
    assert float(A.vae_loss(x, x_hat, mu, logvar)) == pytest.approx(want, rel=1e-14)
    assert R.vae_loss(x.numpy(), x_hat.numpy(), mu.numpy(), logvar.numpy()) == pytest.approx(want, rel=1e-14)
    D = x.numel()
    half = R.vae_loss(x.numpy(), x_hat.numpy(), mu.numpy(), logvar.numpy(), reconstruction="gaussian_nll_half")
    assert half - want == pytest.approx(0.5 * D * math.log(math.pi), rel=1e-12)    # sse = nll - (D/2) log π at σ² = ½


# ---- singular points -----------------------------------------------------------------------------
@pytest.mark.parametrize("backend", BACKENDS)
def test_singular_points(backend):
    mod, arr = BACKENDS[backend]
    zeros = arr(np.zeros((2, 3)))
    assert np.all(_np(mod.kl_standard_normal(zeros, zeros)) == 0.0)                     # KL = 0 at the prior
    mu = arr([[0.25, -3.0]])
    assert np.array_equal(_np(mod.reparameterize(mu, arr([[2.0, -1.0]]), arr([[0.0, 0.0]]))), _np(mu))   # ε = 0
    ends = arr([[-30.0, 20.0]])                                                          # the domain's ends: finite
    assert np.all(np.isfinite(_np(mod.kl_standard_normal(arr([[0.0, 0.0]]), ends))))
    x = arr(np.ones((1, 4)))
    assert _np(mod.vae_loss(x, x, arr(np.zeros((1, 2))), arr(np.zeros((1, 2))))) == 0.0
    for dt in (torch.float32, torch.bfloat16):                                           # no overflow at logvar = 20
        assert torch.isfinite(A.kl_standard_normal(torch.zeros(1, 1, dtype=dt),
                                                   torch.full((1, 1), 20.0, dtype=dt))).all()
    assert np.array_equal(R.reparameterize(np.array([1.5]), np.array([0.0]), np.array([3.0]), parameterization="sigma"),
                          [1.5])                                                          # σ = 0: z = μ


# ---- bad inputs ------------------------------------------------------------------------------------
def _bad_calls(arr):
    ok2 = arr(np.zeros((2, 3)))
    W, c, x = arr(np.ones((2, 1))), arr(np.zeros(2)), arr(np.zeros((1, 2)))
    m, S = arr(np.zeros((1, 1))), arr(np.ones((1, 1, 1)))
    return [
        ("vae.reparameterization", "logvar", lambda mod: mod.reparameterize(ok2, arr(np.full((2, 3), 20.5)), ok2)),
        ("vae.reparameterization", "mu", lambda mod: mod.reparameterize(arr([[np.nan, 0, 0], [0, 0, 0]]), ok2, ok2)),
        ("vae.reparameterization", "eps", lambda mod: mod.reparameterize(ok2, ok2, arr(np.zeros((3, 2))))),
        ("vae.kl", "logvar", lambda mod: mod.kl_standard_normal(ok2, arr(np.full((2, 3), -31.0)))),
        ("vae.kl", "mu", lambda mod: mod.kl_standard_normal(arr(np.full((2, 3), np.inf)), ok2)),
        ("vae.kl", "logvar", lambda mod: mod.kl_standard_normal(ok2, arr(np.zeros((2, 2))))),
        ("vae.elbo", "S", lambda mod: mod.elbo_linear_gaussian(x, W, c, 1.0, m, arr(-np.ones((1, 1, 1))))),
        ("vae.elbo", "S", lambda mod: mod.elbo_linear_gaussian(x, W, c, 1.0, m, arr(np.ones((1, 2, 2))))),
        ("vae.elbo", "S", lambda mod: mod.elbo_linear_gaussian(x, arr(np.ones((2, 2))), c, 1.0, arr(np.zeros((1, 2))),
                                                               arr([[[1.0, 0.5], [0.0, 1.0]]]))),
        ("vae.elbo", "s2", lambda mod: mod.elbo_linear_gaussian(x, W, c, 0.0, m, S)),
        ("vae.elbo", "m", lambda mod: mod.elbo_linear_gaussian(x, W, c, 1.0, arr(np.zeros((2, 1))), S)),
        ("vae.elbo", "W", lambda mod: mod.elbo_linear_gaussian(arr(np.zeros((1, 3))), W, c, 1.0, m, S)),
        ("vae.log_evidence", "s2", lambda mod: mod.log_evidence_linear_gaussian(x, W, c, -1.0)),
        ("vae.log_evidence", "c", lambda mod: mod.log_evidence_linear_gaussian(x, W, arr(np.zeros(3)), 1.0)),
        ("vae.loss", "x_hat", lambda mod: mod.vae_loss(ok2, arr(np.zeros((2, 2))), ok2, ok2)),
        ("vae.loss", "mu", lambda mod: mod.vae_loss(ok2, ok2, arr(np.zeros((3, 3))), arr(np.zeros((3, 3))))),
        ("vae.loss", "logvar", lambda mod: mod.vae_loss(ok2, ok2, ok2, arr(np.full((2, 3), np.nan)))),
    ]


@pytest.mark.parametrize("backend", BACKENDS)
def test_bad_inputs_name_clause_and_argument(backend):
    mod, arr = BACKENDS[backend]
    for clause, argument, call in _bad_calls(arr):
        with pytest.raises(SpecInputError) as e:
            call(mod)
        assert (e.value.clause, e.value.argument) == (clause, argument), str(e.value)


def test_unknown_variant_is_an_input_error():
    with pytest.raises(SpecInputError, match="parameterization"):
        R.reparameterize(np.zeros(1), np.zeros(1), np.zeros(1), parameterization="softplus")


# ---- conventions and planted bugs ---------------------------------------------------------------------
ACC = from_modules("accelerated", "accelerated", "torch")


def _target(name, replace, conventions=None):
    return Target(name=name, backend="torch", bindings={**ACC.bindings, **replace}, conventions=conventions or {})


@pytest.mark.parametrize("clause,bug", [
    ("vae.kl", lambda mu, logvar: -torch.sum(1 + logvar - mu**2 - torch.exp(logvar), dim=-1)),          # no ½
    ("vae.reparameterization", lambda mu, logvar, eps: mu + torch.exp(logvar) * eps),                   # σ = e^logvar
], ids=["kl_missing_half", "sigma_exp_logvar"])
def test_planted_bug_fails_exactly_its_clause(clause, bug):
    """Every other vae clause passes with the same target (together the runs also show the unmodified bindings pass)."""
    assert failing(check(_target(f"bug:{clause}", {clause: bug}), ["vae"], target_independent=False,
                         shrink=False)) == {clause}


def test_declared_conventions_are_honoured():
    kl_02 = lambda mu, logvar: -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())
    mean_mse = lambda x, x_hat, mu, logvar: F.mse_loss(x_hat, x) + kl_02(mu, logvar)       # F.mse_loss's default
    declared = _target("02", {"vae.kl": kl_02, "vae.loss": mean_mse},
                       {"vae.kl": {"reduction": "sum_all"}, "vae.loss": {"reconstruction": "mse_mean"}})
    assert failing(check(declared, ["vae.kl", "vae.loss"], target_independent=False, shrink=False)) == set()
    undeclared = _target("02-undeclared", {"vae.kl": kl_02, "vae.loss": mean_mse})
    assert failing(check(undeclared, ["vae.kl", "vae.loss"], target_independent=False, shrink=False)) == {"vae.kl",
                                                                                                          "vae.loss"}
