"""Discrete-time DDPM and DDIM, float64 NumPy reference (spec/ddpm.py; Ho et al. 2020, Song et al. 2021, 02, 03).

Default indexing 'one_based': t = 0..T, ᾱ_t = Π_{s=1}^t (1 − β_s), ᾱ_0 = 1. 'zero_based' (02's code, diffusers)
reads k = t − 1. Arguments are checked from the clauses' symbols (spec.bind); only the ranges that depend on T
(the length of betas) and on the indexing are checked here.
"""
from __future__ import annotations

import math

import numpy as np

from genspec.spec import validate as V
from genspec.spec.bind import implements
from genspec.spec.ddpm import COSINE_S
from genspec.spec.errors import SpecInputError


def steps(clause, name, t, lo, hi, indexing, T):
    """One-based int64 steps from t in the declared indexing, each in [lo, hi] (one-based; hi may be T)."""
    shift = 1 if indexing == "zero_based" else 0
    t = np.asarray(t, dtype=np.int64) + shift
    if t.size and (t.min() < lo or t.max() > hi):
        raise SpecInputError(clause, name, f"steps in [{lo - shift}, {hi - shift}] ({indexing}, T = {T})",
                             f"values in [{t.min() - shift}, {t.max() - shift}]")
    return t


def schedule(betas, clause=None):
    """([ᾱ_0 = 1, ᾱ_1, ..., ᾱ_T], [1 − ᾱ_0 = 0, ..., 1 − ᾱ_T], [log ᾱ_0, ..., log ᾱ_T]) via log ᾱ_t = Σ log(1 − β_s):
    no cancellation in 1 − ᾱ. With a clause: an empty schedule is its SpecInputError."""
    if clause is not None and betas.size == 0:
        raise SpecInputError(clause, "betas", "a non-empty schedule β_1..β_T", "shape (0,)")
    log_ab = np.concatenate([[0.0], np.cumsum(np.log1p(-betas))])
    return np.exp(log_ab), -np.expm1(log_ab), log_ab


def _col(v, x):
    """A per-sample coefficient (shape () or (n,)) as a column that broadcasts against x (n, ...)."""
    return v if v.ndim == 0 else v.reshape(v.shape + (1,) * (x.ndim - 1))


# ---- clauses --------------------------------------------------------------------------------------------
@implements("ddpm.beta_schedule")
def beta_schedule(T=1000, beta_1=1e-4, beta_T=0.02, max_beta=0.999, beta_schedule="linear"):
    """β_t, t = 1..T (entry t − 1):

        linear             β_1 + (t − 1)/(T − 1) (β_T − β_1)                       (Ho et al. 2020)
        scaled_linear      (√β_1 + (t − 1)/(T − 1) (√β_T − √β_1))²                (latent diffusion)
        squaredcos_cap_v2  min(1 − f(t/T)/f((t − 1)/T), β_max), f(u) = cos²((u + s)/(1 + s) π/2)   (Nichol & Dhariwal)

    1 − cos²b/cos²a is evaluated as sin(b − a) sin(b + a)/cos²a (no cancellation for small β).
    """
    u = np.arange(T) / max(T - 1, 1)
    if beta_schedule == "linear":
        return beta_1 + u * (beta_T - beta_1)
    if beta_schedule == "scaled_linear":
        return (math.sqrt(beta_1) + u * (math.sqrt(beta_T) - math.sqrt(beta_1))) ** 2
    a, b = (((np.arange(T) + k) / T + COSINE_S) / (1 + COSINE_S) * (np.pi / 2) for k in (0, 1))
    return np.minimum(np.sin(b - a) * np.sin(b + a) / np.cos(a) ** 2, max_beta)



@implements("ddpm.alpha_bar")
def alpha_bars(betas):
    """ᾱ_t = Π_{s=1}^t (1 − β_s) for t = 1..T (entry t − 1; 02's alpha_bars)."""
    return schedule(betas, "ddpm.alpha_bar")[0][1:]


@implements("ddpm.forward")
def forward(x0, eps, t, betas, indexing="one_based"):
    """x_t = √ᾱ_t x0 + √(1 − ᾱ_t) ε  (02: "x_t = ab.sqrt() * x0 + (1 - ab).sqrt() * noise"); t = 0 is x0."""
    ab, om, _ = schedule(betas, "ddpm.forward")
    t = steps("ddpm.forward", "t", t, 0, betas.size, indexing, betas.size)
    return _col(np.sqrt(ab[t]), x0) * x0 + _col(np.sqrt(om[t]), x0) * eps


@implements("ddpm.loss")
def loss(eps_pred, eps, reduction="batch_mean_sq_norm"):
    """L = mean_i ‖ε_i − ε_θ,i‖²  (02: "L = ‖ ε − εθ(x_t, t) ‖²"); 'mse_all_elements' = F.mse_loss = L / D."""
    V.nonempty("ddpm.loss", "eps", eps)
    L = ((eps - eps_pred) ** 2).reshape(eps.shape[0], -1).sum(axis=1).mean()
    return L / eps[0].size if reduction == "mse_all_elements" else L


@implements("ddpm.ancestral_step")
def ancestral_step(x_t, eps_pred, t, betas, noise, sigma="beta_tilde", indexing="one_based", clip_sample="none"):
    """x_{t−1} = (x_t − β_t/√(1 − ᾱ_t) ε_θ)/√α_t + σ_t ξ, no noise at t = 1  (Ho et al. 2020, Algorithm 2);
    σ_t² = β̃_t = (1 − ᾱ_{t−1})/(1 − ᾱ_t) β_t ('beta_tilde', default) or β_t ('beta').

    clip_sample 'clip': the mean is the posterior mean μ̃_t(x_t, clip(x̂_0, −1, 1)) = √ᾱ_{t−1} β_t/(1 − ᾱ_t) x̂_0
    + √α_t (1 − ᾱ_{t−1})/(1 − ᾱ_t) x_t, x̂_0 = (x_t − √(1 − ᾱ_t) ε_θ)/√ᾱ_t (diffusers' clip_sample=True)."""
    ab, om, _ = schedule(betas, "ddpm.ancestral_step")
    t = steps("ddpm.ancestral_step", "t", t, 1, betas.size, indexing, betas.size)
    beta = betas[t - 1]
    var = np.where(t == 1, 0.0, om[t - 1] / om[t] * beta if sigma == "beta_tilde" else beta)
    if clip_sample == "clip":
        x0_hat = np.clip((x_t - _col(np.sqrt(om[t]), x_t) * eps_pred) / _col(np.sqrt(ab[t]), x_t), -1.0, 1.0)
        mean = (_col(np.sqrt(ab[t - 1]) * beta / om[t], x_t) * x0_hat
                + _col(np.sqrt(1.0 - beta) * om[t - 1] / om[t], x_t) * x_t)
    else:
        mean = (x_t - _col(beta / np.sqrt(om[t]), x_t) * eps_pred) / _col(np.sqrt(1.0 - beta), x_t)
    return mean + _col(np.sqrt(var), x_t) * noise


def _jump(clause, t, t_prev, indexing, betas):
    """(t, t') one-based with 1 ≤ t ≤ T, 0 ≤ t' < t, and the schedule (ᾱ, 1 − ᾱ, log ᾱ), named for the clause."""
    table, T = schedule(betas, clause), betas.size
    t = steps(clause, "t", t, 1, T, indexing, T)
    t_prev = steps(clause, "t_prev", t_prev, 0, T - 1, indexing, T)
    if np.any(t_prev >= t):
        raise SpecInputError(clause, "t_prev", "an earlier step than t (t' < t)", "t' ≥ t")
    return t, t_prev, table


@implements("ddpm.ddim_eta_step")
def ddim_eta_step(x_t, model_output, t, t_prev, betas, eta, noise=None, prediction_type="epsilon",
                  indexing="one_based", clip_sample="none"):
    """x_{t'} = √ᾱ_{t'} x̂_0 + √(1 − ᾱ_{t'} − σ_t²) ε̂ + σ_t ξ,  σ_t = η √((1 − ᾱ_{t'})/(1 − ᾱ_t)) √(1 − ᾱ_t/ᾱ_{t'})
    (Song et al. 2021, eq. 12 and 16). With a = √ᾱ_t, b = √(1 − ᾱ_t) and m the model output:

        epsilon       ε̂ = m,             x̂_0 = (x_t − b m)/a
        v_prediction  x̂_0 = a x_t − b m,  ε̂ = a m + b x_t          (v = a ε − b x_0)
        sample        x̂_0 = m,           ε̂ = (x_t − a m)/b

    1 − ᾱ_{t'} − σ_t² = (1 − ᾱ_{t'})(1 − η² (1 − ᾱ_t/ᾱ_{t'})/(1 − ᾱ_t)), with 1 − ᾱ_t/ᾱ_{t'} by expm1: no cancellation.

    clip_sample: 'clip' clamps x̂_0 to [−1, 1] (ε̂ kept); 'clip_rederive' then sets ε̂ = (x_t − a x̂_0)/b.
    """
    return _ddim("ddpm.ddim_eta_step", x_t, model_output, t, t_prev, betas, eta, noise, prediction_type, indexing,
                 clip_sample)


def _ddim(clause, x_t, model_output, t, t_prev, betas, eta, noise, prediction_type, indexing, clip_sample):
    if eta > 0 and noise is None:
        raise SpecInputError(clause, "noise", "ξ of x_t's shape when η > 0", "None")
    t, t_prev, (ab, om, log_ab) = _jump(clause, t, t_prev, indexing, betas)
    a, b = _col(np.sqrt(ab[t]), x_t), _col(np.sqrt(om[t]), x_t)
    if prediction_type == "epsilon":
        eps_hat = model_output
        x0_hat = (x_t - b * model_output) / a
    elif prediction_type == "v_prediction":
        x0_hat, eps_hat = a * x_t - b * model_output, a * model_output + b * x_t
    else:
        x0_hat = model_output
        eps_hat = (x_t - a * model_output) / b
    if clip_sample != "none":
        x0_hat = np.clip(x0_hat, -1.0, 1.0)
        if clip_sample == "clip_rederive":
            eps_hat = (x_t - a * x0_hat) / b
    jump = -np.expm1(log_ab[t] - log_ab[t_prev])                 # 1 − ᾱ_t/ᾱ_{t'}
    var = eta**2 * om[t_prev] / om[t] * jump                     # σ_t²
    rest = om[t_prev] * (1.0 - eta**2 * jump / om[t])            # 1 − ᾱ_{t'} − σ_t² ≥ 0 for η ≤ 1
    x_prev = _col(np.sqrt(ab[t_prev]), x_t) * x0_hat + _col(np.sqrt(rest), x_t) * eps_hat
    return x_prev if noise is None else x_prev + _col(np.sqrt(var), x_t) * noise


@implements("ddpm.ddim_step")
def ddim_step(x_t, eps_pred, t, t_prev, betas, indexing="one_based", clip_sample="none"):
    """x_{t'} = √ᾱ_{t'} x̂_0 + √(1 − ᾱ_{t'}) ε_θ, x̂_0 = (x_t − √(1 − ᾱ_t) ε_θ)/√ᾱ_t  (DDIM, η = 0; 03's table):
    ddpm.ddim_eta_step at η = 0 with ε-prediction (and its clip_sample)."""
    return _ddim("ddpm.ddim_step", x_t, eps_pred, t, t_prev, betas, 0.0, None, "epsilon", indexing, clip_sample)
