"""Classifier-free guidance, float64 NumPy reference (spec/cfg.py; 00, 01, 03, 04).

The weight w enters in one of three named forms (convention `form`, spec/cfg.py): one_plus_w (1 + w) v_y − w v_∅
(00, the default), conditional_offset v_y + w (v_y − v_∅) (03), scale v_∅ + s (v_y − v_∅) (04), s = 1 + w.
Each form is evaluated as written. The reference evaluates the network twice per guided step (two calls of B).
"""
from __future__ import annotations

import numpy as np

from reference import cond as C
from reference import optimal as O
from reference import sampler as S
from spec import validate as V
from spec.cfg import OFF, UNCONDITIONAL, W_MAX  # noqa: F401  OFF/UNCONDITIONAL: each form's special weights
from spec.errors import SpecInputError

FORMS = ("one_plus_w", "conditional_offset", "scale")
RATES = {"ten_percent": 0.1, "half": 0.5}


def guidance_weight(w, from_form, to_form):
    """The same guidance strength in another form: s = 1 + w (scale ↔ one_plus_w / conditional_offset).

    >>> guidance_weight(7.5, "scale", "one_plus_w")   # 03's SDXL-like "w=7.5"
    6.5
    """
    C.choice("cfg.combine", "from_form", from_form, FORMS)
    C.choice("cfg.combine", "to_form", to_form, FORMS)
    one_plus_w = w - OFF[from_form]           # the default form's w
    return one_plus_w + OFF[to_form]


def _pair(clause, names, a, b):
    a = V.array(clause, names[0], a, min_ndim=1)
    b = V.array(clause, names[1], b, min_ndim=1)
    V.same_shape(clause, names, a, b)
    return a, b


def cfg_combine(v_y, v_null, w, form="one_plus_w"):
    """v_cfg = (1 + w) v_y − w v_∅ (00) | v_y + w (v_y − v_∅) (03) | v_∅ + s (v_y − v_∅) (04), s = 1 + w.

    Each form is evaluated as written; the scale form's weight arrives as s (the argument w holds s).
    """
    c = "cfg.combine"
    C.choice(c, "form", form, FORMS)
    v_y, v_null = _pair(c, ("v_y", "v_null"), v_y, v_null)
    w = V.scalar(c, "w", w, -W_MAX, W_MAX)
    if form == "one_plus_w":
        return (1.0 + w) * v_y - w * v_null             # 00
    if form == "conditional_offset":
        return v_y + w * (v_y - v_null)                 # 03
    s = w
    return v_null + s * (v_y - v_null)                  # 04


def guided_score(score_null, grad_log_p_y, w, form="one_plus_w"):
    """s_cfg = ∇ log p(x_t) + (1 + w) ∇ log p(y | x_t)  (03, by Bayes); scale form: s_∅ + s ∇ log p(y | x_t)."""
    c = "cfg.score"
    C.choice(c, "form", form, FORMS)
    score_null, g = _pair(c, ("score_null", "grad_log_p_y"), score_null, grad_log_p_y)
    w = V.scalar(c, "w", w, -W_MAX, W_MAX)
    gain = w if form == "scale" else 1.0 + w
    return score_null + gain * g


def guided_prediction(x_t, y, t, w, weights, means, covs, labels, target="velocity", form="one_plus_w"):
    """The guided oracle in any target: combine(E[target | x_t, y], E[target | x_t], w)  (cfg.change_of_target)."""
    c = "cfg.change_of_target"
    C.choice(c, "form", form, FORMS)
    w = V.scalar(c, "w", w, -W_MAX, W_MAX)
    _, mu, _, _, prior = C.class_mixture(c, weights, means, covs, labels)
    n = O.points(c, x_t, mu.shape[1]).shape[0]
    y = C.class_labels(c, "y", y, n, prior.shape[0])               # real classes only: y_∅ is added here
    null = np.full(n, C.null_value(prior.shape[0]))
    p_y = C.conditional_prediction(x_t, y, t, weights, means, covs, labels, target, clause=c)
    p_null = C.conditional_prediction(x_t, null, t, weights, means, covs, labels, target, clause=c)
    return cfg_combine(p_y, p_null, w, form)


def drop_labels(y, u, num_classes, p=None, null_label="extra_class", rate="ten_percent"):
    """ỹ = y_∅ where u < p, else y  (03: "e.g., 10%"; 04: "commonly 50%"); p defaults to the `rate` variant."""
    c = "cfg.dropout"
    C.choice(c, "null_label", null_label, C.NULL_LABELS)
    C.choice(c, "rate", rate, tuple(RATES))
    num_classes = C.count(c, "num_classes", num_classes)
    y = C.integers(c, "y", y)
    u = V.array(c, "u", u, ndim=1)
    if u.shape != y.shape:
        raise SpecInputError(c, "u", f"one uniform per label, shape {y.shape}", f"shape {u.shape}")
    V.interval(c, "u", u, 0.0, 1.0, high_closed=False)
    C.class_labels(c, "y", y, y.shape[0], num_classes)
    p = RATES[rate] if p is None else V.scalar(c, "p", p, 0.0, 1.0)
    return np.where(u < p, C.null_value(num_classes, null_label), y)


def _network_call(clause, f, x, y, t, shape):
    out = np.asarray(f(x, y, t), dtype=np.float64)
    if out.shape != shape:
        raise SpecInputError(clause, "f", f"a predictor returning shape {shape}", f"shape {out.shape}")
    return out


def _guided_inputs(clause, f, x_t, y, w, num_classes, form, null_label):
    if not callable(f):
        raise SpecInputError(clause, "f", "a callable f(x_t, y, t)", type(f).__name__)
    C.choice(clause, "form", form, FORMS)
    C.choice(clause, "null_label", null_label, C.NULL_LABELS)
    x_t = V.array(clause, "x_t" if clause == "cfg.cost" else "x1", x_t, ndim=2)
    w = V.scalar(clause, "w", w, -W_MAX, W_MAX)
    num_classes = C.count(clause, "num_classes", num_classes)
    y = C.class_labels(clause, "y", y, x_t.shape[0], num_classes)
    return x_t, y, w, num_classes


def _guided(f, x_t, y, t, w, null, form, clause):
    """Two calls of B rows: v_y = f(x_t, y, t), v_∅ = f(x_t, y_∅, t); then the combination."""
    v_y = _network_call(clause, f, x_t, y, t, x_t.shape)
    v_null = _network_call(clause, f, x_t, np.full_like(y, null), t, x_t.shape)
    return cfg_combine(v_y, v_null, w, form)


def guided_velocity(f, x_t, y, t, w, num_classes, form="one_plus_w", null_label="extra_class"):
    """v_cfg = combine(f(x_t, y, t), f(x_t, y_∅, t), w): two evaluations of f per step  (00, 03, 04)."""
    c = "cfg.cost"
    x_t, y, w, num_classes = _guided_inputs(c, f, x_t, y, w, num_classes, form, null_label)
    t = O.per_sample(c, "t", t, x_t.shape[0], 0.0, 1.0)
    return _guided(f, x_t, y, t, w, C.null_value(num_classes, null_label), form, c)


def guided_euler_sample(f, x1, y, w, T, num_classes, form="one_plus_w", null_label="extra_class"):
    """x ← x − (1/T) v_cfg(x, y, t_k) on t_k = 1 − k/T, k = 0..T−1, from x1 at t = 1 to t = 0
    (sampler.euler with CFG)."""
    c = "cfg.guided_euler"
    x, y, w, num_classes = _guided_inputs(c, f, x1, y, w, num_classes, form, null_label)
    C.count(c, "T", T)
    null = C.null_value(num_classes, null_label)
    return S.euler_sample(lambda x_t, t: _guided(f, x_t, y, t, w, null, form, c), x, T)
