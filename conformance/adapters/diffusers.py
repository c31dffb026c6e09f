"""diffusers 0.42.1 bound to the spec: the DDPM/DDIM schedulers, the flow-matching Euler scheduler (shifts), the EDM
scheduler (Karras σ, preconditioning), the classifier-free guider, AdaGroupNorm and the timestep embedding.

Conventions, declared: timesteps are zero-based (index k = t − 1 into ``alphas_cumprod``); DDPM's reverse variance
is ``fixed_small`` = β̃; the flow-matching scheduler's σ is the spec's t (noise at σ = 1), its default grid the
``linspace_1000`` variant of sampler.euler; ``ClassifierFreeGuidance`` is the scale form x_∅ + s (x_y − x_∅) and
its ``guidance_rescale`` the φ of cfg.rescale; ``AdaGroupNorm`` with one group per channel is AdaIN with ε = 1e-5
inside the square root. Clipping (``clip_sample``) is switched off: it is not part of the clauses. diffusers holds
every schedule in float32 (and the Euler step upcasts the sample to float32), so those clauses declare
``precision="float32"``: a float64 run compares them at the spec's float32 tolerance.
"""
from __future__ import annotations

from conformance import Target

from . import require, times
from .stateful import injected_noise, per_sample

SCHEDULES = ("ddpm.*", "rf.interpolation", "family.interpolate", "sampler.euler", "schedule.shift",
             "schedule.karras", "dit.timestep_embedding")


VARIANTS = {"beta_schedule": ("linear", "scaled_linear", "squaredcos_cap_v2"),
            "prediction_type": ("epsilon", "v_prediction", "sample")}
"""the convention variants diffusers implements besides the default (genspec matrix runs each): ``target(**v)``."""


def target(beta_schedule: str = "linear", prediction_type: str = "epsilon") -> Target:
    require("diffusers")
    import torch
    from diffusers import DDIMScheduler, DDPMScheduler, EDMEulerScheduler, FlowMatchEulerDiscreteScheduler
    from diffusers.guiders import ClassifierFreeGuidance
    from diffusers.models.embeddings import get_timestep_embedding
    from diffusers.models.normalization import AdaGroupNorm
    from diffusers.schedulers import scheduling_ddpm
    from diffusers.schedulers.scheduling_ddpm import betas_for_alpha_bar
    from diffusers.utils import logging

    def beta_schedule_(T=1000, beta_1=1e-4, beta_T=0.02, max_beta=0.999):   # the clause's (and diffusers') defaults
        if beta_schedule == "squaredcos_cap_v2":   # what DDPMScheduler calls for it, with the cap it leaves at 0.999
            return betas_for_alpha_bar(T, max_beta)
        return DDPMScheduler(T, beta_1, beta_T, beta_schedule).betas

    def ddpm(betas, cls=DDPMScheduler, **kw):
        return cls(num_train_timesteps=len(betas), trained_betas=betas.tolist(), clip_sample=False, **kw)

    def ancestral_step(x_t, eps_pred, t, betas, noise):
        s = ddpm(betas, variance_type="fixed_small")

        def one(k, e, x, xi):
            with injected_noise(scheduling_ddpm, xi):
                return s.step(e, k, x).prev_sample
        return per_sample(one, (t,), eps_pred, x_t, noise)

    def ddim_step(x_t, eps_pred, t, t_prev, betas):
        s = ddpm(betas, DDIMScheduler, set_alpha_to_one=True)   # abar at k = -1 (the data) is 1
        s.num_inference_steps = 1   # prev = k − num_train_timesteps // num_inference_steps: set the stride per call

        def one(k, k_prev, e, x):
            s.register_to_config(num_train_timesteps=k - k_prev)
            return s.step(e, k, x, eta=0.0).prev_sample
        return per_sample(one, (t, t_prev), eps_pred, x_t)

    def ddim_eta_step(x_t, model_output, t, t_prev, betas, eta, noise=None):
        s = ddpm(betas, DDIMScheduler, set_alpha_to_one=True, prediction_type=prediction_type)
        s.num_inference_steps = 1

        def one(k, k_prev, m, x, xi):
            s.register_to_config(num_train_timesteps=k - k_prev)
            return s.step(m, k, x, eta=float(eta), variance_noise=xi).prev_sample
        return per_sample(one, (t, t_prev), model_output, x_t, torch.zeros_like(x_t) if noise is None else noise)

    def flow_matching_scheduler(**config):  # untyped: mypy misreads the config-decorated class
        return FlowMatchEulerDiscreteScheduler(**config)

    def flow(sigmas, shift=1.0):    # the flow-matching scheduler with these σ (the spec's t), one step per σ
        s = FlowMatchEulerDiscreteScheduler(shift=shift)
        s.set_timesteps(sigmas=[float(v) for v in sigmas])
        return s

    def scale_noise(x, z, t):
        s = flow(times(t, x))
        return s.scale_noise(x, s.timesteps, z)

    def euler(f, x1, T):            # the library's default grid: σ = linspace(1, 1/1000, T), then 0
        s, x = FlowMatchEulerDiscreteScheduler(), x1
        s.set_timesteps(num_inference_steps=T)
        for i, ts in enumerate(s.timesteps):
            x = s.step(f(x, times(s.sigmas[i], x)), ts, x).prev_sample
        return x

    shifter = flow_matching_scheduler(time_shift_type="exponential")   # Flux's: t' = e^μ / (e^μ + (1/t − 1)^σ)

    def karras(n, sigma_min, sigma_max, rho):
        s = EDMEulerScheduler(sigma_min=sigma_min, sigma_max=sigma_max, rho=rho, sigma_schedule="karras")
        s.set_timesteps(n)
        return s.sigmas                      # N noise levels, then final_sigmas_type "zero"

    def edm_precond(sigma, sigma_data=0.5):  # the scalings, read off the scheduler's pre/post-conditioning
        s, one, zero = EDMEulerScheduler(sigma_data=sigma_data), torch.ones_like(sigma), torch.zeros_like(sigma)
        return (s.precondition_outputs(one, zero, sigma), s.precondition_outputs(zero, one, sigma),
                s.precondition_inputs(one, sigma), s.precondition_noise(sigma))

    def edm_denoise(x_sigma, F, sigma, sigma_data=0.5):
        col = times(sigma, x_sigma).reshape(-1, *[1] * (x_sigma.ndim - 1))
        return EDMEulerScheduler(sigma_data=sigma_data).precondition_outputs(x_sigma, F, col)

    level = logging.get_verbosity()
    logging.set_verbosity_error()          # constructing a guider logs an "experimental feature" notice
    guider = ClassifierFreeGuidance()
    logging.set_verbosity(level)

    def cfg(v_y, v_null, w, phi=0.0):  # guidance_rescale = φ: rescale_noise_cfg (Lin et al.), off at 0
        guider.guidance_scale, guider.guidance_rescale = w, phi
        return guider.forward(v_y, v_null).pred

    def adain(x, w, b):
        n, c = w.shape
        norm = AdaGroupNorm(2 * c, c, num_groups=c, eps=1e-5).to(x.dtype)
        with torch.no_grad():
            norm.linear.weight.copy_(torch.eye(2 * c)), norm.linear.bias.zero_()
            return norm(x.reshape(n, c, -1, 1), torch.cat([w - 1, b], dim=1)).reshape(x.shape)  # x (1 + scale) + shift

    return Target(
        name="diffusers", backend="torch",
        bindings={
            "ddpm.beta_schedule": beta_schedule_,
            "ddpm.alpha_bar": lambda betas: ddpm(betas).alphas_cumprod,
            "ddpm.forward": lambda x0, eps, t, betas: ddpm(betas).add_noise(x0, eps, torch.as_tensor(t).reshape(-1)),
            "ddpm.ancestral_step": ancestral_step,
            "ddpm.ddim_step": ddim_step,
            "ddpm.ddim_eta_step": ddim_eta_step,
            "rf.interpolation": scale_noise,
            "family.interpolate": lambda x, z, t, path, schedule: scale_noise(x, z, t),
            "schedule.shift": lambda t, s: flow(t.reshape(-1), shift=s).sigmas[:-1].reshape(t.shape),
            "schedule.shift_exponential": lambda t, mu, sigma=1.0: shifter.time_shift(mu, sigma, t),
            "schedule.karras": karras,
            "family.edm_precond": edm_precond,
            "family.edm_denoise": edm_denoise,
            "sampler.euler": euler,
            "cfg.combine": cfg,
            "cfg.rescale": cfg,
            "gan.adain": adain,
            "dit.timestep_embedding": lambda t, dim, max_period: get_timestep_embedding(
                t, dim, flip_sin_to_cos=True, downscale_freq_shift=0, max_period=max_period),
        },
        conventions=dict.fromkeys(("ddpm.forward", "ddpm.ancestral_step", "ddpm.ddim_step"), {"indexing": "zero_based"})
        | {"ddpm.ddim_eta_step": {"indexing": "zero_based", "prediction_type": prediction_type},
           "ddpm.beta_schedule": {"beta_schedule": beta_schedule}}
        | dict.fromkeys(("cfg.combine", "cfg.rescale"), {"form": "scale"}) | {"gan.adain": {"eps": "inside_sqrt_1e-5"}}
        | {"sampler.euler": {"grid": "linspace_1000"}},
        supports={"family.interpolate": {"path": ("rf",)}},
        precision=dict.fromkeys(SCHEDULES, "float32"),
    )
