"""Issue 11: clauses the libraries implement that the notes do not state — the exponential time shift (diffusers,
Flux), the Karras/EDM σ schedule (k-diffusion), the trigonometric vp path (flow_matching's CosineScheduler) and EDM
preconditioning. Literal library forms pass (or fail only where the spec says why); planted bugs fail their clause.
"""
import math

import numpy as np
import pytest
import torch

import accelerated.schedule as A
import reference.schedule as R
from conformance import Target
from conformance.harness import api
from spec import SpecInputError


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
    import conformance.harness.arrays as arrays
    normal = tuple(v for v in arrays.T_EDGES if v == 0.0 or v > 1e-30)
    monkeypatch.setattr(arrays, "T_EDGES", normal)
    import conformance.harness.inputs as inp
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
