"""VAE family in torch (spec/vae.py): any device, dtype-preserving, batched, differentiable. Default conventions:
logvar parameterization, KL summed over the last axis, sum-of-squares reconstruction. bfloat16/float16 inputs are
computed in float32 and rounded back."""
from __future__ import annotations

import math

import torch

from spec import validate as V
from spec.errors import SpecInputError
from spec.vae import LOGVAR_HIGH, LOGVAR_LOW


def _work(t: torch.Tensor) -> torch.Tensor:
    """The dtype to compute in: float32 for the 16-bit formats, the input's own dtype otherwise."""
    return t.float() if t.dtype in (torch.bfloat16, torch.float16) else t


def _logvar(c, name, logvar):
    logvar = V.array(c, name, logvar, min_ndim=1)
    return V.interval(c, name, logvar, LOGVAR_LOW, LOGVAR_HIGH,
                      what=f"a log-variance in [{LOGVAR_LOW:g}, {LOGVAR_HIGH:g}]")


def _gaussian_pair(c, mu, logvar):
    mu = V.array(c, "mu", mu, min_ndim=1)
    logvar = _logvar(c, "logvar", logvar)
    V.same_shape(c, ("mu", "logvar"), mu, logvar)
    return mu, logvar


def reparameterize(mu: torch.Tensor, logvar: torch.Tensor, eps: torch.Tensor) -> torch.Tensor:
    """z = μ + σ ε, σ = exp(½ logvar)  (02). Differentiable in μ and logvar: ∂z/∂μ = 1, ∂z/∂logvar = ½ σ ε."""
    c = "vae.reparameterization"
    mu = V.array(c, "mu", mu, min_ndim=1)
    logvar = _logvar(c, "logvar", logvar)
    eps = V.array(c, "eps", eps, min_ndim=1)
    V.same_shape(c, ("mu", "logvar", "eps"), mu, logvar, eps)
    z = _work(mu) + torch.exp(0.5 * _work(logvar)) * _work(eps)
    return z.to(mu.dtype)


def _kl_terms(mu, logvar):
    """-½ (1 + logvar - μ² - e^logvar) per coordinate, in the working dtype."""
    mu, logvar = _work(mu), _work(logvar)
    return -0.5 * (1.0 + logvar - mu.square() - torch.exp(logvar))


def kl_standard_normal(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """KL(N(μ, σ²) ‖ N(0, 1)) = -½ Σ_last (1 + logvar - μ² - exp(logvar)), one value per sample  (02)."""
    mu, logvar = _gaussian_pair("vae.kl", mu, logvar)
    return _kl_terms(mu, logvar).sum(dim=-1).to(mu.dtype)


def _model(cl, x, W, c, s2):
    x = V.array(cl, "x", x, ndim=2)
    W = V.array(cl, "W", W, ndim=2)
    c = V.array(cl, "c", c, ndim=1)
    d = W.shape[0]
    if x.shape[1] != d:
        raise SpecInputError(cl, "x", f"rows of length d = {d} (W is d × k)", f"shape {tuple(x.shape)}")
    if tuple(c.shape) != (d,):
        raise SpecInputError(cl, "c", f"shape (d,) = ({d},)", f"shape {tuple(c.shape)}")
    s2 = V.scalar(cl, "s2", s2, 0.0, low_closed=False)
    return _work(x), _work(W), _work(c), s2


def _cholesky(cl, name, A):
    L, info = torch.linalg.cholesky_ex(A)
    if bool((info != 0).any()):
        raise SpecInputError(cl, name, "symmetric positive definite", "a matrix that is not")
    return L


def _spd(cl, name, S, n, k):
    S = V.array(cl, name, S, ndim=3)
    if tuple(S.shape) != (n, k, k):
        raise SpecInputError(cl, name, f"shape (n, k, k) = ({n}, {k}, {k})", f"shape {tuple(S.shape)}")
    rel = max(1e-6, 4 * torch.finfo(S.dtype).eps)
    S = _work(S)
    asym = float((S - S.mT).abs().amax()) if S.numel() else 0.0
    if asym > rel * max(1.0, float(S.abs().amax()) if S.numel() else 0.0):
        raise SpecInputError(cl, name, f"symmetric (|S - Sᵀ| ≤ {rel:.0e} max|S|)", f"asymmetry {asym:.3g}")
    S = 0.5 * (S + S.mT)
    return S, _cholesky(cl, name, S)


def elbo_linear_gaussian(x, W, c, s2, m, S) -> torch.Tensor:
    """ELBO = E_q log p(x|z) - KL(q ‖ N(0, I)), q = N(m, S), p(x|z) = N(Wz + c, s² I)  (03, 04), per data point."""
    cl = "vae.elbo"
    dtype = V.array(cl, "x", x).dtype  # validated first: a clear error, not an AttributeError
    x, W, c, s2 = _model(cl, x, W, c, s2)
    n, (d, k) = x.shape[0], W.shape
    m = V.array(cl, "m", m, ndim=2)
    if tuple(m.shape) != (n, k):
        raise SpecInputError(cl, "m", f"shape (n, k) = ({n}, {k})", f"shape {tuple(m.shape)}")
    m = _work(m)
    S, L = _spd(cl, "S", S, n, k)
    r = x - c - m @ W.T
    expected_loglik = -0.5 * d * math.log(2 * math.pi * s2) - (
        r.square().sum(-1) + torch.einsum("ij,nji->n", W.T @ W, S)) / (2 * s2)
    logdet_S = 2.0 * torch.log(torch.diagonal(L, dim1=-2, dim2=-1)).sum(-1)
    kl = 0.5 * (torch.diagonal(S, dim1=-2, dim2=-1).sum(-1) + m.square().sum(-1) - k - logdet_S)
    return (expected_loglik - kl).to(dtype)


def log_evidence_linear_gaussian(x, W, c, s2) -> torch.Tensor:
    """log p(x) = log N(x; c, WWᵀ + s² I), per data point."""
    cl = "vae.log_evidence"
    dtype = V.array(cl, "x", x).dtype  # validated first: a clear error, not an AttributeError
    x, W, c, s2 = _model(cl, x, W, c, s2)
    d = W.shape[0]
    C = W @ W.T + s2 * torch.eye(d, dtype=W.dtype, device=W.device)
    L = _cholesky(cl, "W/s2", C)
    white = torch.linalg.solve_triangular(L, (x - c).T, upper=False)  # L⁻¹ (x - c), one column per data point
    logdet_C = 2.0 * torch.log(torch.diagonal(L)).sum()
    return (-0.5 * (d * math.log(2 * math.pi) + logdet_C + white.square().sum(0))).to(dtype)


def vae_loss(x, x_hat, mu, logvar) -> torch.Tensor:
    """02's loss: F.mse_loss(x_hat, x, reduction="sum") + KL summed over everything."""
    c = "vae.loss"
    x = V.array(c, "x", x, min_ndim=1)
    x_hat = V.array(c, "x_hat", x_hat, min_ndim=1)
    V.same_shape(c, ("x", "x_hat"), x, x_hat)
    mu, logvar = _gaussian_pair(c, mu, logvar)
    if mu.shape[0] != x.shape[0]:
        raise SpecInputError(c, "mu", f"one row per data point ({x.shape[0]})", f"shape {tuple(mu.shape)}")
    sse = (_work(x_hat) - _work(x)).square().sum()
    return (sse + _kl_terms(mu, logvar).sum()).to(x.dtype)
