"""Conditioning, float64 NumPy reference (spec/cond.py; 00, 01, 03, 04).

Class-conditional Gaussian mixture: component k has weight w_k, mean μ_k, covariance Σ_k and label ℓ_k;
p(y) = Σ_{ℓ_k = y} w_k, p(x | y) = Σ_{ℓ_k = y} (w_k / p(y)) N(μ_k, Σ_k), p(x) = Σ_y p(y) p(x | y) (the whole
mixture). The oracles are reference.optimal's, applied to class y's renormalised components; the null label
y_∅ (C by default, −1 in the minus_one variant) asks for the whole mixture.
"""
from __future__ import annotations

import math

import numpy as np

from reference import family as F
from reference import optimal as O
from spec import validate as V
from spec.errors import SpecInputError

VELOCITY = "cond.velocity"
POSTERIOR = "cond.class_posterior"
LOSS = "cond.loss"
NULL_LABELS = ("extra_class", "minus_one")
TARGETS = ("velocity", "epsilon", "x", "v", "score")


# ---- validation ---------------------------------------------------------------------------------
def integers(clause, name, v, ndim=1):
    """An integer array (NumPy or a sequence of ints) of the given rank."""
    if isinstance(v, (str, bytes)) or v is None or callable(v):
        raise SpecInputError(clause, name, "an integer array", type(v).__name__)
    a = np.asarray(v)
    if a.dtype.kind not in "iu" and not (a.size == 0 and a.dtype.kind == "f"):
        raise SpecInputError(clause, name, "an integer array", f"dtype {a.dtype}")
    if a.ndim != ndim:
        raise SpecInputError(clause, name, f"an array with {ndim} dimensions", f"shape {a.shape}")
    return a.astype(np.int64)


def choice(clause, name, v, options):
    """One of the named options (a string; an array is an input error, not an ambiguous comparison)."""
    if not isinstance(v, str):
        raise SpecInputError(clause, name, f"one of {list(options)}", type(v).__name__)
    return V.choice(clause, name, v, options)


def count(clause, name, v, low=1, high=2**31 - 1):
    """An integer in [low, high] (NaN and ±inf are input errors, not a ValueError from int())."""
    if type(v).__module__.startswith("torch") and v.numel() == 1:
        v = v.item()
    if isinstance(v, float) and not math.isfinite(v):
        raise SpecInputError(clause, name, "an integer", repr(v))
    return V.scalar(clause, name, v, low, high, integer=True)


def null_value(num_classes, null_label="extra_class"):
    """The integer of y_∅: C (extra_class, the default) or −1 (minus_one)."""
    return num_classes if null_label == "extra_class" else -1


def class_mixture(clause, weights, means, covs, labels):
    """Validate a class-conditional mixture; returns (w normalised, μ, Σ, ℓ, p(y) of shape (C,))."""
    w, mu, cov = O.mixture(clause, weights, means, covs)
    labels = integers(clause, "labels", labels)
    if labels.shape != w.shape:
        raise SpecInputError(clause, "labels", f"one label per component, shape {w.shape}", f"shape {labels.shape}")
    if labels.min() < 0:
        raise SpecInputError(clause, "labels", "class indices ≥ 0", f"min {labels.min()}")
    prior = np.bincount(labels, weights=w, minlength=labels.max() + 1)
    if np.any(prior <= 0):
        missing = np.flatnonzero(prior <= 0)[:4].tolist()
        raise SpecInputError(clause, "labels/weights", "every class 0..C−1 to own a component of positive weight "
                                                       "(p(y) > 0)", f"classes {missing} have p(y) = 0")
    return w, mu, cov, labels, prior


def class_labels(clause, name, y, n, num_classes, null_label=None):
    """Labels of shape (n,) in {0..C−1}, plus y_∅ when null_label names its convention."""
    y = integers(clause, name, y)
    if y.shape != (n,):
        raise SpecInputError(clause, name, f"shape ({n},) (one label per point)", f"shape {y.shape}")
    ok = (y >= 0) & (y < num_classes)
    if null_label is not None:
        choice(clause, "null_label", null_label, NULL_LABELS)
        ok |= y == null_value(num_classes, null_label)
    if not ok.all():
        null = "" if null_label is None else f" or the null label {null_value(num_classes, null_label)}"
        raise SpecInputError(clause, name, f"class labels in [0, {num_classes - 1}]{null}",
                             f"values in [{y.min()}, {y.max()}]")
    return y


def _prediction(x_t, t, w, mu, cov, target):
    """The mixture oracle of one target; score = −E[z | x_t]/b (Tweedie), defined for t > 0."""
    if target == "score":
        _, z_hat = O.posterior_means(x_t, 1.0 - t, t, w, mu, cov)
        return -z_hat / t[:, None]
    return O.optimal_prediction(x_t, t, w, mu, cov, target=target)


def conditional_prediction(x_t, y, t, weights, means, covs, labels, target="velocity", null_label="extra_class",
                           clause=VELOCITY):
    """E[target | x_t, y] for class-conditional mixture data; y_∅ gives E[target | x_t] (the whole mixture)."""
    choice(clause, "target", target, TARGETS)
    w, mu, cov, labels, prior = class_mixture(clause, weights, means, covs, labels)
    x_t = O.points(clause, x_t, mu.shape[1])
    n = x_t.shape[0]
    t = O.per_sample(clause, "t", t, n, 0.0, 1.0)
    if target == "score" and np.any(t == 0):
        raise SpecInputError(clause, "t", "t > 0 for the score target (b = t = 0 at t = 0)", "t = 0")
    C = prior.shape[0]
    y = class_labels(clause, "y", y, n, C, null_label)
    out = np.empty_like(x_t)
    for cls in np.unique(y):
        rows = y == cls
        part = np.ones_like(labels, dtype=bool) if cls == null_value(C, null_label) else labels == cls
        out[rows] = _prediction(x_t[rows], t[rows], w[part], mu[part], cov[part], target)
    return out


def conditional_velocity(x_t, y, t, weights, means, covs, labels, null_label="extra_class"):
    """f*(x_t, y, t) = E[z − x | x_t, y] (class y's components, renormalised); f*(x_t, y_∅, t) = E[z − x | x_t]
    (00: "v = f_θ(x_t, y, t)"; 01 §3.2: the optimal predictor is the conditional mean)."""
    return conditional_prediction(x_t, y, t, weights, means, covs, labels, "velocity", null_label, VELOCITY)


def class_posterior(x_t, t, weights, means, covs, labels):
    """p(y | x_t) ∝ p(y) p_t(x_t | y) = Σ_{ℓ_k = y} w_k N(x_t; a μ_k, a² Σ_k + b² I), a = 1 − t, b = t  (Bayes)."""
    c = POSTERIOR
    w, mu, cov, labels, prior = class_mixture(c, weights, means, covs, labels)
    K, d = mu.shape
    x_t = O.points(c, x_t, d)
    n = x_t.shape[0]
    t = O.per_sample(c, "t", t, n, 0.0, 1.0)
    a, b = 1.0 - t, t
    S = a[:, None, None, None] ** 2 * cov[None] + b[:, None, None, None] ** 2 * np.eye(d)   # (n, K, d, d)
    r = x_t[:, None, :] - a[:, None, None] * mu[None]                                       # (n, K, d)
    u = np.linalg.solve(S, r[..., None])[..., 0]
    _, logdet = np.linalg.slogdet(S)
    with np.errstate(divide="ignore"):
        log_joint = np.log(w)[None] - 0.5 * (d * math.log(2 * math.pi) + logdet + np.sum(r * u, axis=-1))
    C = prior.shape[0]
    log_class = np.stack([_logsumexp(log_joint[:, labels == y]) for y in range(C)], axis=1)  # (n, C)
    return np.exp(log_class - _logsumexp(log_class)[:, None])


def _logsumexp(a):
    m = a.max(axis=1)
    m = np.where(np.isfinite(m), m, 0.0)
    with np.errstate(divide="ignore"):
        return m + np.log(np.exp(a - m[:, None]).sum(axis=1))


def conditional_rf_loss(f, x, y, z, t):
    """L = mean_i ‖f(x_t,i, y_i, t_i) − (z_i − x_i)‖², x_t = (1 − t) x + t z  (00: pairs (x, y); 03)."""
    c = LOSS
    if not callable(f):
        raise SpecInputError(c, "f", "a callable f(x_t, y, t)", type(f).__name__)
    x = V.array(c, "x", x, ndim=2)
    z = V.array(c, "z", z, ndim=2)
    V.same_shape(c, ("x", "z"), x, z)
    n = x.shape[0]
    y = integers(c, "y", y)
    if y.shape != (n,):
        raise SpecInputError(c, "y", f"shape ({n},) (one label per pair)", f"shape {y.shape}")
    t = O.per_sample(c, "t", t, n, 0.0, 1.0)
    x_t = F.affine_interpolate(x, z, t, path="rf")
    pred = np.asarray(f(x_t, y, t), dtype=np.float64)
    if pred.shape != x.shape:
        raise SpecInputError(c, "f", f"a predictor returning shape {x.shape}", f"shape {pred.shape}")
    return F.affine_loss(pred, x, z, t, path="rf", target="velocity")
