"""denoising-diffusion-pytorch 2.3.4 (lucidrains) bound to the spec: ``GaussianDiffusion`` (its β schedules, ᾱ, the
forward process ``q_sample``, the posterior step, the training loss ``p_losses``) and the continuous-time log-SNR
schedules of ``ContinuousTimeGaussianDiffusion``.

``GaussianDiffusion`` picks its schedule by name in ``__init__``; the clauses pass β, so the binding builds it with
``beta_schedule="linear"`` while its ``linear_beta_schedule`` returns the clause's β (the constructor reads the
module's function when called), and with a network that returns the clause's prediction.

Conventions, declared: timesteps are zero-based (``extract`` gathers index k = t − 1; the data, k = −1, is no index
of it: ``ddpm.forward`` is supported on k ≥ 0); the reverse variance is the posterior's β̃ (``q_posterior``); every
buffer is float32 (``register_buffer`` casts), so the schedule clauses declare ``precision="float32"``; its loss is
``F.mse_loss`` per sample then the batch mean (``reduction: mse_all_elements``; ``pred_noise``'s loss weight is
snr/snr = 1). ``linear_beta_schedule(T)`` hard-codes β_1 = 1e-4·1000/T and β_T = 0.02·1000/T, ``cosine_beta_schedule``
s = 0.008 and the cap 0.999: their support. ``p_sample`` always clamps x̂₀ to [−1, 1] (a variant the spec does not
name), so ``ddpm.ancestral_step`` is bound to its ``p_mean_variance(clip_denoised=False)`` and ``p_sample``'s own
last line, mean + exp(½ log σ²) ξ. Not bound: ``ddim_sample`` (a whole loop that draws its noise and clamps x̂₀ at
every step), the default ``sigmoid_beta_schedule`` and the learned schedules (no clause).
"""
from __future__ import annotations

import math

from genspec.conformance import Target, interval

from . import require


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

    def diffusion(betas, out=None):   # GaussianDiffusion over the clause's β
        schedule, G.linear_beta_schedule = G.linear_beta_schedule, lambda T: betas.double()
        try:
            return G.GaussianDiffusion(Net(out), image_size=1, timesteps=len(betas), beta_schedule="linear",
                                       objective="pred_noise", auto_normalize=False)
        finally:
            G.linear_beta_schedule = schedule

    def ancestral_step(x_t, eps_pred, t, betas, noise):
        mean, _, log_var, _ = diffusion(betas, eps_pred).p_mean_variance(x_t, t, clip_denoised=False)
        return mean + (0.5 * log_var).exp() * noise   # p_sample: model_mean + (0.5 * model_log_variance).exp() * noise

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
            "ddpm.ancestral_step": ancestral_step,
            "ddpm.loss": loss,
            "family.vp_schedule": lambda t, schedule: torch.sigmoid(log_snr[schedule](t)),   # ᾱ = sigmoid(log SNR)
        },
        conventions={c: {"indexing": "zero_based"} for c in ("ddpm.forward", "ddpm.ancestral_step")}
        | {"ddpm.loss": {"reduction": "mse_all_elements"}},
        variants={"ddpm.beta_schedule": {"beta_schedule": ("linear", "squaredcos_cap_v2")}},
        supports={"ddpm.beta_schedule": {"beta_1": (1e-4,), "beta_T": (0.02,), "max_beta": (0.999,)},
                  "ddpm.forward": {"t": interval(0, math.inf)},
                  "family.vp_schedule": {"schedule": ("linear", "cosine")}},
        layouts={c: {"t": "B"} for c in ("ddpm.forward", "ddpm.ancestral_step")},
        precision=dict.fromkeys(("ddpm.alpha_bar", "ddpm.forward", "ddpm.ancestral_step"), "float32"),
    )
