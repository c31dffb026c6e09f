"""Classifier-free guidance, float64 NumPy reference (spec/cfg.py; 00, 01, 03, 04): each form of the weight
(convention `form`) evaluated as written; two calls of B rows per guided step.
"""
from __future__ import annotations

import numpy as np

from genspec.reference import cond as C
from genspec.reference import sampler as S
from genspec.spec.bind import implements
from genspec.spec.cfg import RATES
from genspec.spec.cond import null_value
from genspec.spec.errors import SpecInputError


@implements("cfg.combine")
def cfg_combine(v_y, v_null, w, form="one_plus_w"):
    """v_cfg = (1 + w) v_y − w v_∅ (00) | v_y + w (v_y − v_∅) (03) | v_∅ + s (v_y − v_∅) (04): the scale form's
    weight arrives as s = 1 + w."""
    if form == "one_plus_w":
        return (1.0 + w) * v_y - w * v_null
    if form == "conditional_offset":
        return v_y + w * (v_y - v_null)
    s = w
    return v_null + s * (v_y - v_null)


@implements("cfg.score")
def guided_score(score_null, grad_log_p_y, w, form="one_plus_w"):
    """s_cfg = ∇log p(x_t) + (1 + w) ∇log p(y | x_t)  (03, by Bayes); scale form: s_∅ + s ∇log p(y | x_t)."""
    return score_null + (w if form == "scale" else 1.0 + w) * grad_log_p_y


@implements("cfg.change_of_target")
def guided_prediction(x_t, y, t, w, weights, means, covs, labels, target="velocity", form="one_plus_w"):
    """combine(E[target | x_t, y], E[target | x_t], w): the guided oracle in any target."""
    num_classes = int(labels.max()) + 1
    C.class_labels("cfg.change_of_target", "y", y, len(x_t), num_classes)     # real classes: y_∅ is added here
    null = np.full_like(y, num_classes)
    p_y, p_null = (C.conditional_prediction(x_t, yy, t, weights, means, covs, labels, target,
                                            clause="cfg.change_of_target") for yy in (y, null))
    return cfg_combine.raw(p_y, p_null, w, form)


@implements("cfg.rescale")
def rescaled_guidance(v_y, v_null, w, phi, form="one_plus_w"):
    """v_out = φ v_cfg std(v_y)/std(v_cfg) + (1 − φ) v_cfg, std over each sample's entries  (Lin et al. 2024)."""
    v_cfg = cfg_combine.raw(v_y, v_null, w, form)
    axes = tuple(range(1, v_y.ndim))
    std_y, std_cfg = (np.std(v, axis=axes, keepdims=True) for v in (v_y, v_cfg))
    if np.prod(v_y.shape[1:]) < 2 or np.any(std_cfg == 0):
        raise SpecInputError("cfg.rescale", "v_y/v_null", "a guided prediction with std > 0 in every sample",
                             "a constant sample")
    return phi * (v_cfg * (std_y / std_cfg)) + (1.0 - phi) * v_cfg


@implements("cfg.apg")
def projected_guidance(v_y, v_null, w, eta, form="one_plus_w"):
    """v_apg = v_y + w (Δ⊥ + η Δ∥), Δ = v_y − v_∅, Δ∥ = ⟨Δ, v_y⟩/⟨v_y, v_y⟩ v_y per sample (0 where v_y = 0)
    (Sadat et al. 2024); scale form v_y + (s − 1) U, diffusers' default anchor v_∅ + s U."""
    delta = v_y - v_null
    axes = tuple(range(1, v_y.ndim))
    norm2 = np.sum(v_y * v_y, axis=axes, keepdims=True)
    coef = np.sum(delta * v_y, axis=axes, keepdims=True) / np.where(norm2 == 0, 1.0, norm2)
    parallel = coef * v_y
    update = (delta - parallel) + eta * parallel
    if form == "one_plus_w":
        return v_y + w * update
    if form == "scale":
        return v_y + (w - 1.0) * update
    return v_null + w * update


@implements("cfg.dropout")
def drop_labels(y, u, num_classes, p=None, null_label="extra_class", rate="ten_percent"):
    """ỹ = y_∅ where u < p, else y  (03: "e.g., 10%"; 04: "commonly 50%"); p defaults to the `rate` variant."""
    C.class_labels("cfg.dropout", "y", y, len(y), num_classes)
    return np.where(u < (RATES[rate] if p is None else p), null_value(num_classes, null_label), y)


def _guided(clause, f, x, y, t, w, null, form):
    """Two calls of B rows, v_y = f(x, y, t) and v_∅ = f(x, y_∅, t), then the combination."""
    t = np.broadcast_to(t, (len(x),)).astype(np.float64)
    v_y, v_null = (np.asarray(f(x, yy, t), dtype=np.float64) for yy in (y, np.full_like(y, null)))
    if v_y.shape != x.shape or v_null.shape != x.shape:
        raise SpecInputError(clause, "f", f"a predictor returning shape {x.shape}", f"shape {v_y.shape}")
    return cfg_combine.raw(v_y, v_null, w, form)


@implements("cfg.cost")
def guided_velocity(f, x_t, y, t, w, num_classes, form="one_plus_w", null_label="extra_class"):
    """v_cfg = combine(f(x_t, y, t), f(x_t, y_∅, t), w): two evaluations of f per guided step  (00, 03, 04)."""
    C.class_labels("cfg.cost", "y", y, len(x_t), num_classes)
    return _guided("cfg.cost", f, x_t, y, t, w, null_value(num_classes, null_label), form)


@implements("cfg.guided_euler")
def guided_euler_sample(f, x1, y, w, T, num_classes, form="one_plus_w", null_label="extra_class"):
    """x ← x − (1/T) v_cfg(x, y, t_k), t_k = 1 − k/T, k = 0..T−1: sampler.euler with the guided field."""
    C.class_labels("cfg.guided_euler", "y", y, len(x1), num_classes)
    null = null_value(num_classes, null_label)
    return S.euler_sample(lambda x, t: _guided("cfg.guided_euler", f, x, y, t, w, null, form), x1, T)
