"""Conditioning, float64 NumPy reference (spec/cond.py; 00, 01, 03, 04).

Class-conditional Gaussian mixture: component k has weight w_k, mean μ_k, covariance Σ_k and label ℓ_k;
p(y) = Σ_{ℓ_k = y} w_k, p(x | y) = Σ_{ℓ_k = y} (w_k / p(y)) N(μ_k, Σ_k), p(x) = Σ_y p(y) p(x | y) (the whole
mixture). The oracles are reference.optimal's, applied to class y's renormalised components; the null label
y_∅ (C by default, −1 in the minus_one variant) asks for the whole mixture.
"""
from __future__ import annotations

import math

import numpy as np

from genspec.reference import family as F
from genspec.reference import optimal as O
from genspec.spec import validate as V
from genspec.spec.bind import implements
from genspec.spec.cond import null_value
from genspec.spec.errors import SpecInputError

VELOCITY = "cond.velocity"


def class_mixture(clause, weights, means, covs, labels):
    """What symbols cannot say of a class-conditional mixture: Σ_k symmetric positive definite, every class
    0..C−1 owning positive weight. Returns (w normalised, μ, Σ, ℓ, p(y) of shape (C,))."""
    w, mu, cov = O.mixture(clause, weights, means, covs)
    labels = V.integers(clause, "labels", labels)
    prior = np.bincount(labels, weights=w, minlength=labels.max() + 1)
    if np.any(prior <= 0):
        missing = np.flatnonzero(prior <= 0)[:4].tolist()
        raise SpecInputError(clause, "labels/weights", "every class 0..C−1 to own a component of positive weight "
                                                       "(p(y) > 0)", f"classes {missing} have p(y) = 0")
    return w, mu, cov, labels, prior


def class_labels(clause, name, y, n, num_classes, null_label=None):
    """Labels of shape (n,) in {0..C−1}, plus y_∅ when null_label names its convention."""
    y = V.integers(clause, name, y)
    if y.shape != (n,):
        raise SpecInputError(clause, name, f"shape ({n},) (one label per point)", f"shape {y.shape}")
    ok = (y >= 0) & (y < num_classes)
    if null_label is not None:
        ok |= y == null_value(num_classes, null_label)
    if not ok.all():
        null = "" if null_label is None else f" or the null label {null_value(num_classes, null_label)}"
        raise SpecInputError(clause, name, f"class labels in [0, {num_classes - 1}]{null}",
                             f"values in [{y.min()}, {y.max()}]")
    return y


def conditional_prediction(x_t, y, t, weights, means, covs, labels, target="velocity", null_label="extra_class",
                           clause=VELOCITY):
    """E[target | x_t, y] for class-conditional mixture data; y_∅ gives E[target | x_t] (the whole mixture).

    For arguments of the shapes ``clause`` declares (x_t (n, d), y (n,), t scalar or (n,)); checks what they cannot:
    the mixture, y against C, t > 0 for the score = −E[z | x_t]/b (Tweedie).
    """
    w, mu, cov, labels, prior = class_mixture(clause, weights, means, covs, labels)
    y = class_labels(clause, "y", y, len(x_t), len(prior), null_label)
    t = np.broadcast_to(np.asarray(t, dtype=np.float64), (len(x_t),))
    if target == "score" and np.any(t == 0):
        raise SpecInputError(clause, "t", "t > 0 for the score target (b = t = 0 at t = 0)", "t = 0")
    out = np.empty_like(x_t, dtype=np.float64)
    for cls in np.unique(y):
        rows = y == cls
        part = np.ones_like(labels, dtype=bool) if cls == null_value(len(prior), null_label) else labels == cls
        xr, tr = x_t[rows], t[rows]
        if target == "score":
            out[rows] = -O.posterior_means(xr, 1.0 - tr, tr, w[part], mu[part], cov[part])[1] / tr[:, None]
        else:
            out[rows] = O.optimal_prediction(xr, tr, w[part], mu[part], cov[part], target=target)
    return out


@implements("cond.velocity")
def conditional_velocity(x_t, y, t, weights, means, covs, labels, null_label="extra_class"):
    """f*(x_t, y, t) = E[z − x | x_t, y] (class y's components, renormalised); f*(x_t, y_∅, t) = E[z − x | x_t]
    (00: "v = f_θ(x_t, y, t)"; 01 §3.2: the optimal predictor is the conditional mean)."""
    return conditional_prediction(x_t, y, t, weights, means, covs, labels, "velocity", null_label, VELOCITY)


@implements("cond.class_posterior")
def class_posterior(x_t, t, weights, means, covs, labels):
    """p(y | x_t) ∝ p(y) p_t(x_t | y) = Σ_{ℓ_k = y} w_k N(x_t; a μ_k, a² Σ_k + b² I), a = 1 − t, b = t  (Bayes).

    x_t (n, d), t scalar or (n,), mixture (K,), (K, d), (K, d, d), labels (K,) → p (n, C)."""
    w, mu, cov, labels, prior = class_mixture("cond.class_posterior", weights, means, covs, labels)
    d = mu.shape[1]
    b = np.broadcast_to(t, (len(x_t),))
    a = 1.0 - b
    S = a[:, None, None, None] ** 2 * cov[None] + b[:, None, None, None] ** 2 * np.eye(d)          # (n, K, d, d)
    r = x_t[:, None, :] - a[:, None, None] * mu[None]                                             # (n, K, d)
    u = np.linalg.solve(S, r[..., None])[..., 0]
    with np.errstate(divide="ignore"):
        log_joint = np.log(w)[None] - 0.5 * (d * math.log(2 * math.pi) + np.linalg.slogdet(S)[1]
                                             + np.sum(r * u, axis=-1))
    log_class = np.stack([_logsumexp(log_joint[:, labels == y]) for y in range(len(prior))], axis=1)   # (n, C)
    return np.exp(log_class - _logsumexp(log_class)[:, None])


def _logsumexp(a):
    m = a.max(axis=1)
    m = np.where(np.isfinite(m), m, 0.0)
    with np.errstate(divide="ignore"):
        return m + np.log(np.exp(a - m[:, None]).sum(axis=1))


@implements("cond.loss")
def conditional_rf_loss(f, x, y, z, t):
    """L = mean_i ‖f(x_t,i, y_i, t_i) − (z_i − x_i)‖², x_t = (1 − t) x + t z  (00: pairs (x, y); 03).

    f(x_t, y, t) with t an (n,) array; x, z (n, d); y (n,); t scalar or (n,)."""
    t = np.broadcast_to(t, (len(x),)).astype(np.float64)
    pred = np.asarray(f(F.affine_interpolate(x, z, t, path="rf"), y, t), dtype=np.float64)
    if pred.shape != x.shape:
        raise SpecInputError("cond.loss", "f", f"a predictor returning shape {x.shape}", f"shape {pred.shape}")
    return F.affine_loss(pred, x, z, t, path="rf", target="velocity")
