"""DDPM and DDIM in PyTorch (spec/ddpm.py): the functions, names, arguments and conventions of reference/ddpm.py.

The schedule (ᾱ, a product of up to T factors, and every per-step coefficient) is computed in float64 on the input's
device (float32 on MPS, which has no float64); the elementwise update runs in the input's dtype (float32 for
bfloat16/float16, rounded once).
"""
from __future__ import annotations

import math

import torch

from genspec.spec import validate as V
from genspec.spec.bind import implements
from genspec.spec.ddpm import COSINE_S
from genspec.spec.errors import SpecInputError

from ._tensors import exact_dtype, per_row, upcast


def steps(clause, name, t, lo, hi, indexing, T, device):
    """One-based int64 steps from t (an int or an integer tensor) in the declared indexing, each in [lo, hi]."""
    shift = 1 if indexing == "zero_based" else 0
    t = torch.as_tensor(t, dtype=torch.int64, device=device) + shift
    if t.numel() and bool(((t < lo) | (t > hi)).any()):
        raise SpecInputError(clause, name, f"steps in [{lo - shift}, {hi - shift}] ({indexing}, T = {T})",
                             f"values in [{int(t.min()) - shift}, {int(t.max()) - shift}]")
    return t


def schedule(betas, clause=None):
    """([ᾱ_0 = 1, ..., ᾱ_T], [1 − ᾱ_0, ..., 1 − ᾱ_T], [log ᾱ_0, ..., log ᾱ_T], [β_1..β_T]) in float64 (float32 on
    MPS). With a clause: an empty schedule is its SpecInputError."""
    if clause is not None and betas.numel() == 0:
        raise SpecInputError(clause, "betas", "a non-empty schedule β_1..β_T", "shape (0,)")
    b = betas.to(exact_dtype(betas.device))
    log_ab = torch.cat([torch.zeros(1, dtype=b.dtype, device=b.device), torch.cumsum(torch.log1p(-b), 0)])
    return torch.exp(log_ab), -torch.expm1(log_ab), log_ab, b


@implements("ddpm.beta_schedule")
def beta_schedule(T=1000, beta_1=1e-4, beta_T=0.02, max_beta=0.999, beta_schedule="linear"):
    """β_t, t = 1..T, in float64: linear (Ho et al.), scaled_linear (√β equally spaced), squaredcos_cap_v2
    (min(1 − f(t/T)/f((t − 1)/T), β_max), as sin(b − a) sin(b + a)/cos²a)."""
    u = torch.arange(T, dtype=torch.float64) / max(T - 1, 1)
    if beta_schedule == "linear":
        return beta_1 + u * (beta_T - beta_1)
    if beta_schedule == "scaled_linear":
        return (math.sqrt(beta_1) + u * (math.sqrt(beta_T) - math.sqrt(beta_1))) ** 2
    a, b = (((torch.arange(T, dtype=torch.float64) + k) / T + COSINE_S) / (1 + COSINE_S) * (math.pi / 2)
            for k in (0, 1))
    return torch.clamp(torch.sin(b - a) * torch.sin(b + a) / torch.cos(a) ** 2, max=max_beta)



@implements("ddpm.alpha_bar")
def alpha_bars(betas):
    """ᾱ_t = Π_{s≤t}(1 − β_s), t = 1..T, accumulated in float64 and returned in betas' dtype."""
    return schedule(betas, "ddpm.alpha_bar")[0][1:].to(betas.dtype)


@implements("ddpm.forward")
def forward(x0, eps, t, betas, indexing="one_based"):
    """x_t = √ᾱ_t x0 + √(1 − ᾱ_t) ε; t = 0 is x0."""
    ab, om, _, _ = schedule(betas, "ddpm.forward")
    t = steps("ddpm.forward", "t", t, 0, betas.shape[0], indexing, betas.shape[0], ab.device)
    (x0, eps), dt = upcast(x0, eps)
    return (per_row(ab[t].sqrt(), x0) * x0 + per_row(om[t].sqrt(), x0) * eps).to(dt)


@implements("ddpm.loss")
def loss(eps_pred, eps, reduction="batch_mean_sq_norm"):
    """L = mean over the batch of ‖ε − ε_θ‖²; 'mse_all_elements' (F.mse_loss) divides by D."""
    V.nonempty("ddpm.loss", "eps", eps)
    (eps_pred, eps), dt = upcast(eps_pred, eps)
    L = (eps - eps_pred).square().reshape(eps.shape[0], -1).sum(dim=1).mean()
    return (L / eps[0].numel() if reduction == "mse_all_elements" else L).to(dt)


@implements("ddpm.ancestral_step")
def ancestral_step(x_t, eps_pred, t, betas, noise, sigma="beta_tilde", indexing="one_based", clip_sample="none"):
    """x_{t−1} = (x_t − β_t/√(1 − ᾱ_t) ε_θ)/√α_t + σ_t ξ, σ_t² = β̃_t ('beta_tilde') or β_t ('beta'), no noise at
    t = 1 (Ho et al. Algorithm 2); clip_sample 'clip': the posterior mean μ̃_t(x_t, clip(x̂_0, −1, 1))."""
    ab, om, _, b = schedule(betas, "ddpm.ancestral_step")
    t = steps("ddpm.ancestral_step", "t", t, 1, b.shape[0], indexing, b.shape[0], b.device)
    beta = b[t - 1]
    var = torch.where(t == 1, torch.zeros_like(beta), om[t - 1] / om[t] * beta if sigma == "beta_tilde" else beta)
    (x_t, eps_pred, noise), dt = upcast(x_t, eps_pred, noise)
    if clip_sample == "clip":
        x0_hat = ((x_t - per_row(om[t].sqrt(), x_t) * eps_pred) / per_row(ab[t].sqrt(), x_t)).clamp(-1.0, 1.0)
        mean = (per_row(ab[t - 1].sqrt() * beta / om[t], x_t) * x0_hat
                + per_row((1.0 - beta).sqrt() * om[t - 1] / om[t], x_t) * x_t)
    else:
        mean = (x_t - per_row(beta / om[t].sqrt(), x_t) * eps_pred) * per_row(torch.rsqrt(1.0 - beta), x_t)
    return (mean + per_row(var.sqrt(), x_t) * noise).to(dt)


def _jump(clause, t, t_prev, indexing, betas):
    """(t, t') one-based with 1 ≤ t ≤ T, 0 ≤ t' < t, and the schedule (ᾱ, 1 − ᾱ, log ᾱ, β), named for the clause."""
    table, T = schedule(betas, clause), betas.shape[0]
    t = steps(clause, "t", t, 1, T, indexing, T, betas.device)
    t_prev = steps(clause, "t_prev", t_prev, 0, T - 1, indexing, T, betas.device)
    if bool((t_prev >= t).any()):
        raise SpecInputError(clause, "t_prev", "an earlier step than t (t' < t)", "t' ≥ t")
    return t, t_prev, table


@implements("ddpm.ddim_eta_step")
def ddim_eta_step(x_t, model_output, t, t_prev, betas, eta, noise=None, prediction_type="epsilon",
                  indexing="one_based", clip_sample="none"):
    """x_{t'} = √ᾱ_{t'} x̂_0 + √(1 − ᾱ_{t'} − σ_t²) ε̂ + σ_t ξ, σ_t = η √((1 − ᾱ_{t'})/(1 − ᾱ_t)) √(1 − ᾱ_t/ᾱ_{t'}),
    (x̂_0, ε̂) from the model output in its prediction_type (epsilon, v_prediction, sample); clip_sample 'clip'
    clamps x̂_0 to [−1, 1], 'clip_rederive' then sets ε̂ = (x_t − a x̂_0)/b."""
    return _ddim("ddpm.ddim_eta_step", x_t, model_output, t, t_prev, betas, eta, noise, prediction_type, indexing,
                 clip_sample)


def _ddim(clause, x_t, model_output, t, t_prev, betas, eta, noise, prediction_type, indexing, clip_sample):
    if eta > 0 and noise is None:
        raise SpecInputError(clause, "noise", "ξ of x_t's shape when η > 0", "None")
    t, t_prev, (ab, om, log_ab, _) = _jump(clause, t, t_prev, indexing, betas)
    jump = -torch.expm1(log_ab[t] - log_ab[t_prev])                  # 1 − ᾱ_t/ᾱ_{t'}
    var = eta**2 * om[t_prev] / om[t] * jump                         # σ_t²
    rest = om[t_prev] * (1.0 - eta**2 * jump / om[t])                # 1 − ᾱ_{t'} − σ_t²
    (x_t, m, *xi), dt = upcast(x_t, model_output, *([] if noise is None else [noise]))
    a, s = per_row(ab[t].sqrt(), x_t), per_row(om[t].sqrt(), x_t)
    if prediction_type == "epsilon":
        x0_hat, eps_hat = (x_t - s * m) / a, m
    elif prediction_type == "v_prediction":
        x0_hat, eps_hat = a * x_t - s * m, a * m + s * x_t
    else:
        x0_hat, eps_hat = m, (x_t - a * m) / s
    if clip_sample != "none":
        x0_hat = x0_hat.clamp(-1.0, 1.0)
        if clip_sample == "clip_rederive":
            eps_hat = (x_t - a * x0_hat) / s
    x_prev = per_row(ab[t_prev].sqrt(), x_t) * x0_hat + per_row(rest.sqrt(), x_t) * eps_hat
    return (x_prev + per_row(var.sqrt(), x_t) * xi[0] if xi else x_prev).to(dt)


@implements("ddpm.ddim_step")
def ddim_step(x_t, eps_pred, t, t_prev, betas, indexing="one_based", clip_sample="none"):
    """x_{t'} = √ᾱ_{t'} x̂_0 + √(1 − ᾱ_{t'}) ε_θ, x̂_0 = (x_t − √(1 − ᾱ_t) ε_θ)/√ᾱ_t: ddpm.ddim_eta_step at η = 0 with
    ε-prediction (and its clip_sample)."""
    return _ddim("ddpm.ddim_step", x_t, eps_pred, t, t_prev, betas, 0.0, None, "epsilon", indexing, clip_sample)
