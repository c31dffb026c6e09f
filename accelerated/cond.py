"""Conditioning in PyTorch (spec/cond.py): same functions, names and arguments as reference/cond.py.

Any device, dtype-preserving; bfloat16/float16 are computed in float32 and rounded once at the end (the
oracles are accelerated.optimal's). Implements the spec's default null label y_∅ = C (extra_class).
"""
from __future__ import annotations

import math

import torch

from accelerated import family as F
from accelerated import optimal as O
from spec import validate as V
from spec.errors import SpecInputError

VELOCITY = "cond.velocity"
POSTERIOR = "cond.class_posterior"
LOSS = "cond.loss"
TARGETS = ("velocity", "epsilon", "x", "v", "score")


# ---- validation ---------------------------------------------------------------------------------
def integers(clause, name, v, ndim=1):
    """An integer tensor of the given rank."""
    if not isinstance(v, torch.Tensor):
        raise SpecInputError(clause, name, "an integer torch.Tensor", type(v).__name__)
    if v.is_floating_point() or v.is_complex() or v.dtype == torch.bool:
        raise SpecInputError(clause, name, "an integer tensor", f"dtype {v.dtype}")
    if v.ndim != ndim:
        raise SpecInputError(clause, name, f"an array with {ndim} dimensions", f"shape {tuple(v.shape)}")
    return v.long()


def null_value(num_classes):
    """y_∅ = C (the spec's default null label, extra_class)."""
    return num_classes


def tensor(clause, name, v, ndim=None):
    """A floating-point tensor (validated by spec.validate: finite, of the given rank)."""
    if not isinstance(v, torch.Tensor):
        raise SpecInputError(clause, name, "a floating-point torch.Tensor", type(v).__name__)
    return V.array(clause, name, v, ndim=ndim)


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


def class_prior(clause, weights, labels):
    """p(y) = Σ_{ℓ_k = y} w_k / Σ w, shape (C,), float64; every class must own positive weight."""
    labels = integers(clause, "labels", labels)
    w = tensor(clause, "weights", weights, ndim=1).double()
    if labels.shape != w.shape:
        raise SpecInputError(clause, "labels", f"one label per component, shape {tuple(w.shape)}",
                             f"shape {tuple(labels.shape)}")
    if labels.numel() == 0 or int(labels.min()) < 0:
        raise SpecInputError(clause, "labels", "class indices ≥ 0 (at least one component)", "a negative label")
    V.interval(clause, "weights", w, 0.0, what="non-negative")
    C = int(labels.max()) + 1
    prior = torch.zeros(C, dtype=torch.float64, device=w.device).index_add_(0, labels.to(w.device), w)
    if not bool((prior > 0).all()):
        missing = torch.nonzero(prior <= 0).flatten()[:4].tolist()
        raise SpecInputError(clause, "labels/weights", "every class 0..C−1 to own a component of positive weight "
                                                       "(p(y) > 0)", f"classes {missing} have p(y) = 0")
    return labels, prior / prior.sum()


def class_mixture(clause, x_t, weights, means, covs, labels):
    """Validate (x_t, mixture, labels): returns (x_t, the whole mixture as an accelerated.optimal.Mixture in x_t's
    work dtype, labels on x_t's device, p(y))."""
    x_t = tensor(clause, "x_t", x_t, ndim=2)
    means, covs = tensor(clause, "means", means, ndim=2), tensor(clause, "covs", covs, ndim=3)
    labels, prior = class_prior(clause, weights, labels)
    whole = O.Mixture(weights, means, covs, clause, device=x_t.device, dtype=O._work_dtype(x_t.dtype))
    if x_t.shape[1] != whole.d:
        raise SpecInputError(clause, "x_t", f"shape (n, {whole.d}) (the mixture's dimension)",
                             f"shape {tuple(x_t.shape)}")
    return x_t, whole, labels.to(x_t.device), prior


def class_labels(clause, name, y, n, num_classes, allow_null=False):
    """Labels of shape (n,) in {0..C−1}, plus y_∅ = C when allow_null."""
    y = integers(clause, name, y)
    if tuple(y.shape) != (n,):
        raise SpecInputError(clause, name, f"shape ({n},) (one label per point)", f"shape {tuple(y.shape)}")
    hi = num_classes if allow_null else num_classes - 1
    if y.numel() and not bool(((y >= 0) & (y <= hi)).all()):
        null = f" or the null label {num_classes}" if allow_null else ""
        raise SpecInputError(clause, name, f"class labels in [0, {num_classes - 1}]{null}",
                             f"values in [{int(y.min())}, {int(y.max())}]")
    return y


def per_sample_t(clause, t, like):
    """t as a tensor of shape (n,) on like's device, in its work dtype (float32 for half types), in [0, 1]."""
    t = torch.as_tensor(t, dtype=O._work_dtype(like.dtype), device=like.device)
    t = V.array(clause, "t", t, ndim=(0, 1))
    n = like.shape[0]
    if t.ndim == 1 and t.shape[0] != n:
        raise SpecInputError(clause, "t", f"a scalar or shape ({n},)", f"shape {tuple(t.shape)}")
    V.interval(clause, "t", t, 0.0, 1.0)
    return t.expand(n)


# ---- the oracles --------------------------------------------------------------------------------
def _prediction(x_t, t, m, target):
    """The mixture oracle of one target on a prebuilt mixture; score = −E[z | x_t]/b (Tweedie), t > 0."""
    if target == "score":
        _, z_hat = O.posterior_means(x_t, 1.0 - t, t, m)
        return -z_hat / t[:, None]
    return O.optimal_prediction(x_t, t, m, target=target)


def conditional_prediction(x_t, y, t, weights, means, covs, labels, target="velocity", clause=VELOCITY):
    """E[target | x_t, y] for class-conditional mixture data; y_∅ = C gives E[target | x_t]."""
    choice(clause, "target", target, TARGETS)
    x_t, whole, labels, prior = class_mixture(clause, x_t, weights, means, covs, labels)
    n, C = x_t.shape[0], prior.shape[0]
    t = per_sample_t(clause, t, x_t)
    if target == "score" and bool((t == 0).any()):
        raise SpecInputError(clause, "t", "t > 0 for the score target (b = t = 0 at t = 0)", "t = 0")
    y = class_labels(clause, "y", y, n, C, allow_null=True).to(x_t.device)
    out = torch.empty_like(x_t)
    for cls in torch.unique(y).tolist():
        rows = y == cls
        if cls == null_value(C):
            m = whole
        else:                                                              # class y's components, renormalised
            part = (labels == cls).to(means.device)
            m = O.Mixture(weights[part], means[part], covs[part], clause, device=x_t.device, dtype=whole.mu.dtype)
        out[rows] = _prediction(x_t[rows], t[rows], m, target).to(out.dtype)
    return out


def conditional_velocity(x_t, y, t, weights, means, covs, labels):
    """f*(x_t, y, t) = E[z − x | x_t, y]; f*(x_t, y_∅, t) = E[z − x | x_t]  (00, 01 §3.2)."""
    return conditional_prediction(x_t, y, t, weights, means, covs, labels, "velocity", VELOCITY)


def class_posterior(x_t, t, weights, means, covs, labels):
    """p(y | x_t) ∝ Σ_{ℓ_k = y} w_k N(x_t; a μ_k, a² Σ_k + b² I), a = 1 − t, b = t; shape (n, C)."""
    c = POSTERIOR
    x_t, m, labels, prior = class_mixture(c, x_t, weights, means, covs, labels)
    wd = m.mu.dtype
    t = per_sample_t(c, t, x_t).to(wd)
    a, b = (1.0 - t)[:, None, None], t[:, None, None]
    r = x_t.to(wd)[:, None, :] - a * m.mu[None]                       # (n, K, d)
    rho = torch.einsum("kji,nkj->nki", m.U, r)                         # in each component's eigenbasis
    s = a ** 2 * m.lam[None] + b ** 2                                  # eigenvalues of a² Σ_k + b² I
    log_joint = m.log_w[None] - 0.5 * (m.d * math.log(2 * math.pi) + torch.log(s).sum(-1) + (rho ** 2 / s).sum(-1))
    log_class = torch.stack([torch.logsumexp(log_joint[:, labels == y], dim=1) for y in range(prior.shape[0])], 1)
    return torch.softmax(log_class, dim=1).to(x_t.dtype)


def conditional_rf_loss(f, x, y, z, t):
    """L = mean_i ‖f(x_t,i, y_i, t_i) − (z_i − x_i)‖², x_t = (1 − t) x + t z  (00, 03)."""
    c = LOSS
    if not callable(f):
        raise SpecInputError(c, "f", "a callable f(x_t, y, t)", type(f).__name__)
    x, z = tensor(c, "x", x, ndim=2), tensor(c, "z", z, ndim=2)
    V.same_shape(c, ("x", "z"), x, z)
    y = integers(c, "y", y)
    if tuple(y.shape) != (x.shape[0],):
        raise SpecInputError(c, "y", f"shape ({x.shape[0]},) (one label per pair)", f"shape {tuple(y.shape)}")
    t = per_sample_t(c, t, x)
    x_t = F.affine_interpolate(x, z, t, path="rf")
    pred = f(x_t, y, t)
    if not isinstance(pred, torch.Tensor) or pred.shape != x.shape:
        raise SpecInputError(c, "f", f"a predictor returning a tensor of shape {tuple(x.shape)}",
                             f"{type(pred).__name__} {tuple(getattr(pred, 'shape', ()))}")
    return F.affine_loss(pred, x, z, t, path="rf", target="velocity")
