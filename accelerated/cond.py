"""Conditioning in PyTorch (spec/cond.py): same functions, names and arguments as reference/cond.py.

Any device, dtype-preserving; bfloat16/float16 are computed in float32 and rounded once at the end (the
oracles are accelerated.optimal's). Both null labels: y_∅ = C (extra_class, the default) or −1 (minus_one).
"""
from __future__ import annotations

import math

import torch

from genspec.accelerated import family as F
from genspec.accelerated import optimal as O
from genspec.spec import validate as V
from genspec.spec.bind import implements
from genspec.spec.cond import null_value
from genspec.spec.errors import SpecInputError

from ._tensors import per_sample, work_dtype

VELOCITY = "cond.velocity"


def class_prior(clause, weights, labels):
    """p(y) = Σ_{ℓ_k = y} w_k / Σ w, shape (C,), float64; every class must own positive weight (and a mixture has
    a component)."""
    if labels.numel() == 0:
        raise SpecInputError(clause, "labels", "at least one component", "shape (0,)")
    w = weights.double()
    prior = torch.zeros(int(labels.max()) + 1, dtype=torch.float64, device=w.device).index_add_(
        0, labels.to(w.device), w)
    if not bool((prior > 0).all()):
        missing = torch.nonzero(prior <= 0).flatten()[:4].tolist()
        raise SpecInputError(clause, "labels/weights", "every class 0..C−1 to own a component of positive weight "
                                                       "(p(y) > 0)", f"classes {missing} have p(y) = 0")
    return labels, prior / prior.sum()


def class_mixture(clause, x_t, weights, means, covs, labels):
    """The whole mixture as an accelerated.optimal.Mixture in x_t's work dtype (Σ_k symmetric positive definite),
    labels on x_t's device, p(y)."""
    labels, prior = class_prior(clause, weights, labels)
    whole = O.Mixture(weights, means, covs, clause, device=x_t.device, dtype=work_dtype(x_t.dtype))
    return whole, labels.to(x_t.device), prior


def class_labels(clause, name, y, n, num_classes, null_label=None):
    """Labels of shape (n,) in {0..C−1}, plus y_∅ when null_label names its convention."""
    y = V.integers(clause, name, y)
    if tuple(y.shape) != (n,):
        raise SpecInputError(clause, name, f"shape ({n},) (one label per point)", f"shape {tuple(y.shape)}")
    ok = (y >= 0) & (y < num_classes)
    if null_label is not None:
        ok |= y == null_value(num_classes, null_label)
    if y.numel() and not bool(ok.all()):
        null = "" if null_label is None else f" or the null label {null_value(num_classes, null_label)}"
        raise SpecInputError(clause, name, f"class labels in [0, {num_classes - 1}]{null}",
                             f"values in [{int(y.min())}, {int(y.max())}]")
    return y


def conditional_prediction(x_t, y, t, weights, means, covs, labels, target="velocity", null_label="extra_class",
                           clause=VELOCITY):
    """E[target | x_t, y] for class-conditional mixture data; y_∅ gives E[target | x_t] (the whole mixture).

    For arguments of the shapes ``clause`` declares; checks what they cannot (the mixture, y against C, t > 0 for
    the score = −E[z | x_t]/b, Tweedie)."""
    whole, labels, prior = class_mixture(clause, x_t, weights, means, covs, labels)
    C = prior.shape[0]
    t = per_sample(t, x_t)
    if target == "score" and bool((t == 0).any()):
        raise SpecInputError(clause, "t", "t > 0 for the score target (b = t = 0 at t = 0)", "t = 0")
    y = class_labels(clause, "y", y, len(x_t), C, null_label).to(x_t.device)
    out = torch.empty_like(x_t)
    for cls in torch.unique(y).tolist():
        rows = y == cls
        if cls == null_value(C, null_label):
            m = whole
        else:                                                              # class y's components, renormalised
            part = (labels == cls).to(means.device)
            m = O.Mixture(weights[part], means[part], covs[part], clause, device=x_t.device, dtype=whole.mu.dtype)
        xr, tr = x_t[rows], t[rows]
        if target == "score":
            out[rows] = (-m.posterior_means(xr, 1.0 - tr, tr)[1] / tr[:, None]).to(out.dtype)
        else:
            out[rows] = m.prediction(xr, tr, target=target).to(out.dtype)
    return out


@implements("cond.velocity")
def conditional_velocity(x_t, y, t, weights, means, covs, labels, null_label="extra_class"):
    """f*(x_t, y, t) = E[z − x | x_t, y]; f*(x_t, y_∅, t) = E[z − x | x_t]  (00, 01 §3.2)."""
    return conditional_prediction(x_t, y, t, weights, means, covs, labels, "velocity", null_label, VELOCITY)


@implements("cond.class_posterior")
def class_posterior(x_t, t, weights, means, covs, labels):
    """p(y | x_t) ∝ Σ_{ℓ_k = y} w_k N(x_t; a μ_k, a² Σ_k + b² I), a = 1 − t, b = t; shape (n, C)."""
    m, labels, prior = class_mixture("cond.class_posterior", x_t, weights, means, covs, labels)
    t = per_sample(t, x_t).to(m.mu.dtype)
    a, b = (1.0 - t)[:, None, None], t[:, None, None]
    r = x_t.to(m.mu.dtype)[:, None, :] - a * m.mu[None]               # (n, K, d)
    rho = torch.einsum("kji,nkj->nki", m.U, r)                         # in each component's eigenbasis
    s = a ** 2 * m.lam[None] + b ** 2                                  # eigenvalues of a² Σ_k + b² I
    log_joint = m.log_w[None] - 0.5 * (m.d * math.log(2 * math.pi) + torch.log(s).sum(-1) + (rho ** 2 / s).sum(-1))
    log_class = torch.stack([torch.logsumexp(log_joint[:, labels == y], dim=1) for y in range(prior.shape[0])], 1)
    return torch.softmax(log_class, dim=1).to(x_t.dtype)


@implements("cond.loss")
def conditional_rf_loss(f, x, y, z, t):
    """L = mean_i ‖f(x_t,i, y_i, t_i) − (z_i − x_i)‖², x_t = (1 − t) x + t z  (00, 03)."""
    t = per_sample(t, x)
    pred = f(F.affine_interpolate(x, z, t, path="rf"), y, t)
    if not isinstance(pred, torch.Tensor) or pred.shape != x.shape:
        raise SpecInputError("cond.loss", "f", f"a predictor returning a tensor of shape {tuple(x.shape)}",
                             f"{type(pred).__name__} {tuple(getattr(pred, 'shape', ()))}")
    return F.affine_loss(pred, x, z, t, path="rf", target="velocity")
