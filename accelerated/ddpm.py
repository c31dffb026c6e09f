"""DDPM and DDIM in PyTorch (spec/ddpm.py): default variants (one_based indexing, σ_t² = β̃_t, batch-mean loss).

The schedule (ᾱ, a product of up to T factors) is computed in float64 on the input's device (float32 on MPS,
which has no float64); the elementwise update runs in the input's dtype (float32 for bfloat16/float16).
"""
from __future__ import annotations

import torch

from spec import validate as V
from spec.errors import SpecInputError

from ._tensors import pair as _pair
from ._tensors import tensor as _tensor
from ._tensors import upcast as _work


def _betas(clause, betas):
    betas = _tensor(clause, "betas", betas, ndim=1)
    if betas.numel() == 0:
        raise SpecInputError(clause, "betas", "a non-empty schedule β_1..β_T", "shape (0,)")
    return V.interval(clause, "betas", betas, 0.0, 1.0, low_closed=False, high_closed=False)


def _steps(clause, name, t, lo, hi, n, device):
    """Integer steps (Python int or integer tensor; scalar or (n,)) in [lo, hi], one-based, as int64 on device."""
    if isinstance(t, bool) or not isinstance(t, (int, torch.Tensor)) or (
            isinstance(t, torch.Tensor) and (t.is_floating_point() or t.is_complex() or t.dtype == torch.bool)):
        raise SpecInputError(clause, name, "integer time steps", type(t).__name__ if not isinstance(t, torch.Tensor)
                             else f"dtype {t.dtype}")
    t = torch.as_tensor(t, dtype=torch.int64, device=device)
    if t.ndim > 1 or (t.ndim == 1 and t.shape[0] != n):
        raise SpecInputError(clause, name, f"a scalar or one step per sample, shape ({n},)", f"shape {tuple(t.shape)}")
    if t.numel() and bool(((t < lo) | (t > hi)).any()):
        raise SpecInputError(clause, name, f"steps in [{lo}, {hi}] (one_based)",
                             f"values in [{int(t.min())}, {int(t.max())}]")
    return t


def _bcast(v, x):
    return v if v.ndim == 0 else v.reshape(v.shape + (1,) * (x.ndim - 1))


def _schedule(betas):
    """([ᾱ_0 = 1, ..., ᾱ_T], [1 − ᾱ_0, ..., 1 − ᾱ_T], [β_1..β_T]) in float64 (float32 on MPS)."""
    hd = torch.float32 if betas.device.type == "mps" else torch.float64
    b = betas.to(hd)
    log_ab = torch.cat([torch.zeros(1, dtype=hd, device=b.device), torch.cumsum(torch.log1p(-b), 0)])
    return torch.exp(log_ab), -torch.expm1(log_ab), b


def linear_betas(T=1000, beta_1=1e-4, beta_T=0.02, dtype=torch.float64, device=None):
    """β_t = β_1 + (t − 1)/(T − 1)(β_T − β_1), t = 1..T (Ho et al. 2020)."""
    c = "ddpm.beta_schedule"
    V.scalar(c, "T", T)                                  # finite first: NaN has no integer test
    T = V.scalar(c, "T", T, 1, 10**7, integer=True)
    beta_1 = V.scalar(c, "beta_1", beta_1, 0.0, 1.0, low_closed=False, high_closed=False)
    beta_T = V.scalar(c, "beta_T", beta_T, 0.0, 1.0, low_closed=False, high_closed=False)
    if T == 1:
        return torch.tensor([beta_1], dtype=dtype, device=device)
    k = torch.arange(T, dtype=torch.float64, device=device)
    return (beta_1 + k / (T - 1) * (beta_T - beta_1)).to(dtype)


def alpha_bars(betas):
    """ᾱ_t = Π_{s≤t}(1 − β_s), t = 1..T, accumulated in float64 and returned in betas' dtype."""
    betas = _betas("ddpm.alpha_bar", betas)
    return _schedule(betas)[0][1:].to(betas.dtype)


def forward(x0, eps, t, betas):
    """x_t = √ᾱ_t x0 + √(1 − ᾱ_t) ε, t ∈ 0..T (one_based; t = 0 is x0)."""
    c = "ddpm.forward"
    x0, eps = _pair(c, ("x0", "eps"), x0, eps)
    betas = _betas(c, betas)
    t = _steps(c, "t", t, 0, betas.shape[0], x0.shape[0], x0.device)
    abf, omf, _ = _schedule(betas)
    (x0, eps), dt = _work(x0, eps)
    wd = x0.dtype
    return (_bcast(abf[t].sqrt().to(wd), x0) * x0 + _bcast(omf[t].sqrt().to(wd), x0) * eps).to(dt)


def loss(eps_pred, eps):
    """L = mean over the batch of ‖ε − ε_θ‖²."""
    c = "ddpm.loss"
    eps_pred, eps = _pair(c, ("eps_pred", "eps"), eps_pred, eps)
    if eps.shape[0] == 0:
        raise SpecInputError(c, "eps", "a non-empty batch", "0 samples")
    (eps_pred, eps), dt = _work(eps_pred, eps)
    return ((eps - eps_pred) ** 2).reshape(eps.shape[0], -1).sum(dim=1).mean().to(dt)


def ancestral_step(x_t, eps_pred, t, betas, noise):
    """x_{t−1} = (x_t − β_t/√(1 − ᾱ_t) ε_θ)/√α_t + σ_t ξ, σ_t² = β̃_t, no noise at t = 1 (Ho et al. Algorithm 2)."""
    c = "ddpm.ancestral_step"
    x_t, eps_pred = _pair(c, ("x_t", "eps_pred"), x_t, eps_pred)
    noise = _tensor(c, "noise", noise, 1)
    V.same_shape(c, ("x_t", "noise"), x_t, noise)
    betas = _betas(c, betas)
    t = _steps(c, "t", t, 1, betas.shape[0], x_t.shape[0], x_t.device)
    _, omf, b = _schedule(betas)
    beta, om, om_prev = b[t - 1], omf[t], omf[t - 1]
    std = torch.where(t == 1, torch.zeros_like(beta), (om_prev / om * beta).sqrt())
    k_eps = beta / om.sqrt()
    inv_sqrt_alpha = torch.rsqrt(1.0 - beta)
    (x_t, eps_pred, noise), dt = _work(x_t, eps_pred, noise)
    wd = x_t.dtype
    k_eps, inv_sqrt_alpha, std = (_bcast(v.to(wd), x_t) for v in (k_eps, inv_sqrt_alpha, std))
    return ((x_t - k_eps * eps_pred) * inv_sqrt_alpha + std * noise).to(dt)


def ddim_step(x_t, eps_pred, t, t_prev, betas):
    """x_{t'} = √ᾱ_{t'} x̂_0 + √(1 − ᾱ_{t'}) ε_θ, x̂_0 = (x_t − √(1 − ᾱ_t) ε_θ)/√ᾱ_t (η = 0)."""
    c = "ddpm.ddim_step"
    x_t, eps_pred = _pair(c, ("x_t", "eps_pred"), x_t, eps_pred)
    betas = _betas(c, betas)
    T = betas.shape[0]
    t = _steps(c, "t", t, 1, T, x_t.shape[0], x_t.device)
    t_prev = _steps(c, "t_prev", t_prev, 0, T - 1, x_t.shape[0], x_t.device)
    if bool((t_prev >= t).any()):
        raise SpecInputError(c, "t_prev", "an earlier step than t (t' < t)", "t' ≥ t")
    abf, omf, _ = _schedule(betas)
    (x_t, eps_pred), dt = _work(x_t, eps_pred)
    wd = x_t.dtype
    sa, so, sa_p, so_p = (_bcast(v.sqrt().to(wd), x_t) for v in (abf[t], omf[t], abf[t_prev], omf[t_prev]))
    x0_hat = (x_t - so * eps_pred) / sa
    return (sa_p * x0_hat + so_p * eps_pred).to(dt)
