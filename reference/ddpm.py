"""Discrete-time DDPM and DDIM, float64 NumPy reference (spec/ddpm.py; Ho et al. 2020, 02, 03).

Default indexing 'one_based': t = 0..T, ᾱ_t = Π_{s=1}^t (1 − β_s), ᾱ_0 = 1. 'zero_based' (02's code) reads
k = t − 1.
"""
from __future__ import annotations

import numpy as np

from spec import validate as V
from spec.errors import SpecInputError

INDEXINGS = ("one_based", "zero_based")
REDUCTIONS = ("batch_mean_sq_norm", "mse_all_elements")


# ---- validation -----------------------------------------------------------------------------------------
def _betas(clause, betas):
    betas = V.array(clause, "betas", betas, ndim=1)
    if betas.size == 0:
        raise SpecInputError(clause, "betas", "a non-empty schedule β_1..β_T", "shape (0,)")
    return V.interval(clause, "betas", betas, 0.0, 1.0, low_closed=False, high_closed=False)


def _steps(clause, name, t, lo, hi, indexing, n):
    """Integer steps (a scalar or one per sample) in [lo, hi] (one-based); returns one-based int64 of shape ()
    or (n,)."""
    V.choice(clause, "indexing", indexing, INDEXINGS)
    shift = 1 if indexing == "zero_based" else 0
    a = np.asarray(t)
    if isinstance(t, bool) or a.dtype.kind not in "iu":
        raise SpecInputError(clause, name, "integer time steps", f"dtype {a.dtype}")
    if a.ndim > 1 or (a.ndim == 1 and a.shape[0] != n):
        raise SpecInputError(clause, name, f"a scalar or one step per sample, shape ({n},)", f"shape {a.shape}")
    a = a.astype(np.int64) + shift
    if a.size and (a.min() < lo or a.max() > hi):
        raise SpecInputError(clause, name, f"steps in [{lo - shift}, {hi - shift}] ({indexing})",
                             f"values in [{a.min() - shift}, {a.max() - shift}]")
    return a


def _bcast(v, x):
    return v if v.ndim == 0 else v.reshape(v.shape + (1,) * (x.ndim - 1))


def _pair(clause, names, u, w):
    u = V.array(clause, names[0], u, min_ndim=1)
    w = V.array(clause, names[1], w, min_ndim=1)
    V.same_shape(clause, names, u, w)
    return u, w


def _alpha_bar_full(betas):
    """([ᾱ_0 = 1, ᾱ_1, ..., ᾱ_T], [1 − ᾱ_0 = 0, ..., 1 − ᾱ_T]) via log ᾱ_t = Σ log(1 − β_s):
    no cancellation in 1 − ᾱ."""
    log_ab = np.concatenate([[0.0], np.cumsum(np.log1p(-betas))])
    return np.exp(log_ab), -np.expm1(log_ab)


# ---- clauses --------------------------------------------------------------------------------------------
def linear_betas(T=1000, beta_1=1e-4, beta_T=0.02):
    """β_t = β_1 + (t − 1)/(T − 1) (β_T − β_1), t = 1..T  (Ho et al. 2020: 1e-4..0.02, T = 1000)."""
    c = "ddpm.beta_schedule"
    V.scalar(c, "T", T)                                  # finite first: NaN has no integer test
    T = V.scalar(c, "T", T, 1, 10**7, integer=True)
    beta_1 = V.scalar(c, "beta_1", beta_1, 0.0, 1.0, low_closed=False, high_closed=False)
    beta_T = V.scalar(c, "beta_T", beta_T, 0.0, 1.0, low_closed=False, high_closed=False)
    if T == 1:
        return np.array([beta_1])
    return beta_1 + np.arange(T) / (T - 1) * (beta_T - beta_1)


def alpha_bars(betas):
    """ᾱ_t = Π_{s=1}^t (1 − β_s) for t = 1..T (entry t − 1; 02's alpha_bars)."""
    return _alpha_bar_full(_betas("ddpm.alpha_bar", betas))[0][1:]


def forward(x0, eps, t, betas, indexing="one_based"):
    """x_t = √ᾱ_t x0 + √(1 − ᾱ_t) ε  (02: "x_t = ab.sqrt() * x0 + (1 - ab).sqrt() * noise")."""
    c = "ddpm.forward"
    x0, eps = _pair(c, ("x0", "eps"), x0, eps)
    betas = _betas(c, betas)
    t = _steps(c, "t", t, 0, betas.size, indexing, x0.shape[0])
    abf, omf = _alpha_bar_full(betas)
    return _bcast(np.sqrt(abf[t]), x0) * x0 + _bcast(np.sqrt(omf[t]), x0) * eps


def loss(eps_pred, eps, reduction="batch_mean_sq_norm"):
    """L = mean_i ‖ε_i − ε_θ,i‖²  (02: "L = ‖ ε − εθ(x_t, t) ‖²"); 'mse_all_elements' = F.mse_loss = L / D."""
    c = "ddpm.loss"
    eps_pred, eps = _pair(c, ("eps_pred", "eps"), eps_pred, eps)
    V.choice(c, "reduction", reduction, REDUCTIONS)
    if eps.shape[0] == 0:
        raise SpecInputError(c, "eps", "a non-empty batch", "0 samples")
    L = ((eps - eps_pred) ** 2).reshape(eps.shape[0], -1).sum(axis=1).mean()
    return L / eps[0].size if reduction == "mse_all_elements" else L


def ancestral_step(x_t, eps_pred, t, betas, noise, sigma="beta_tilde", indexing="one_based"):
    """x_{t−1} = (x_t − β_t/√(1 − ᾱ_t) ε_θ)/√α_t + σ_t ξ, no noise at t = 1  (Ho et al. 2020, Algorithm 2).

    σ_t² = β̃_t = (1 − ᾱ_{t−1})/(1 − ᾱ_t) β_t ('beta_tilde', default) or β_t ('beta').
    """
    c = "ddpm.ancestral_step"
    x_t, eps_pred = _pair(c, ("x_t", "eps_pred"), x_t, eps_pred)
    noise = V.array(c, "noise", noise, min_ndim=1)
    V.same_shape(c, ("x_t", "noise"), x_t, noise)
    betas = _betas(c, betas)
    V.choice(c, "sigma", sigma, ("beta_tilde", "beta"))
    t = _steps(c, "t", t, 1, betas.size, indexing, x_t.shape[0])
    _, omf = _alpha_bar_full(betas)
    beta, om, om_prev = betas[t - 1], omf[t], omf[t - 1]            # om = 1 − ᾱ_t
    var = om_prev / om * beta if sigma == "beta_tilde" else beta
    var = np.where(t == 1, 0.0, var)
    mean = (x_t - _bcast(beta / np.sqrt(om), x_t) * eps_pred) / _bcast(np.sqrt(1.0 - beta), x_t)
    return mean + _bcast(np.sqrt(var), x_t) * noise


def ddim_step(x_t, eps_pred, t, t_prev, betas, indexing="one_based"):
    """x_{t'} = √ᾱ_{t'} x̂_0 + √(1 − ᾱ_{t'}) ε_θ, x̂_0 = (x_t − √(1 − ᾱ_t) ε_θ)/√ᾱ_t  (DDIM, η = 0; 03's table)."""
    c = "ddpm.ddim_step"
    x_t, eps_pred = _pair(c, ("x_t", "eps_pred"), x_t, eps_pred)
    betas = _betas(c, betas)
    t = _steps(c, "t", t, 1, betas.size, indexing, x_t.shape[0])
    t_prev = _steps(c, "t_prev", t_prev, 0, betas.size - 1, indexing, x_t.shape[0])
    if np.any(np.broadcast_to(t_prev, np.broadcast_shapes(t.shape, t_prev.shape))
              >= np.broadcast_to(t, np.broadcast_shapes(t.shape, t_prev.shape))):
        raise SpecInputError(c, "t_prev", "an earlier step than t (t' < t)", "t' ≥ t")
    abf, omf = _alpha_bar_full(betas)
    x0_hat = (x_t - _bcast(np.sqrt(omf[t]), x_t) * eps_pred) / _bcast(np.sqrt(abf[t]), x_t)
    return _bcast(np.sqrt(abf[t_prev]), x_t) * x0_hat + _bcast(np.sqrt(omf[t_prev]), x_t) * eps_pred
