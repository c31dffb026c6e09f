"""denoising-diffusion-pytorch 2.3.4 (lucidrains) bound to the spec: ``GaussianDiffusion`` (its β schedules, ᾱ, the
forward process ``q_sample``, the sampling step ``p_sample``, the DDIM step of ``ddim_sample``, the training loss
``p_losses``) and the continuous-time log-SNR schedules of ``ContinuousTimeGaussianDiffusion``.

``GaussianDiffusion`` picks its schedule by name in ``__init__``; the clauses pass β, so the binding builds it with
``beta_schedule="linear"`` while its ``linear_beta_schedule`` returns the clause's β (the constructor reads the
module's function when called), and with a network that returns the clause's prediction.

Conventions, declared: timesteps are zero-based (``extract`` gathers index k = t − 1; the data, k = −1, is no index
of it: ``ddpm.forward`` is supported on k ≥ 0); the reverse variance is the posterior's β̃ (``q_posterior``); every
buffer is float32 (``register_buffer`` casts), so the schedule clauses declare ``precision="float32"``; its loss is
``F.mse_loss`` per sample then the batch mean (``reduction: mse_all_elements``; ``pred_noise``'s loss weight is
snr/snr = 1). ``linear_beta_schedule(T)`` hard-codes β_1 = 1e-4·1000/T and β_T = 0.02·1000/T, ``cosine_beta_schedule``
s = 0.008 and the cap 0.999: their support. Both samplers clamp x̂₀ to [−1, 1]: ``p_sample`` (the posterior mean of
the clamped x̂₀: ``clip_sample: clip``, one integer t per call, its ``torch.randn_like`` given the clause's ξ) and
``ddim_sample``, which also re-derives ε̂ from the clamped x̂₀ (``clip_sample: clip_rederive``). ``ddim_sample`` is a
whole loop that draws x_T and its noise; its step is bound as the library's ``model_predictions(clip_x_start=True,
rederive_pred_noise=True)`` (what the loop calls, for each ``objective``) followed by the loop body's three lines,
copied as written. The continuous schedules are its log-SNR forms (``linear_form: beta_linear_log_snr``,
``cosine_form: alpha_cosine_log_snr``). Not bound: the default ``sigmoid_beta_schedule`` and the learned schedules
(no clause).
"""
from __future__ import annotations

import math

from genspec.conformance import Target, interval

from . import require

STEPS = ("ddpm.ancestral_step", "ddpm.ddim_step", "ddpm.ddim_eta_step")


def target() -> Target:
    require("denoising_diffusion_pytorch")
    import torch
    from denoising_diffusion_pytorch import continuous_time_gaussian_diffusion as C
    from denoising_diffusion_pytorch import denoising_diffusion_pytorch as G

    class Net(torch.nn.Module):   # the network: returns the clause's prediction
        channels, out_dim, self_condition = 1, 1, False

        def __init__(self, out=None):
            super().__init__()
            self.out = out

        def forward(self, x, t, x_self_cond=None):
            return self.out

    def diffusion(betas, out=None, objective="pred_noise", **kw):   # GaussianDiffusion over the clause's β
        schedule, G.linear_beta_schedule = G.linear_beta_schedule, lambda T: betas.double()
        try:
            return G.GaussianDiffusion(Net(out), image_size=1, timesteps=len(betas), beta_schedule="linear",
                                       objective=objective, auto_normalize=False, **kw)
        finally:
            G.linear_beta_schedule = schedule

    objective = {"epsilon": "pred_noise", "v_prediction": "pred_v", "sample": "pred_x0"}

    def ddim_step(x_t, model_output, t, t_prev, betas, eta=0.0, noise=None, prediction_type="epsilon"):
        self = diffusion(betas, model_output, objective[prediction_type], ddim_sampling_eta=eta)
        time, time_next = t, t_prev        # ddim_sample's loop body, one (time, time_next) pair:
        pred_noise, x_start, *_ = self.model_predictions(x_t, torch.full((len(x_t),), time), None, clip_x_start=True,
                                                         rederive_pred_noise=True)
        if time_next < 0:
            return x_start
        alpha = self.alphas_cumprod[time]
        alpha_next = self.alphas_cumprod[time_next]
        sigma = eta * ((1 - alpha / alpha_next) * (1 - alpha_next) / (1 - alpha)).sqrt()
        c = (1 - alpha_next - sigma ** 2).sqrt()
        return x_start * alpha_next.sqrt() + c * pred_noise + sigma * (0.0 if noise is None else noise)

    def loss(eps_pred, eps):
        d = diffusion(G.linear_beta_schedule(10), eps_pred.reshape(len(eps), 1, 1, -1))
        return d.p_losses(torch.zeros_like(eps).reshape(len(eps), 1, 1, -1), torch.zeros(len(eps), dtype=torch.long),
                          noise=eps.reshape(len(eps), 1, 1, -1))

    log_snr = {"linear": C.beta_linear_log_snr, "cosine": C.alpha_cosine_log_snr}
    return Target(
        name="denoising_diffusion_pytorch", backend="torch",
        bindings={
            "ddpm.beta_schedule": lambda T, beta_schedule, **fixed: {   # β_1, β_T, max_beta: hard-coded (supports)
                "linear": G.linear_beta_schedule, "squaredcos_cap_v2": G.cosine_beta_schedule}[beta_schedule](T),
            "ddpm.alpha_bar": lambda betas: diffusion(betas).alphas_cumprod,
            "ddpm.forward": lambda x0, eps, t, betas: diffusion(betas).q_sample(x0, t, eps),
            "ddpm.ancestral_step": lambda x_t, eps_pred, t, betas: diffusion(betas, eps_pred).p_sample(x_t, t)[0],
            "ddpm.ddim_step": lambda x_t, eps_pred, t, t_prev, betas: ddim_step(x_t, eps_pred, t, t_prev, betas),
            "ddpm.ddim_eta_step": ddim_step,
            "ddpm.loss": loss,
            "family.vp_schedule": lambda t, schedule: torch.sigmoid(log_snr[schedule](t)),   # ᾱ = sigmoid(log SNR)
        },
        conventions={c: {"indexing": "zero_based"} for c in ("ddpm.forward", *STEPS)}
        | {"ddpm.loss": {"reduction": "mse_all_elements"}, "ddpm.ancestral_step": {"indexing": "zero_based",
                                                                                  "clip_sample": "clip"}}
        | {c: {"indexing": "zero_based", "clip_sample": "clip_rederive"} for c in STEPS[1:]}
        | {"family.vp_schedule": {"linear_form": "beta_linear_log_snr", "cosine_form": "alpha_cosine_log_snr"}},
        variants={"ddpm.beta_schedule": {"beta_schedule": ("linear", "squaredcos_cap_v2")},
                  "ddpm.ddim_eta_step": {"prediction_type": ("epsilon", "v_prediction", "sample")}},
        supports={"ddpm.beta_schedule": {"beta_1": (1e-4,), "beta_T": (0.02,), "max_beta": (0.999,)},
                  "ddpm.forward": {"t": interval(0, math.inf)},
                  "family.vp_schedule": {"schedule": ("linear", "cosine")}},
        layouts={"ddpm.forward": {"t": "B"}, STEPS: {"t": "one", "t_prev": "one"}},
        noise={"ddpm.ancestral_step": "torch.randn_like"},      # p_sample's draw (none at k = 0)
        precision=dict.fromkeys(("ddpm.alpha_bar", "ddpm.forward", *STEPS), "float32"),
    )
