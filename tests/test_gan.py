"""GAN family: the reference at its singular points, bad input, and planted bugs the suite must catch."""
import math

import numpy as np
import pytest
import torch

import genspec.accelerated.gan as A
import genspec.reference.gan as R
from genspec.conformance import Target
from genspec.conformance.harness.api import check, failing
from genspec.conformance.harness.target import from_modules
from genspec.spec import SpecInputError


def _with(clause, fn, backend="torch", conventions=None):
    base = from_modules("accelerated", "accelerated", "torch") if backend == "torch" else \
        from_modules("reference", "reference", "numpy")
    bindings = {k: v for k, v in base.bindings.items() if k.startswith("gan.")}
    bindings[clause] = fn
    return Target(name=f"planted:{clause}", backend=backend, bindings=bindings, conventions=conventions or {})


# ---- planted bugs: exactly the right clause fails ----------------------------------------------
PLANTED = {
    "gan.optimal_discriminator": lambda p_data, p_g: A.optimal_discriminator(p_g, p_data),       # p and q swapped
    "gan.adain": lambda x, w, b: w[:, :, None, None] * (x - x.mean((2, 3), keepdim=True))
    / x.std((2, 3), keepdim=True) + b[:, :, None, None],                                      # unbiased σ
    "gan.generator_loss_non_saturating": lambda d_fake: torch.log1p(-d_fake).mean(),         # the saturating one
    "gan.saturation": lambda a: (-1 / (1 - torch.sigmoid(a)), -1 / torch.sigmoid(a)),        # slope w.r.t. D
    "gan.latent_interpolation": lambda z0, z1, t: torch.lerp(z0, z1, t[:, None]),            # t = 0 gives z0
    "gan.jsd_identity": lambda p_data, p_g, dx: A.jsd(p_data, p_g, dx) * 2,                  # JSD without the ½
    "gan.value": lambda d_real, d_fake: torch.log(d_real).mean() + torch.log(d_fake).mean(),  # log D(G(z))
}


@pytest.mark.parametrize("clause", list(PLANTED))
def test_planted_bug_fails_exactly_its_clause(clause):
    res = check(_with(clause, PLANTED[clause]), ["gan"], target_independent=False, shrink=False)
    assert failing(res) == {clause}, {k: r.failures for k, r in res.items() if r.failures}


def test_declared_convention_is_checked_in_that_variant():
    lerp = PLANTED["gan.latent_interpolation"]
    t = _with("gan.latent_interpolation", lerp, conventions={"gan.latent_interpolation": {"endpoint": "t0_is_z0"}})
    assert check(t, ["gan.latent_interpolation"])["gan.latent_interpolation"].status == "passed"


def test_torch_instance_norm_passes_only_when_it_declares_its_epsilon():
    def adain_eps(x, w, b):
        return w[:, :, None, None] * torch.nn.functional.instance_norm(x, eps=1e-5) + b[:, :, None, None]

    undeclared = _with("gan.adain", adain_eps)
    declared = _with("gan.adain", adain_eps, conventions={"gan.adain": {"eps": "inside_sqrt_1e-5"}})
    assert check(undeclared, ["gan.adain"], target_independent=False, shrink=False)["gan.adain"].status == "failed"
    # the ε variant defines the constant channel as b too (0 / sqrt(ε) = 0), so every check passes
    assert check(declared, ["gan.adain"], target_independent=False, shrink=False)["gan.adain"].status == "passed"


# ---- singular points ----------------------------------------------------------------------------
def test_optimal_discriminator_is_half_where_both_densities_vanish():
    assert R.optimal_discriminator(np.array([0.0, 2.0]), np.array([0.0, 2.0])).tolist() == [0.5, 0.5]
    assert A.optimal_discriminator(torch.zeros(3), torch.zeros(3)).tolist() == [0.5] * 3


def test_value_is_minus_infinity_where_d_hits_the_wrong_end():
    assert R.value(np.array([0.0, 0.5]), np.array([0.5])) == -math.inf
    assert R.value(np.array([0.5]), np.array([1.0])) == -math.inf
    assert R.discriminator_bce(np.array([0.0]), np.array([0.5])) == math.inf
    assert R.discriminator_bce(np.array([0.0]), np.array([0.5]), log_clamp="torch_bce") == pytest.approx(
        100 + math.log(2))
    bce = torch.nn.BCELoss()
    assert float(bce(torch.tensor([0.0]), torch.tensor([1.0]))) == 100.0  # the torch_bce variant is torch's behaviour


def test_value_density_uses_zero_log_zero():
    # p_G = 0 where D = 1: that cell contributes nothing
    v = R.value_density(np.array([1.0, 0.0]), np.array([0.0, 1.0]), np.array([1.0, 0.0]), 1.0)
    assert v == 0.0


def test_jsd_of_disjoint_supports_is_log_two():
    assert R.jsd(np.array([1.0, 0.0]), np.array([0.0, 1.0]), 1.0) == pytest.approx(math.log(2), abs=1e-15)


def test_adain_constant_channel_gives_b():
    x = np.full((1, 1, 3, 3), 0.1)
    assert np.array_equal(R.adain(x, np.array([[2.0]]), np.array([[0.7]])), np.full_like(x, 0.7))


def test_slerp_parallel_is_linear_and_antiparallel_raises():
    z = np.array([[1.0, 2.0]])
    lin = R.latent_interpolation(z, 3 * z, np.array([0.3]))
    assert np.allclose(R.latent_interpolation(z, 3 * z, np.array([0.3]), path="spherical"), lin)
    with pytest.raises(SpecInputError, match="antiparallel"):
        R.latent_interpolation(z, -z, np.array([0.3]), path="spherical")


def test_slerp_keeps_the_norm_of_equal_norm_latents():
    rng = np.random.default_rng(0)
    z0, z1 = rng.standard_normal((5, 8)), rng.standard_normal((5, 8))
    z1 *= np.linalg.norm(z0, axis=1, keepdims=True) / np.linalg.norm(z1, axis=1, keepdims=True)
    zt = R.latent_interpolation(z0, z1, np.linspace(0, 1, 5), path="spherical")
    assert np.allclose(np.linalg.norm(zt, axis=1), np.linalg.norm(z0, axis=1))


# ---- bad input ----------------------------------------------------------------------------------
@pytest.mark.parametrize("mod", [R, A], ids=["reference", "accelerated"])
def test_bad_input_names_clause_and_argument(mod):
    arr = (lambda v: np.asarray(v, float)) if mod is R else (lambda v: torch.tensor(v, dtype=torch.float64))
    with pytest.raises(SpecInputError, match=r"gan.value: argument 'd_fake' must be in \[0, 1\]"):
        mod.value(arr([0.5]), arr([1.5]))
    with pytest.raises(SpecInputError, match=r"gan.optimal_discriminator: argument 'p_g' must be in \[0, inf\]"):
        mod.optimal_discriminator(arr([0.5]), arr([-1.0]))
    with pytest.raises(SpecInputError, match=r"gan.adain: argument 'w' must be shape"):
        mod.adain(arr(np.zeros((1, 2, 3, 3))), arr([[1.0]]), arr([[0.0, 0.0]]))
    with pytest.raises(SpecInputError, match=r"gan.value: argument 'd_real' must be finite"):
        mod.value(arr([float("nan")]), arr([0.5]))
    with pytest.raises(SpecInputError, match=r"gan.jsd_identity: argument 'p_g' must be shape \(n,\) with n = 2"):
        mod.jsd(arr([0.5, 0.5]), arr([1.0]), 1.0)
