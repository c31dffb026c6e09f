"""diffusers 0.42.1 bound to the spec: the DDPM/DDIM schedulers, the flow-matching Euler scheduler (shifts), the EDM
scheduler (Karras σ, preconditioning), the classifier-free guider, AdaGroupNorm and the timestep embedding.

Conventions, declared: timesteps are zero-based (index k = t − 1 into ``alphas_cumprod``); DDPM's reverse variance
is ``fixed_small`` = β̃; the flow-matching scheduler's σ is the spec's t (noise at σ = 1), its default grid the
``linspace_1000`` variant of sampler.euler; ``ClassifierFreeGuidance`` is the scale form x_∅ + s (x_y − x_∅) and
its ``guidance_rescale`` the φ of cfg.rescale; ``AdaGroupNorm`` with one group per channel is AdaIN with ε = 1e-5
inside the square root. Clipping (``clip_sample``) is switched off: it is not part of the clauses. diffusers holds
every schedule in float32 (and the Euler step upcasts the sample to float32), so those clauses declare
``precision="float32"``: a float64 run compares them at the spec's float32 tolerance. It implements three beta
schedules and three DDIM prediction types, each checked (``variants``).

The schedulers are stateful: configured in ``__init__``, ONE integer timestep per ``step`` call (``layouts``:
``"one"``, the harness calls once per sample), noise drawn inside ``step`` (``noise=``: the harness hands its
``randn_tensor`` the spec's ξ).
"""
from __future__ import annotations

from genspec.conformance import Target, const

from . import require

SCHEDULES = ("ddpm.*", "rf.interpolation", "family.interpolate", "sampler.euler", "schedule.shift",
             "schedule.karras", "dit.timestep_embedding")
STEPS = ("ddpm.ancestral_step", "ddpm.ddim_step", "ddpm.ddim_eta_step")
STEP_LAYOUT = {"t": "one", "t_prev": "one"} | dict.fromkeys(("x_t", "eps_pred", "model_output", "noise"), "rows")
"""a scheduler takes ONE integer t per step() and reads shape[1] as the channels: one call per sample, on (1, D) rows"""
EMBEDDING = {"t": "timesteps", "dim": "embedding_dim", "flip_sin_to_cos": const(True), "downscale_freq_shift": const(0)}


def target() -> Target:
    d = require("diffusers")                # its schedulers, guider, embedding and norm, by their public names
    import torch
    def beta_schedule(beta_schedule, T=1000, beta_1=1e-4, beta_T=0.02, max_beta=0.999):   # the clause's defaults
        if beta_schedule == "squaredcos_cap_v2":   # what DDPMScheduler calls for it, with the cap it leaves at 0.999
            return d.schedulers.scheduling_ddpm.betas_for_alpha_bar(T, max_beta)
        return d.DDPMScheduler(T, beta_1, beta_T, beta_schedule).betas

    def ddpm(betas, cls=d.DDPMScheduler, **kw):
        return cls(num_train_timesteps=len(betas), trained_betas=betas.tolist(), clip_sample=False, **kw)

    def ddim(betas, t, t_prev, **kw):   # prev = t − num_train_timesteps // num_inference_steps: the stride per call
        s = ddpm(betas, d.DDIMScheduler, set_alpha_to_one=True, **kw)    # abar at k = -1 (the data) is 1
        s.num_inference_steps = 1
        s.register_to_config(num_train_timesteps=t - t_prev)
        return s

    def flow(sigmas, shift=1.0):    # the flow-matching scheduler with these σ (the spec's t), one step per σ
        s = d.FlowMatchEulerDiscreteScheduler(shift=shift)
        s.set_timesteps(sigmas=[float(v) for v in sigmas])
        return s

    def scale_noise(x, z, t):
        return (s := flow(t)).scale_noise(x, s.timesteps, z)

    def euler(f, x1, T):            # the library's default grid: σ = linspace(1, 1/1000, T), then 0
        s, x = d.FlowMatchEulerDiscreteScheduler(), x1
        s.set_timesteps(num_inference_steps=T)
        for i, ts in enumerate(s.timesteps):
            x = s.step(f(x, s.sigmas[i].expand(len(x)).to(x.dtype)), ts, x).prev_sample
        return x

    def karras(n, sigma_min, sigma_max, rho):
        s = d.EDMEulerScheduler(sigma_min=sigma_min, sigma_max=sigma_max, rho=rho, sigma_schedule="karras")
        s.set_timesteps(n)
        return s.sigmas                      # N noise levels, then final_sigmas_type "zero"

    def edm_precond(sigma, sigma_data=0.5):  # the scalings, read off the scheduler's pre/post-conditioning
        s, one, zero = d.EDMEulerScheduler(sigma_data=sigma_data), torch.ones_like(sigma), torch.zeros_like(sigma)
        return (s.precondition_outputs(one, zero, sigma), s.precondition_outputs(zero, one, sigma),
                s.precondition_inputs(one, sigma), s.precondition_noise(sigma))

    level = d.utils.logging.get_verbosity()
    d.utils.logging.set_verbosity_error()          # constructing a guider logs an "experimental feature" notice
    guider = d.ClassifierFreeGuidance()
    apg = d.AdaptiveProjectedGuidance(adaptive_projected_guidance_rescale=0.0)   # no norm threshold, no momentum
    d.utils.logging.set_verbosity(level)

    def projected(v_y, v_null, w, eta):   # cfg.apg: pred_uncond + guidance_scale * (Δ⊥ + η Δ∥)
        apg.guidance_scale, apg.eta = w, eta
        return apg.forward(v_y, v_null).pred

    def cfg(v_y, v_null, w, phi=0.0):  # guidance_rescale = φ: rescale_noise_cfg (Lin et al.), off at 0
        guider.guidance_scale, guider.guidance_rescale = w, phi
        return guider.forward(v_y, v_null).pred

    def adain(x, w, b):
        n, c = w.shape
        norm = d.models.normalization.AdaGroupNorm(2 * c, c, num_groups=c, eps=1e-5).to(x.dtype)
        with torch.no_grad():
            norm.linear.weight.copy_(torch.eye(2 * c)), norm.linear.bias.zero_()
            return norm(x.reshape(n, c, -1, 1), torch.cat([w - 1, b], dim=1)).reshape(x.shape)  # x (1 + scale) + shift

    return Target(
        name="diffusers", backend="torch",
        bindings={
            "ddpm.beta_schedule": beta_schedule, "ddpm.alpha_bar": lambda betas: ddpm(betas).alphas_cumprod,
            "ddpm.forward": lambda x0, eps, t, betas: ddpm(betas).add_noise(x0, eps, t),
            "ddpm.ancestral_step": lambda x_t, eps_pred, t, betas: ddpm(betas, variance_type="fixed_small").step(
                eps_pred, t, x_t),
            "ddpm.ddim_step": lambda x_t, eps_pred, t, t_prev, betas: ddim(betas, t, t_prev).step(
                eps_pred, t, x_t, eta=0.0),
            "ddpm.ddim_eta_step": lambda x_t, model_output, t, t_prev, betas, eta, prediction_type, noise=None: ddim(
                betas, t, t_prev, prediction_type=prediction_type).step(
                model_output, t, x_t, eta=float(eta), variance_noise=torch.zeros_like(x_t) if noise is None else noise),
            "rf.interpolation": scale_noise, "family.interpolate": lambda x, z, t, path, schedule: scale_noise(x, z, t),
            "schedule.shift": lambda t, s: flow(t.reshape(-1), shift=s).sigmas[:-1].reshape(t.shape),
            "schedule.shift_exponential": lambda t, mu, sigma=1.0: d.FlowMatchEulerDiscreteScheduler(
                time_shift_type="exponential").time_shift(mu, sigma, t),   # Flux's: t' = e^μ / (e^μ + (1/t − 1)^σ)
            "schedule.karras": karras, "family.edm_precond": edm_precond,
            "family.edm_denoise": lambda x_sigma, F, sigma, sigma_data=0.5: d.EDMEulerScheduler(
                sigma_data=sigma_data).precondition_outputs(x_sigma, F, sigma),
            "sampler.euler": euler, "cfg.combine": cfg, "cfg.rescale": cfg, "gan.adain": adain,
            "cfg.apg": projected,
            "dit.timestep_embedding": d.models.embeddings.get_timestep_embedding,
        },
        arguments={STEPS: {"return": "prev_sample"}, "dit.timestep_embedding": EMBEDDING},
        layouts={STEPS: STEP_LAYOUT, ("ddpm.forward", "rf.interpolation", "family.interpolate"): {"t": "B"},
                 "family.edm_denoise": {"sigma": "B ..."}},
        noise={"ddpm.ancestral_step": "diffusers.schedulers.scheduling_ddpm.randn_tensor"},
        conventions=dict.fromkeys(STEPS, {"indexing": "zero_based"}) | {"gan.adain": {"eps": "inside_sqrt_1e-5"}}
        | dict.fromkeys(("cfg.combine", "cfg.rescale"), {"form": "scale"})
        | {"sampler.euler": {"grid": "linspace_1000"}} | {"cfg.apg": {"form": "scale_unconditional_anchor"}},
        variants={"ddpm.beta_schedule": {"beta_schedule": ("linear", "scaled_linear", "squaredcos_cap_v2")},
                  "ddpm.ddim_eta_step": {"prediction_type": ("epsilon", "v_prediction", "sample")}},
        supports={"family.interpolate": {"path": ("rf",)}},
        precision=dict.fromkeys(SCHEDULES, "float32"),
    )
