"""Issue 11: clauses the libraries implement that the notes do not state — the exponential time shift (diffusers,
Flux), the Karras/EDM σ schedule (k-diffusion), the trigonometric vp path (flow_matching's CosineScheduler) and EDM
preconditioning. Literal library forms pass (or fail only where the spec says why); planted bugs fail their clause.
"""
import math

import numpy as np
import pytest
import torch

import genspec.accelerated.family as AF
import genspec.accelerated.schedule as A
import genspec.reference.family as RF
import genspec.reference.schedule as R
from genspec.conformance import Target
from genspec.conformance.harness import api
from genspec.spec import SpecInputError


def _run(clause, fn, backend="numpy", dtype="float64", conventions=None):
    target = Target(name="planted", bindings={clause: fn}, backend=backend,
                    conventions={clause: conventions} if conventions else {})
    return api.check(target, [clause], dtype=dtype, target_independent=False, shrink=False)[clause]


# ---- schedule.shift_exponential -------------------------------------------------------------------------------
def diffusers_time_shift(t, mu, sigma=1.0):
    """diffusers' _time_shift_exponential, written as there (subnormal t: 1/t overflows, see the clause)."""
    if isinstance(t, torch.Tensor):
        return math.exp(mu) / (math.exp(mu) + (1 / t - 1) ** sigma)
    with np.errstate(divide="ignore", over="ignore"):
        return math.exp(mu) / (math.exp(mu) + (1 / t - 1) ** sigma)


def test_shift_exponential_values_and_relation_to_the_rational_shift():
    t = np.array([0.0, 1e-300, 0.25, 0.5, 0.75, 1 - 2.0**-53, 1.0])
    np.testing.assert_allclose(R.time_shift_exponential(t, math.log(3.0)), R.shift(t, 3.0), rtol=1e-15)
    assert R.time_shift_exponential(np.array([0.0, 1.0]), 50.0, 0.3).tolist() == [0.0, 1.0]
    np.testing.assert_allclose(R.time_shift_exponential(np.array([0.5]), 1.15, 1.0), [math.exp(1.15) / (math.exp(1.15)
                                                                                                      + 1.0)])
    acc = A.time_shift_exponential(torch.tensor(t[1:-1]), 0.7, 1.3).numpy()
    np.testing.assert_allclose(acc, R.time_shift_exponential(t[1:-1], 0.7, 1.3), rtol=1e-14)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_diffusers_literal_time_shift_on_normal_t_passes(dtype, monkeypatch):
    """The form as diffusers writes it conforms on every t except subnormal ones with σ < 1 (the clause's ⚠)."""
    import genspec.conformance.harness.arrays as arrays
    normal = tuple(v for v in arrays.T_EDGES if v == 0.0 or v > 1e-30)
    monkeypatch.setattr(arrays, "T_EDGES", normal)
    import genspec.conformance.harness.inputs as inp
    monkeypatch.setattr(inp, "T_EDGES", normal)
    res = _run("schedule.shift_exponential", diffusers_time_shift, "torch", dtype)
    assert res.status == "passed", res.failures


def test_diffusers_literal_time_shift_fails_at_subnormal_t():
    """1/t = ∞ at t = 5e-324 makes the literal form return 0 where e^μ t^σ ≈ 1e-162 (σ = 1/2): the edge catches it."""
    assert diffusers_time_shift(np.array([5e-324]), 0.0, 0.5)[0] == 0.0
    assert R.time_shift_exponential(np.array([5e-324]), 0.0, 0.5)[0] > 1e-163
    assert _run("schedule.shift_exponential", diffusers_time_shift).status == "failed"


@pytest.mark.parametrize("bug", [
    lambda t, mu, sigma=1.0: R.time_shift_exponential(t, -mu, sigma),            # e^{−μ}: shifted the wrong way
    lambda t, mu, sigma=1.0: R.time_shift_exponential(t, mu, 1.0),               # σ ignored
    lambda t, mu, sigma=1.0: R.shift(t, mu if mu > 0 else 1e-9),                 # diffusers' 'linear' with s = μ
    lambda t, mu, sigma=1.0: np.clip(R.time_shift_exponential(t, mu, sigma), 1e-5, 1 - 1e-5),
], ids=["minus_mu", "sigma_ignored", "linear_type", "clipped"])
def test_planted_time_shift_bugs_fail(bug):
    assert _run("schedule.shift_exponential", bug).status == "failed"


# ---- schedule.karras ------------------------------------------------------------------------------------------
def k_diffusion_sigmas(n, sigma_min, sigma_max, rho=7.0):
    """k-diffusion's get_sigmas_karras, as written there (float32 ramp)."""
    ramp = torch.linspace(0, 1, n)
    min_inv_rho, max_inv_rho = sigma_min ** (1 / rho), sigma_max ** (1 / rho)
    sigmas = (max_inv_rho + ramp * (min_inv_rho - max_inv_rho)) ** rho
    return torch.cat([sigmas, sigmas.new_zeros([1])])


def test_karras_values():
    s = R.karras_sigmas(3, 0.002, 80.0)
    mid = (80.0 ** (1 / 7) + 0.5 * (0.002 ** (1 / 7) - 80.0 ** (1 / 7))) ** 7
    np.testing.assert_allclose(s, [80.0, mid, 0.002, 0.0], rtol=1e-14)     # (σ_min^{1/ρ})^ρ: a few ulps
    np.testing.assert_allclose(R.karras_sigmas(1, 0.1, 10.0), [10.0, 0.0], rtol=1e-14)   # N = 1: σ_max alone
    assert R.karras_sigmas(4, 0.1, 10.0, final_sigma="none").shape == (4,)
    np.testing.assert_allclose(A.karras_sigmas(6, 0.002, 80.0).numpy(), R.karras_sigmas(6, 0.002, 80.0), rtol=1e-14)


def test_k_diffusion_literal_passes_in_float32():
    res = _run("schedule.karras", k_diffusion_sigmas, "torch", "float32")
    assert res.status == "passed", res.failures


@pytest.mark.parametrize("bug, conventions", [
    (lambda n, sigma_min, sigma_max, rho=7.0: k_diffusion_sigmas(n, sigma_min, sigma_max, rho)[:-1], None),
    (lambda n, sigma_min, sigma_max, rho=7.0, final_sigma="zero": A.karras_sigmas(n, sigma_min, sigma_max, rho),
     {"final_sigma": "none"}),
    (lambda n, sigma_min, sigma_max, rho=7.0: A.karras_sigmas(n, sigma_min, sigma_max, 1.0 / rho), None),
    (lambda n, sigma_min, sigma_max, rho=7.0: A.karras_sigmas(n, sigma_min, sigma_max, rho).flip(0), None),
    (lambda n, sigma_min, sigma_max, rho=7.0: torch.cat([A.karras_sigmas(n, sigma_min, sigma_max, rho)[:-1],
                                                          torch.full((1,), sigma_min * 1e-3, dtype=torch.float64)]),
     None),
], ids=["no_zero", "zero_when_none_declared", "rho_inverted", "ascending", "last_not_zero"])
def test_planted_karras_bugs_fail(bug, conventions):
    assert _run("schedule.karras", bug, "torch", conventions=conventions).status == "failed"


@pytest.mark.parametrize("call, arg", [
    (lambda: R.karras_sigmas(0, 0.1, 1.0), "n"),
    (lambda: R.karras_sigmas(3, 2.0, 1.0), "sigma_min"),
    (lambda: R.karras_sigmas(3, 0.1, 1.0, rho=0.0), "rho"),
    (lambda: A.karras_sigmas(3, 0.1, 1.0, final_sigma="append"), "final_sigma"),
    (lambda: R.time_shift_exponential(np.array([0.5]), 51.0), "mu"),
    (lambda: A.time_shift_exponential(torch.tensor([0.5]), 0.0, 0.0), "sigma"),
    (lambda: R.time_shift_exponential(np.array([1.5]), 0.0), "t"),
])
def test_bad_input_names_clause_and_argument(call, arg):
    with pytest.raises(SpecInputError) as e:
        call()
    assert e.value.argument == arg, str(e.value)


# ---- vp schedule 'trig' ---------------------------------------------------------------------------------------

def test_trig_path_values_and_mapping_to_cosine():
    t = np.array([0.0, 0.25, 0.5, 1.0])
    a, b, c, d = RF.coefficients(t, "vp", "velocity", "trig")
    np.testing.assert_allclose(a, np.cos(np.pi * t / 2), atol=1e-16)
    np.testing.assert_allclose(b, np.sin(np.pi * t / 2), atol=1e-16)
    np.testing.assert_allclose(np.stack([c, d]), np.pi / 2 * np.stack([-b, a]), atol=1e-15)   # velocity = (π/2) v
    s = 0.008                                                     # cosine = trig on τ = (t + s)/(1 + s), renormalised
    tau = lambda u: (u + s) / (1 + s)                             # noqa: E731
    np.testing.assert_allclose(RF.vp_alpha_bar(t, "cosine"), RF.vp_alpha_bar(tau(t), "trig")
                               / RF.vp_alpha_bar(tau(0.0), "trig"), atol=1e-15)
    with pytest.raises(SpecInputError) as e:
        RF.recover(np.ones((1, 2)), np.ones((1, 2)), np.array([1.0]), "vp", "epsilon", "trig")
    assert e.value.argument == "t"
    assert np.isfinite(RF.coefficients(np.array([0.0]), "vp", "velocity", "trig")[3]).all()   # b'(0) = π/2


def _family_target(clause, fn):
    from genspec.conformance.harness.target import from_modules
    base = from_modules("accelerated", "accelerated", "torch")
    bindings = {k: v for k, v in base.bindings.items() if k.startswith("family.")}
    bindings[clause] = fn
    return Target(name=f"planted:{clause}", backend="torch", bindings=bindings)


def _trig_as_cosine(t, schedule="linear"):
    return AF.vp_alpha_bar(t, "cosine" if schedule == "trig" else schedule)


def _trig_flow_matching_time(t, path="rf", target="velocity", schedule=None):
    """flow_matching's CosineScheduler without flipping its time (t = 1 is data there)."""
    if schedule == "trig":
        a, b, c, d = AF.coefficients(1.0 - t, path, target, schedule)
        return b, a, d, c
    return AF.coefficients(t, path, target, schedule)


@pytest.mark.parametrize("clause, fn", [("family.vp_schedule", _trig_as_cosine),
                                        ("family.affine", _trig_flow_matching_time)], ids=["offset", "time_reversed"])
def test_planted_trig_bugs_fail_their_clause(clause, fn):
    res = api.check(_family_target(clause, fn), [clause], target_independent=False, shrink=False)[clause]
    assert res.status == "failed"


# ---- EDM preconditioning --------------------------------------------------------------------------------------
def diffusers_precondition_outputs(x_sigma, F, sigma, sigma_data=0.5):
    """diffusers' EDMEulerScheduler.precondition_outputs, written as there (σ per sample broadcast by the caller)."""
    sigma = sigma.reshape((-1,) + (1,) * (x_sigma.ndim - 1)) if isinstance(sigma, torch.Tensor) else sigma
    c_skip = sigma_data**2 / (sigma**2 + sigma_data**2)
    c_out = sigma * sigma_data / (sigma**2 + sigma_data**2) ** 0.5
    return c_skip * x_sigma + c_out * F


def k_diffusion_scalings(sigma, sigma_data=0.5):
    """k-diffusion's Denoiser.get_scalings plus c_noise = ¼ ln σ (EDM's), as written."""
    c_skip = sigma_data**2 / (sigma**2 + sigma_data**2)
    c_out = sigma * sigma_data / (sigma**2 + sigma_data**2) ** 0.5
    c_in = 1 / (sigma**2 + sigma_data**2) ** 0.5
    return c_skip, c_out, c_in, torch.log(sigma) / 4


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_library_edm_forms_pass(dtype):
    assert _run("family.edm_precond", k_diffusion_scalings, "torch", dtype).status == "passed"
    assert _run("family.edm_denoise", diffusers_precondition_outputs, "torch", dtype).status == "passed"


@pytest.mark.parametrize("clause, bug", [
    ("family.edm_precond", lambda sigma, sigma_data=0.5: (*k_diffusion_scalings(sigma, sigma_data)[:3],
                                                          torch.log(sigma))),                     # c_noise = ln σ
    ("family.edm_precond", lambda sigma, sigma_data=0.5: (k_diffusion_scalings(sigma, sigma_data)[0],
                                                          sigma * sigma_data / (sigma**2 + sigma_data**2),
                                                          *k_diffusion_scalings(sigma, sigma_data)[2:])),  # no √
    ("family.edm_denoise", lambda x_sigma, F, sigma, sigma_data=0.5: diffusers_precondition_outputs(F, x_sigma, sigma,
                                                                                                     sigma_data)),
    ("family.edm_denoise", lambda x_sigma, F, sigma, sigma_data=0.5: diffusers_precondition_outputs(x_sigma, F, sigma,
                                                                                                     1.0)),
], ids=["c_noise_ln", "c_out_no_sqrt", "swapped", "sigma_data_ignored"])
def test_planted_edm_bugs_fail(clause, bug):
    assert _run(clause, bug, "torch").status == "failed"


def test_edm_values():
    c_skip, c_out, c_in, c_noise = RF.edm_preconditioning(np.array([0.5, 1e200]), 0.5)
    np.testing.assert_allclose([c_skip[0], c_out[0], c_in[0], c_noise[0]],
                               [0.5, 0.25 * math.sqrt(2), 1 / (0.5 * math.sqrt(2)), 0.25 * math.log(0.5)], rtol=1e-15)
    assert c_skip[1] == 0.0 and c_out[1] == 0.5                   # σ² would overflow: hypot does not
    x, z, s = np.array([[1.0, -2.0]]), np.array([[0.3, 0.7]]), 2.0
    f = (s * x / 0.5 - 0.5 * z) / math.hypot(s, 0.5)
    np.testing.assert_allclose(RF.edm_denoise(x + s * z, f, s), x, rtol=1e-15)
    with pytest.raises(SpecInputError) as e:
        AF.edm_denoise(torch.ones(2, 3), torch.ones(2, 3), torch.tensor([1.0, 0.0]))
    assert e.value.argument == "sigma"
