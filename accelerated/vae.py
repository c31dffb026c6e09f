"""VAE family in torch (spec/vae.py): the functions, names and arguments of reference/vae.py; any device,
dtype-preserving, batched, differentiable. bfloat16/float16 inputs are computed in float32 and rounded back."""
from __future__ import annotations

import math

import torch

from genspec.spec.bind import implements
from genspec.spec.errors import SpecInputError
from genspec.spec.vae import encoder_output

from ._tensors import upcast


@implements("vae.reparameterization")
def reparameterize(mu, logvar, eps, parameterization="logvar"):
    """z = μ + σ ε, σ = exp(½ logvar)  (02). Differentiable in μ and logvar: ∂z/∂μ = 1, ∂z/∂logvar = ½ σ ε."""
    (mu, a, eps), dt = upcast(mu, encoder_output("vae.reparameterization", logvar, parameterization), eps)
    sigma = {"logvar": lambda: torch.exp(0.5 * a), "log_sigma": lambda: torch.exp(a), "sigma": lambda: a}[
        parameterization]()
    return (mu + sigma * eps).to(dt)


def _kl_terms(mu, logvar):
    """-½ (1 + logvar - μ² - e^logvar) per coordinate, in the working dtype."""
    (mu, logvar), _ = upcast(mu, logvar)
    return -0.5 * (1.0 + logvar - mu.square() - torch.exp(logvar))


@implements("vae.kl")
def kl_standard_normal(mu, logvar, reduction="sum_last"):
    """KL(N(μ, σ²) ‖ N(0, 1)) = -½ Σ_last (1 + logvar - μ² - exp(logvar)), one value per sample  (02)."""
    per_sample = _kl_terms(mu, logvar).sum(dim=-1)
    out = {"sum_last": per_sample, "sum_all": per_sample.sum(), "mean_batch": per_sample.mean()}[reduction]
    return out.to(mu.dtype)


def _cholesky(cl, name, A):
    L, info = torch.linalg.cholesky_ex(A)
    if bool((info != 0).any()):
        raise SpecInputError(cl, name, "symmetric positive definite", "a matrix that is not")
    return L


def _spd(cl, name, S):
    rel = max(1e-6, 4 * torch.finfo(S.dtype).eps)
    (S,), _ = upcast(S)
    asym = float((S - S.mT).abs().amax()) if S.numel() else 0.0
    if asym > rel * max(1.0, float(S.abs().amax()) if S.numel() else 0.0):
        raise SpecInputError(cl, name, f"symmetric (|S - Sᵀ| ≤ {rel:.0e} max|S|)", f"asymmetry {asym:.3g}")
    S = 0.5 * (S + S.mT)
    return S, _cholesky(cl, name, S)


@implements("vae.elbo")
def elbo_linear_gaussian(x, W, c, s2, m, S):
    """ELBO = E_q log p(x|z) - KL(q ‖ N(0, I)), q = N(m, S), p(x|z) = N(Wz + c, s² I)  (03, 04), per data point."""
    S, L = _spd("vae.elbo", "S", S)
    (x, W, c, m), dtype = upcast(x, W, c, m)
    d, k = W.shape
    r = x - c - m @ W.T
    expected_loglik = -0.5 * d * math.log(2 * math.pi * s2) - (
        r.square().sum(-1) + torch.einsum("ij,nji->n", W.T @ W, S)) / (2 * s2)
    logdet_S = 2.0 * torch.log(torch.diagonal(L, dim1=-2, dim2=-1)).sum(-1)
    kl = 0.5 * (torch.diagonal(S, dim1=-2, dim2=-1).sum(-1) + m.square().sum(-1) - k - logdet_S)
    return (expected_loglik - kl).to(dtype)


@implements("vae.log_evidence")
def log_evidence_linear_gaussian(x, W, c, s2):
    """log p(x) = log N(x; c, WWᵀ + s² I), per data point."""
    (x, W, c), dtype = upcast(x, W, c)
    d = W.shape[0]
    L = _cholesky("vae.log_evidence", "W/s2", W @ W.T + s2 * torch.eye(d, dtype=W.dtype, device=W.device))
    white = torch.linalg.solve_triangular(L, (x - c).T, upper=False)  # L⁻¹ (x - c), one column per data point
    logdet_C = 2.0 * torch.log(torch.diagonal(L)).sum()
    return (-0.5 * (d * math.log(2 * math.pi) + logdet_C + white.square().sum(0))).to(dtype)


@implements("vae.loss")
def vae_loss(x, x_hat, mu, logvar, reconstruction="sse"):
    """02's loss: F.mse_loss(x_hat, x, reduction="sum") + KL summed over everything; other reconstructions as the
    reference's."""
    (xh, xx), dtype = upcast(x_hat, x)
    sse, D = (xh - xx).square().sum(), x.numel()
    recon = {"sse": lambda: sse,
             "gaussian_nll_half": lambda: sse + 0.5 * D * math.log(math.pi),
             "gaussian_nll_unit": lambda: 0.5 * sse + 0.5 * D * math.log(2 * math.pi),
             "mse_mean": lambda: sse / D if D else 0.0 * sse}[reconstruction]()
    return (recon + _kl_terms(mu, logvar).sum()).to(dtype)
