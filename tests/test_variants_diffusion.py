"""Issue 21, item 7 (diffusion): the variants real libraries use, each declared and each with a planted slip that fails.

- ddpm.ancestral_step / ddpm.ddim_step / ddpm.ddim_eta_step ``clip_sample``: x̂_0 clamped to [−1, 1] ('clip'; DDIM
  also 'clip_rederive', ε̂ re-derived from the clamped x̂_0: denoising-diffusion-pytorch's ddim_sample);
- family.vp_schedule ``parameterisation``: denoising-diffusion-pytorch's continuous log-SNR schedules;
- cfg.apg: guidance with the parallel component of Δ = v_y − v_∅ down-weighted by η (Sadat et al. 2024).

The reference in each variant passes (tests/test_conventions.py runs every variant); here each variant changes what a
target must compute (a default implementation declared in the variant fails) and a slip inside the variant fails.
"""
from __future__ import annotations

import functools

import numpy as np
import pytest

import genspec.reference.ddpm as R
from genspec.conformance import Target
from genspec.conformance.harness.api import check


def _status(clause, fn, conventions=None, backend="numpy"):
    target = Target(name="planted", backend=backend, bindings={clause: fn},
                    conventions={clause: conventions} if conventions else {})
    return check(target, [clause], profile="ci", target_independent=False, shrink=False)[clause]


# ---- clip_sample ---------------------------------------------------------------------------------------------
def test_clip_changes_the_step_where_x0_hat_leaves_the_range():
    """A step where x̂_0 = (x_t − b ε)/a leaves [−1, 1] differs between the variants; inside it they agree."""
    betas = R.beta_schedule(10, 1e-2, 0.2)
    x_t, eps, t = np.array([[3.0, 0.2]]), np.array([[0.1, 0.1]]), np.array([5])
    noise = np.zeros_like(x_t)
    plain = R.ancestral_step(x_t, eps, t, betas, noise)
    clipped = R.ancestral_step(x_t, eps, t, betas, noise, clip_sample="clip")
    assert abs(plain[0, 0] - clipped[0, 0]) > 0.1                      # x̂_0 ≈ 4 there: clamped to 1
    np.testing.assert_allclose(plain[0, 1], clipped[0, 1], rtol=1e-13)  # x̂_0 ≈ 0.2: the same step
    d = R.ddim_step(x_t, eps, t, np.array([2]), betas, clip_sample="clip")
    r = R.ddim_step(x_t, eps, t, np.array([2]), betas, clip_sample="clip_rederive")
    assert abs(d[0, 0] - r[0, 0]) > 0.1


@pytest.mark.parametrize("clause, variant", [("ddpm.ancestral_step", "clip"), ("ddpm.ddim_step", "clip"),
                                             ("ddpm.ddim_step", "clip_rederive"), ("ddpm.ddim_eta_step", "clip"),
                                             ("ddpm.ddim_eta_step", "clip_rederive")])
def test_an_unclipped_step_declared_clipped_fails(clause, variant):
    fn = {"ddpm.ancestral_step": R.ancestral_step, "ddpm.ddim_step": R.ddim_step,
          "ddpm.ddim_eta_step": R.ddim_eta_step}[clause]
    assert _status(clause, fn, {"clip_sample": variant}).status == "failed"    # the variant passes: test_conventions


def test_clip_without_rederive_declared_rederive_fails():
    """denoising-diffusion-pytorch's ddim_sample re-derives ε̂; a step that clamps x̂_0 but keeps ε̂ is the other
    variant (diffusers' default use_clipped_model_output=False)."""
    fn = functools.partial(R.ddim_eta_step, clip_sample="clip")
    assert _status("ddpm.ddim_eta_step", fn, {"clip_sample": "clip_rederive"}).status == "failed"


def test_clipping_the_output_instead_of_x0_hat_fails():
    """A slip: clamp the new sample x_{t'} rather than the predicted x̂_0."""
    def slip(x_t, eps_pred, t, t_prev, betas):
        return np.clip(R.ddim_step(x_t, eps_pred, t, t_prev, betas), -1.0, 1.0)
    assert _status("ddpm.ddim_step", slip, {"clip_sample": "clip"}).status == "failed"


def _posterior_step(lo):
    """The clipped ancestral step written out, x̂_0 clamped to [lo, 1]."""
    def step(x_t, eps_pred, t, betas, noise):
        ab, om, _ = R.schedule(betas)
        c = lambda v: R._col(np.asarray(v), x_t)
        x0 = np.clip((x_t - c(np.sqrt(om[t])) * eps_pred) / c(np.sqrt(ab[t])), lo, 1.0)
        beta = betas[np.asarray(t) - 1]
        mean = c(np.sqrt(ab[t - 1]) * beta / om[t]) * x0 + c(np.sqrt(1 - beta) * om[t - 1] / om[t]) * x_t
        var = np.where(np.asarray(t) == 1, 0.0, om[t - 1] / om[t] * beta)
        return mean + c(np.sqrt(var)) * noise
    return step


def test_clipping_to_zero_one_fails():
    """A slip: clamp x̂_0 to [0, 1] (images in [0, 1]) in the posterior mean; the same code with [−1, 1] passes."""
    assert _status("ddpm.ancestral_step", _posterior_step(-1.0), {"clip_sample": "clip"}).status == "passed"
    assert _status("ddpm.ancestral_step", _posterior_step(0.0), {"clip_sample": "clip"}).status == "failed"


# ---- family.vp_schedule: denoising-diffusion-pytorch's log-SNR schedules -------------------------------------
def _log_snr_schedule(offset=1e-4, normalise=False):
    """The library's lines in NumPy: ᾱ = sigmoid(log SNR), beta_linear_log_snr = −log(expm1(1e-4 + 10 t²)),
    alpha_cosine_log_snr = −log(cos⁻²θ − 1)."""
    def alpha_bar(t, schedule):
        t = np.asarray(t, dtype=np.float64)
        if schedule == "linear":
            log_snr = -np.log(np.expm1(offset + 10 * t**2)) if offset else -np.log(np.expm1(10 * t**2) + 1e-300)
        elif schedule == "cosine":
            theta = (t + 0.008) / 1.008 * np.pi / 2
            log_snr = -np.log(np.cos(theta) ** -2.0 - 1) + (np.log(np.cos(0.008 / 1.008 * np.pi / 2) ** -2)
                                                              if normalise else 0.0)
        else:
            return np.cos(np.pi / 2 * t) ** 2
        return 1 / (1 + np.exp(-log_snr))
    return alpha_bar


LOG_SNR = {"linear_form": "beta_linear_log_snr", "cosine_form": "alpha_cosine_log_snr"}


def test_the_librarys_log_snr_schedules_pass_in_their_variants_and_fail_in_the_default():
    with np.errstate(divide="ignore", over="ignore"):
        assert _status("family.vp_schedule", _log_snr_schedule(), LOG_SNR).status == "passed"
        assert _status("family.vp_schedule", _log_snr_schedule()).status == "failed"


def test_a_log_snr_schedule_without_its_offset_fails():
    """A slip: ᾱ = exp(−10 t²), the 1e-4 of beta_linear_log_snr dropped (ᾱ(0) = 1)."""
    with np.errstate(divide="ignore", over="ignore"):
        assert _status("family.vp_schedule", _log_snr_schedule(offset=0.0), LOG_SNR).status == "failed"


# ---- the variants in use: denoising-diffusion-pytorch's adapter ---------------------------------------------
def test_denoising_diffusion_pytorch_binds_its_samplers_and_schedules_in_their_variants():
    """As shipped, p_sample (clip), the ddim_sample step (clip_rederive) and the log-SNR schedules pass; the same
    bindings declared in the spec's defaults fail (the differences the variants name)."""
    from genspec.conformance import adapters
    if not adapters.installed("denoising_diffusion_pytorch"):
        pytest.skip(f"{adapters.PIP['denoising_diffusion_pytorch']} is not installed ({adapters.INSTALL})")
    clauses = ["ddpm.ancestral_step", "ddpm.ddim_step", "family.vp_schedule"]
    tgt = adapters.load("denoising_diffusion_pytorch")
    shipped = check(tgt, clauses, target_independent=False, shrink=False)
    assert {c: r.status for c, r in shipped.items()} == dict.fromkeys(clauses, "passed")   # (api: no "partial")
    tgt.conventions.update({"ddpm.ancestral_step": {"indexing": "zero_based"}, "ddpm.ddim_step": {
        "indexing": "zero_based"}, "family.vp_schedule": {}})
    default = check(tgt, clauses, target_independent=False, shrink=False)
    assert {c: r.status for c, r in default.items()} == dict.fromkeys(clauses, "failed")


# ---- cfg.apg: projected guidance --------------------------------------------------------------------------
def _apg(onto="v_y", anchor="conditional"):
    """APG in the scale form written out (Sadat et al.'s listing), projecting Δ onto ``onto``; ``anchor``
    'unconditional' is diffusers' default v_∅ + s U."""
    def guided(v_y, v_null, w, eta):
        d = v_y - v_null
        v = v_y if onto == "v_y" else v_null
        axes = tuple(range(1, v.ndim))
        n2 = np.sum(v * v, axis=axes, keepdims=True)
        par = np.sum(d * v, axis=axes, keepdims=True) / np.where(n2 == 0, 1.0, n2) * v
        u = d - par + eta * par
        return v_y + (w - 1) * u if anchor == "conditional" else v_null + w * u
    return guided


def test_apg_as_written_passes_and_plain_cfg_fails():
    assert _status("cfg.apg", _apg(), {"form": "scale"}).status == "passed"
    assert _status("cfg.apg", _apg(anchor="unconditional"), {"form": "scale_unconditional_anchor"}).status == "passed"
    cfg = lambda v_y, v_null, w, eta: v_null + w * (v_y - v_null)          # guidance without the projection
    assert _status("cfg.apg", cfg, {"form": "scale"}).status == "failed"


def test_apg_projecting_onto_the_unconditional_prediction_fails():
    assert _status("cfg.apg", _apg(onto="v_null"), {"form": "scale"}).status == "failed"


def test_diffusers_anchor_declared_as_the_papers_scale_form_fails():
    """v_∅ + s U differs from v_y + (s − 1) U by (η − 1) Δ∥: a different function unless η = 1."""
    assert _status("cfg.apg", _apg(anchor="unconditional"), {"form": "scale"}).status == "failed"
