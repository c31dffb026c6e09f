"""Classifier-free guidance in PyTorch (spec/cfg.py): the functions, names and arguments of reference/cfg.py.

A guided step is ONE call of the network on 2B rows ([x; x], [y; y_∅], [t; t]), split into (v_y, v_∅). Any device,
dtype-preserving; bfloat16/float16 are combined in float32 and rounded once.
"""
from __future__ import annotations

import math

import torch

from genspec.accelerated import cond as C
from genspec.accelerated import sampler as S
from genspec.accelerated._tensors import per_sample, upcast
from genspec.spec.bind import implements
from genspec.spec.cfg import RATES
from genspec.spec.cond import null_value
from genspec.spec.errors import SpecInputError


@implements("cfg.combine")
def cfg_combine(v_y, v_null, w, form="one_plus_w"):
    """v_cfg = (1 + w) v_y − w v_∅ (00) | v_y + w (v_y − v_∅) (03) | v_∅ + s (v_y − v_∅) (04), s = 1 + w."""
    (v_y, v_null), dt = upcast(v_y, v_null)
    if form == "one_plus_w":
        return ((1.0 + w) * v_y - w * v_null).to(dt)
    if form == "conditional_offset":
        return (v_y + w * (v_y - v_null)).to(dt)
    return (v_null + w * (v_y - v_null)).to(dt)


@implements("cfg.score")
def guided_score(score_null, grad_log_p_y, w, form="one_plus_w"):
    """s_cfg = ∇log p(x_t) + (1 + w) ∇log p(y | x_t)  (03, by Bayes); scale form: s_∅ + s ∇log p(y | x_t)."""
    (s, g), dt = upcast(score_null, grad_log_p_y)
    return (s + (w if form == "scale" else 1.0 + w) * g).to(dt)


@implements("cfg.change_of_target")
def guided_prediction(x_t, y, t, w, weights, means, covs, labels, target="velocity", form="one_plus_w"):
    """combine(E[target | x_t, y], E[target | x_t], w), both oracles in one batched call of 2B rows."""
    n, num_classes = len(x_t), int(labels.max()) + 1
    y = C.class_labels("cfg.change_of_target", "y", y, n, num_classes).to(x_t.device)   # y_∅ is added here
    t = per_sample(t, x_t)                                      # checked by bind: (n,) in the work dtype
    both = C.conditional_prediction(torch.cat([x_t, x_t]), torch.cat([y, torch.full_like(y, num_classes)]),
                                    torch.cat([t, t]), weights, means, covs, labels, target,
                                    clause="cfg.change_of_target")
    return cfg_combine.raw(both[:n], both[n:], w, form)


@implements("cfg.rescale")
def rescaled_guidance(v_y, v_null, w, phi, form="one_plus_w"):
    """v_out = φ v_cfg std(v_y)/std(v_cfg) + (1 − φ) v_cfg, std over each sample's entries  (Lin et al. 2024)."""
    (v_y, v_null), dt = upcast(v_y, v_null)
    v_cfg = cfg_combine.raw(v_y, v_null, w, form)
    dims = tuple(range(1, v_y.ndim))
    std_y, std_cfg = (v.std(dim=dims, keepdim=True, correction=0) for v in (v_y, v_cfg))
    if math.prod(v_y.shape[1:]) < 2 or bool((std_cfg == 0).any()):
        raise SpecInputError("cfg.rescale", "v_y/v_null", "a guided prediction with std > 0 in every sample",
                             "a constant sample")
    return (phi * (v_cfg * (std_y / std_cfg)) + (1.0 - phi) * v_cfg).to(dt)


@implements("cfg.apg")
def projected_guidance(v_y, v_null, w, eta, form="one_plus_w"):
    """v_apg = v_y + w (Δ⊥ + η Δ∥), Δ = v_y − v_∅, Δ∥ = ⟨Δ, v_y⟩/⟨v_y, v_y⟩ v_y per sample (0 where v_y = 0);
    scale form v_y + (s − 1) U, diffusers' default anchor v_∅ + s U."""
    (v_y, v_null), dt = upcast(v_y, v_null)
    delta = v_y - v_null
    dims = tuple(range(1, v_y.ndim))
    norm2 = (v_y * v_y).sum(dim=dims, keepdim=True)
    coef = (delta * v_y).sum(dim=dims, keepdim=True) / torch.where(norm2 == 0, torch.ones_like(norm2), norm2)
    parallel = coef * v_y
    update = (delta - parallel) + eta * parallel
    if form == "one_plus_w":
        return (v_y + w * update).to(dt)
    if form == "scale":
        return (v_y + (w - 1.0) * update).to(dt)
    return (v_null + w * update).to(dt)


@implements("cfg.dropout")
def drop_labels(y, u, num_classes, p=None, null_label="extra_class", rate="ten_percent"):
    """ỹ = y_∅ where u < p, else y  (03: "e.g., 10%"; 04: "commonly 50%"); p defaults to the `rate` variant."""
    y = C.class_labels("cfg.dropout", "y", y, len(y), num_classes)
    exact = torch.float32 if u.device.type == "mps" else torch.float64       # p is never rounded to u's dtype
    null = torch.full_like(y, null_value(num_classes, null_label))
    return torch.where(u.to(exact) < (RATES[rate] if p is None else p), null, y)


def dropped_rows(u, p):
    """Which rows lose their condition (caption or class): cfg.dropout on a one-class label, True ⇔ u < p."""
    return drop_labels(torch.zeros(len(u), dtype=torch.long), u, 1, p) == 1


def _guided(clause, f, x, y, y_null, t, w, form):
    """One call of 2B rows: f([x; x], [y; y_∅], [t; t]) split into (v_y, v_∅), then the combination."""
    n = len(x)
    t = per_sample(t, x)                                       # in the work dtype: t is not rounded to bfloat16
    out = f(torch.cat([x, x]), torch.cat([y, y_null]), torch.cat([t, t]))
    if not isinstance(out, torch.Tensor) or out.shape != (2 * n, *x.shape[1:]):
        raise SpecInputError(clause, "f", f"a predictor returning shape {(2 * n, *x.shape[1:])}",
                             f"{type(out).__name__} {tuple(getattr(out, 'shape', ()))}")
    return cfg_combine.raw(out[:n], out[n:], w, form)


def _labels(clause, y, x, num_classes, null_label):
    y = C.class_labels(clause, "y", y, len(x), num_classes).to(x.device)
    return y, torch.full_like(y, null_value(num_classes, null_label))


@implements("cfg.cost")
def guided_velocity(f, x_t, y, t, w, num_classes, form="one_plus_w", null_label="extra_class"):
    """v_cfg = combine(f(x_t, y, t), f(x_t, y_∅, t), w), evaluated as ONE batched call of 2B rows  (03)."""
    y, y_null = _labels("cfg.cost", y, x_t, num_classes, null_label)
    return _guided("cfg.cost", f, x_t, y, y_null, t, w, form)


@implements("cfg.guided_euler")
def guided_euler_sample(f, x1, y, w, T, num_classes, form="one_plus_w", null_label="extra_class"):
    """x ← x − (1/T) v_cfg(x, y, t_k), t_k = 1 − k/T, k = 0..T−1: T batched calls of 2B rows (2T·B rows)."""
    y, y_null = _labels("cfg.guided_euler", y, x1, num_classes, null_label)
    return S.euler_sample(lambda x, t: _guided("cfg.guided_euler", f, x, y, y_null, t, w, form), x1, T)
