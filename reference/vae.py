"""VAE family, float64 NumPy reference (spec/vae.py). logvar = log σ² on [-30, 20]; prior N(0, I).

Arguments are checked by spec.bind from the clauses' symbols: μ, logvar and ε share one shape (n, ...); the
linear-Gaussian model's x (n, d), W (d, k), c (d,), m (n, k), S (n, k, k) share their named dimensions.
"""
from __future__ import annotations

import math

import numpy as np

from genspec.spec.bind import implements
from genspec.spec.errors import SpecInputError
from genspec.spec.vae import encoder_output


@implements("vae.reparameterization")
def reparameterize(mu, logvar, eps, parameterization="logvar"):
    """z = μ + σ ε with σ = exp(½ logvar)  (02); the variants pass log σ or σ in the second argument."""
    a = encoder_output("vae.reparameterization", logvar, parameterization)
    sigma = {"logvar": lambda: np.exp(0.5 * a), "log_sigma": lambda: np.exp(a), "sigma": lambda: a}[parameterization]()
    return mu + sigma * eps


def _kl_terms(mu, logvar):
    """-½ (1 + logvar - μ² - e^logvar) per coordinate."""
    return -0.5 * (1.0 + logvar - mu**2 - np.exp(logvar))


@implements("vae.kl")
def kl_standard_normal(mu, logvar, reduction="sum_last"):
    """KL(N(μ, σ²) ‖ N(0, 1)) = -½ Σ_j (1 + logvar_j - μ_j² - exp(logvar_j)) over the last axis  (02);
    sum_all and mean_batch reduce the per-sample values."""
    per_sample = np.sum(_kl_terms(mu, logvar), axis=-1)
    return {"sum_last": per_sample, "sum_all": np.sum(per_sample), "mean_batch": np.mean(per_sample)}[reduction]


# ---- the linear-Gaussian model p(z) = N(0, I_k), p(x|z) = N(Wz + c, s² I_d) --------------------------------------
def _cholesky(cl, name, A):
    try:
        return np.linalg.cholesky(A)
    except np.linalg.LinAlgError:
        raise SpecInputError(cl, name, "symmetric positive definite", "a matrix that is not") from None


def _spd(cl, name, S):
    asym = np.max(np.abs(S - np.swapaxes(S, -1, -2)), initial=0.0)
    if asym > 1e-6 * max(1.0, float(np.max(np.abs(S), initial=0.0))):
        raise SpecInputError(cl, name, "symmetric (|S - Sᵀ| ≤ 1e-6 max|S|)", f"asymmetry {asym:.3g}")
    S = 0.5 * (S + np.swapaxes(S, -1, -2))
    return S, _cholesky(cl, name, S)


@implements("vae.elbo")
def elbo_linear_gaussian(x, W, c, s2, m, S):
    """ELBO = E_q log p(x|z) - KL(q ‖ N(0, I)) for q = N(m, S), in closed form  (03, 04: a lower bound on log p(x)).

    E_q log p(x|z) = -d/2 log(2π s²) - (‖x - c - Wm‖² + tr(WᵀW S)) / (2 s²);  KL = ½ (tr S + mᵀm - k - log det S).
    """
    d, k = W.shape
    S, L = _spd("vae.elbo", "S", S)
    r = x - c - m @ W.T
    expected_loglik = -0.5 * d * math.log(2 * math.pi * s2) - (
        np.sum(r**2, axis=-1) + np.einsum("ij,nji->n", W.T @ W, S)) / (2 * s2)
    logdet_S = 2.0 * np.sum(np.log(np.diagonal(L, axis1=-2, axis2=-1)), axis=-1)
    kl = 0.5 * (np.trace(S, axis1=-2, axis2=-1) + np.sum(m**2, axis=-1) - k - logdet_S)
    return expected_loglik - kl


@implements("vae.log_evidence")
def log_evidence_linear_gaussian(x, W, c, s2):
    """log p(x) = log N(x; c, C), C = WWᵀ + s² I  (the exact evidence the ELBO bounds)."""
    d = W.shape[0]
    L = _cholesky("vae.log_evidence", "W/s2", W @ W.T + s2 * np.eye(d))
    white = np.linalg.solve(L, (x - c).T)  # L⁻¹ (x - c), one column per data point
    logdet_C = 2.0 * np.sum(np.log(np.diag(L)))
    return -0.5 * (d * math.log(2 * math.pi) + logdet_C + np.sum(white**2, axis=0))


@implements("vae.loss")
def vae_loss(x, x_hat, mu, logvar, reconstruction="sse"):
    """02's loss: Σ (x̂ - x)² + KL summed over everything (F.mse_loss(reduction="sum") + kl); the other
    reconstruction variants are Gaussian NLLs (σ² = ½ or 1) and the mean-reduced MSE."""
    sse, D = np.sum((x_hat - x) ** 2), x.size
    recon = {"sse": lambda: sse,
             "gaussian_nll_half": lambda: sse + 0.5 * D * math.log(math.pi),
             "gaussian_nll_unit": lambda: 0.5 * sse + 0.5 * D * math.log(2 * math.pi),
             "mse_mean": lambda: sse / D if D else 0.0}[reconstruction]()
    return recon + np.sum(_kl_terms(mu, logvar))
