"""k-diffusion 0.1.1.post1 (Crowson) bound to the spec: ``get_sigmas_karras``, the Karras preconditioner
``layers.Denoiser`` (its scalings and its forward pass as a module) and ``sample_euler``.

Conventions, declared: ``get_sigmas_karras`` builds its ramp with ``torch.linspace(0, 1, n)`` in torch's default
dtype (float32) whatever σ's dtype, so ``schedule.karras`` declares ``precision="float32"``. ``Denoiser`` defaults to
σ_d = 1 (the paper and the spec: 0.5); the clauses pass σ_d, and the binding hands it over. Its c_noise is not in
``get_scalings``: the library's models compute it themselves (``models/image_v1.py``: ``c_noise = sigma.log() / 4``),
which the binding repeats. ``sample_euler`` integrates the Karras ODE dx/dσ = (x − D(x; σ))/σ over the σ grid it is
given: with σ = t on the spec's grid (1, 1 − 1/T, …, 0) and the denoiser D = x − σ f(x, σ) its steps are the spec's
x ← x − f/T. Not bound: its other samplers (Heun, DPM-Solver, LMS, ancestral: no clause), ``get_sigmas_exponential``
/ ``_polyexponential`` / ``_vp`` (grids with no clause), ``DiscreteSchedule``'s σ ↔ t interpolation.
``external.VDenoiser`` (v-diffusion) maps t to σ = tan(πt/2), the trig VP schedule ᾱ = 1/(1 + σ²) = cos²(πt/2):
``family.vp_schedule`` is bound through it, on that schedule only.
"""
from __future__ import annotations

from genspec.conformance import Target, recorded

from . import require


def target() -> Target:
    K = require("k_diffusion")
    import torch

    def euler(f, x1, T):      # the Karras ODE on σ = t's grid (1, 1 − 1/T, …, 0), its denoiser D = x − σ f(x, σ)
        grid = torch.linspace(1.0, 0.0, T + 1, dtype=x1.dtype)
        return K.sampling.sample_euler(lambda x, s: x - K.utils.append_dims(s, x.ndim) * f(x, s), x1, grid,
                                       disable=True)

    return Target(
        name="k_diffusion", backend="torch",
        bindings={
            "schedule.karras": K.sampling.get_sigmas_karras,     # image_v1.py's c_noise = log(σ)/4 after the scalings
            "family.edm_precond": lambda sigma, sigma_data=0.5: (
                *K.layers.Denoiser(None, sigma_data).get_scalings(sigma), sigma.log() / 4),
            "family.edm_denoise": lambda x_sigma, F, sigma, sigma_data=0.5: K.layers.Denoiser(  # its network: F_θ
                recorded(lambda x_in, sigma: F), sigma_data)(x_sigma, sigma),
            "sampler.euler": euler,
            "family.vp_schedule": lambda t, schedule: 1 / (1 + K.external.VDenoiser(None).t_to_sigma(t) ** 2),
        },
        supports={"family.vp_schedule": {"schedule": ("trig",)}},
        layouts={"family.edm_denoise": {"sigma": "B"}},
        precision={"schedule.karras": "float32"},
    )
