"""VAE family, float64 NumPy reference (spec/vae.py). logvar = log σ² on [-30, 20]; prior N(0, I)."""
from __future__ import annotations

import math

import numpy as np

from spec import validate as V
from spec.errors import SpecInputError
from spec.vae import LOGVAR_HIGH, LOGVAR_LOW

# the domain of the encoder's second output under each parameterization (spec/vae.py, ENCODER_OUTPUT)
PARAM_DOMAIN = {"logvar": (LOGVAR_LOW, LOGVAR_HIGH), "log_sigma": (LOGVAR_LOW / 2, LOGVAR_HIGH / 2),
                "sigma": (0.0, 2.3e4)}  # ⊇ [0, e^10]: a float32/bfloat16 rounding of e^10 stays inside


def _logvar(c, name, logvar):
    logvar = V.array(c, name, logvar, min_ndim=1)
    return V.interval(c, name, logvar, LOGVAR_LOW, LOGVAR_HIGH,
                      what=f"a log-variance in [{LOGVAR_LOW:g}, {LOGVAR_HIGH:g}]")


def _gaussian_pair(c, mu, logvar):
    mu = V.array(c, "mu", mu, min_ndim=1)
    logvar = _logvar(c, "logvar", logvar)
    V.same_shape(c, ("mu", "logvar"), mu, logvar)
    return mu, logvar


def reparameterize(mu, logvar, eps, parameterization="logvar"):
    """z = μ + σ ε, σ = exp(½ logvar)  (02); variants pass log σ or σ in the second argument."""
    c = "vae.reparameterization"
    V.choice(c, "parameterization", parameterization, tuple(PARAM_DOMAIN))
    mu = V.array(c, "mu", mu, min_ndim=1)
    a = V.interval(c, "logvar", V.array(c, "logvar", logvar, min_ndim=1), *PARAM_DOMAIN[parameterization],
                   what=f"a {parameterization} in [{PARAM_DOMAIN[parameterization][0]:g}, "
                        f"{PARAM_DOMAIN[parameterization][1]:g}]")
    eps = V.array(c, "eps", eps, min_ndim=1)
    V.same_shape(c, ("mu", "logvar", "eps"), mu, a, eps)
    sigma = {"logvar": lambda: np.exp(0.5 * a), "log_sigma": lambda: np.exp(a), "sigma": lambda: a}[parameterization]()
    return mu + sigma * eps


def _kl_terms(mu, logvar):
    """-½ (1 + logvar - μ² - e^logvar) per coordinate."""
    return -0.5 * (1.0 + logvar - mu**2 - np.exp(logvar))


def kl_standard_normal(mu, logvar, reduction="sum_last"):
    """KL(N(μ, σ²) ‖ N(0, 1)) = -½ Σ (1 + logvar - μ² - exp(logvar)), summed over the last axis  (02)."""
    c = "vae.kl"
    mu, logvar = _gaussian_pair(c, mu, logvar)
    V.choice(c, "reduction", reduction, ("sum_last", "sum_all", "mean_batch"))
    per_sample = np.sum(_kl_terms(mu, logvar), axis=-1)
    if reduction == "sum_all":
        return np.sum(per_sample)
    if reduction == "mean_batch":
        return np.mean(per_sample)
    return per_sample


# ---- the linear-Gaussian model p(z) = N(0, I_k), p(x|z) = N(Wz + c, s² I_d) --------------------------------------
def _model(cl, x, W, c, s2):
    x = V.array(cl, "x", x, ndim=2)
    W = V.array(cl, "W", W, ndim=2)
    c = V.array(cl, "c", c, ndim=1)
    d = W.shape[0]
    if x.shape[1] != d:
        raise SpecInputError(cl, "x", f"rows of length d = {d} (W is d × k)", f"shape {x.shape}")
    if c.shape != (d,):
        raise SpecInputError(cl, "c", f"shape (d,) = ({d},)", f"shape {c.shape}")
    s2 = V.scalar(cl, "s2", s2, 0.0, low_closed=False)
    return x, W, c, s2


def _cholesky(cl, name, A):
    try:
        return np.linalg.cholesky(A)
    except np.linalg.LinAlgError:
        raise SpecInputError(cl, name, "symmetric positive definite", "a matrix that is not") from None


def _spd(cl, name, S, n, k):
    S = V.array(cl, name, S, ndim=3)
    if S.shape != (n, k, k):
        raise SpecInputError(cl, name, f"shape (n, k, k) = ({n}, {k}, {k})", f"shape {S.shape}")
    asym = np.max(np.abs(S - np.swapaxes(S, -1, -2)), initial=0.0)
    if asym > 1e-6 * max(1.0, float(np.max(np.abs(S), initial=0.0))):
        raise SpecInputError(cl, name, "symmetric (|S - Sᵀ| ≤ 1e-6 max|S|)", f"asymmetry {asym:.3g}")
    S = 0.5 * (S + np.swapaxes(S, -1, -2))
    return S, _cholesky(cl, name, S)


def elbo_linear_gaussian(x, W, c, s2, m, S):
    """ELBO = E_q log p(x|z) - KL(q ‖ N(0, I)) for q = N(m, S), in closed form  (03, 04: a lower bound on log p(x)).

    E_q log p(x|z) = -d/2 log(2π s²) - (‖x - c - Wm‖² + tr(WᵀW S)) / (2 s²);  KL = ½ (tr S + mᵀm - k - log det S).
    """
    cl = "vae.elbo"
    x, W, c, s2 = _model(cl, x, W, c, s2)
    n, (d, k) = x.shape[0], W.shape
    m = V.array(cl, "m", m, ndim=2)
    if m.shape != (n, k):
        raise SpecInputError(cl, "m", f"shape (n, k) = ({n}, {k})", f"shape {m.shape}")
    S, L = _spd(cl, "S", S, n, k)
    r = x - c - m @ W.T
    expected_loglik = -0.5 * d * math.log(2 * math.pi * s2) - (
        np.sum(r**2, axis=-1) + np.einsum("ij,nji->n", W.T @ W, S)) / (2 * s2)
    logdet_S = 2.0 * np.sum(np.log(np.diagonal(L, axis1=-2, axis2=-1)), axis=-1)
    kl = 0.5 * (np.trace(S, axis1=-2, axis2=-1) + np.sum(m**2, axis=-1) - k - logdet_S)
    return expected_loglik - kl


def log_evidence_linear_gaussian(x, W, c, s2):
    """log p(x) = log N(x; c, WWᵀ + s² I)  (the exact evidence the ELBO bounds)."""
    cl = "vae.log_evidence"
    x, W, c, s2 = _model(cl, x, W, c, s2)
    d = W.shape[0]
    C = W @ W.T + s2 * np.eye(d)
    L = _cholesky(cl, "W/s2", C)
    white = np.linalg.solve(L, (x - c).T)  # L⁻¹ (x - c), one column per data point
    logdet_C = 2.0 * np.sum(np.log(np.diag(L)))
    return -0.5 * (d * math.log(2 * math.pi) + logdet_C + np.sum(white**2, axis=0))


def vae_loss(x, x_hat, mu, logvar, reconstruction="sse"):
    """02's loss: Σ (x̂ - x)² + KL summed over everything (F.mse_loss(reduction="sum") + kl)."""
    c = "vae.loss"
    x = V.array(c, "x", x, min_ndim=1)
    x_hat = V.array(c, "x_hat", x_hat, min_ndim=1)
    V.same_shape(c, ("x", "x_hat"), x, x_hat)
    mu, logvar = _gaussian_pair(c, mu, logvar)
    if mu.shape[0] != x.shape[0]:
        raise SpecInputError(c, "mu", f"one row per data point ({x.shape[0]})", f"shape {mu.shape}")
    V.choice(c, "reconstruction", reconstruction, ("sse", "gaussian_nll_half", "gaussian_nll_unit", "mse_mean"))
    sse = np.sum((x_hat - x) ** 2)
    D = x.size
    recon = {"sse": lambda: sse,
             "gaussian_nll_half": lambda: sse + 0.5 * D * math.log(math.pi),
             "gaussian_nll_unit": lambda: 0.5 * sse + 0.5 * D * math.log(2 * math.pi),
             "mse_mean": lambda: sse / D if D else 0.0}[reconstruction]()
    return recon + np.sum(_kl_terms(mu, logvar))
