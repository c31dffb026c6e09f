"""Classifier-free guidance in PyTorch (spec/cfg.py): same functions, names and arguments as reference/cfg.py.

Implements the spec's default conventions: form one_plus_w, v_cfg = (1 + w) v_y − w v_∅ (00), and the null
label y_∅ = C (extra_class). A guided step is ONE call of the network on 2B rows ([x; x], [y; y_∅], [t; t]),
split into (v_y, v_∅). Any device, dtype-preserving; bfloat16/float16 are combined in float32 and rounded once.
"""
from __future__ import annotations

import torch

from accelerated import cond as C
from accelerated import optimal as O
from accelerated import sampler as S
from spec import validate as V
from spec.cfg import W_MAX
from spec.errors import SpecInputError

RATE = 0.1  # the spec's default rate convention, ten_percent (03: "e.g., 10%"); 04's "commonly 50%" is 0.5


def _weight(clause, w):
    return V.scalar(clause, "w", w, -W_MAX, W_MAX)


def _pair(clause, names, a, b):
    for n, v in zip(names, (a, b), strict=True):
        if not isinstance(v, torch.Tensor):
            raise SpecInputError(clause, n, "a floating-point torch.Tensor", type(v).__name__)
    a, b = V.array(clause, names[0], a, min_ndim=1), V.array(clause, names[1], b, min_ndim=1)
    V.same_shape(clause, names, a, b)
    return a, b


def _combine(v_y, v_null, w):
    """(1 + w) v_y − w v_∅ in the work dtype, rounded once to the input dtype."""
    dt = v_y.dtype
    wd = O._work_dtype(dt)
    return ((1.0 + w) * v_y.to(wd) - w * v_null.to(wd)).to(dt)


def cfg_combine(v_y, v_null, w):
    """v_cfg = (1 + w) v_y − w v_∅  (00; 03 writes it v_y + w (v_y − v_∅)). Off at w = 0, v_∅ at w = −1."""
    c = "cfg.combine"
    v_y, v_null = _pair(c, ("v_y", "v_null"), v_y, v_null)
    return _combine(v_y, v_null, _weight(c, w))


def guided_score(score_null, grad_log_p_y, w):
    """s_cfg = ∇ log p(x_t) + (1 + w) ∇ log p(y | x_t)  (03, by Bayes' rule)."""
    c = "cfg.score"
    s, g = _pair(c, ("score_null", "grad_log_p_y"), score_null, grad_log_p_y)
    w = _weight(c, w)
    wd = O._work_dtype(s.dtype)
    return (s.to(wd) + (1.0 + w) * g.to(wd)).to(s.dtype)


def guided_prediction(x_t, y, t, w, weights, means, covs, labels, target="velocity"):
    """combine(E[target | x_t, y], E[target | x_t], w): the guided oracle in any target (cfg.change_of_target)."""
    c = "cfg.change_of_target"
    w = _weight(c, w)
    x_t, _, _, prior = C.class_mixture(c, x_t, weights, means, covs, labels)
    n, num_classes = x_t.shape[0], prior.shape[0]
    y = C.class_labels(c, "y", y, n, num_classes).to(x_t.device)          # real classes: y_∅ is added here
    y_null = torch.full_like(y, C.null_value(num_classes))
    t = C.per_sample_t(c, t, x_t)
    both = C.conditional_prediction(torch.cat([x_t, x_t]), torch.cat([y, y_null]), torch.cat([t, t]),
                                    weights, means, covs, labels, target, clause=c)
    return _combine(both[:n], both[n:], w)


def drop_labels(y, u, num_classes, p=None):
    """ỹ = y_∅ = C where u < p, else y  (03: "e.g., 10%"; 04: "commonly 50%"); p defaults to 0.1."""
    c = "cfg.dropout"
    num_classes = C.count(c, "num_classes", num_classes)
    y = C.integers(c, "y", y)
    y = C.class_labels(c, "y", y, y.shape[0], num_classes)
    if not isinstance(u, torch.Tensor):
        raise SpecInputError(c, "u", "a floating-point torch.Tensor", type(u).__name__)
    u = V.array(c, "u", u, ndim=1)
    if u.shape != y.shape:
        raise SpecInputError(c, "u", f"one uniform per label, shape {tuple(y.shape)}", f"shape {tuple(u.shape)}")
    V.interval(c, "u", u, 0.0, 1.0, high_closed=False)
    p = RATE if p is None else V.scalar(c, "p", p, 0.0, 1.0)
    # compare in float64 (float32 on devices without it): p is never rounded to u's dtype
    exact = torch.float32 if u.device.type == "mps" else torch.float64
    return torch.where(u.to(exact) < p, torch.full_like(y, C.null_value(num_classes)), y)


def _guided_inputs(clause, f, x, y, w, num_classes, x_name):
    if not callable(f):
        raise SpecInputError(clause, "f", "a callable f(x_t, y, t)", type(f).__name__)
    if not isinstance(x, torch.Tensor):
        raise SpecInputError(clause, x_name, "a floating-point torch.Tensor", type(x).__name__)
    x = V.array(clause, x_name, x, ndim=2)
    w = _weight(clause, w)
    num_classes = C.count(clause, "num_classes", num_classes)
    y = C.class_labels(clause, "y", y, x.shape[0], num_classes).to(x.device)
    return x, y, w, num_classes


def _batched_guided(f, x, y, y_null, t, w):
    """One call of 2B rows: f([x; x], [y; y_∅], [t; t]) split into (v_y, v_∅), then the combination."""
    n = x.shape[0]
    out = f(torch.cat([x, x]), torch.cat([y, y_null]), torch.cat([t, t]))
    return _combine(out[:n], out[n:], w)


def guided_velocity(f, x_t, y, t, w, num_classes):
    """v_cfg = (1 + w) f(x_t, y, t) − w f(x_t, y_∅, t), evaluated as ONE batched call of 2B rows  (03)."""
    c = "cfg.cost"
    x_t, y, w, num_classes = _guided_inputs(c, f, x_t, y, w, num_classes, "x_t")
    t = C.per_sample_t(c, t, x_t)                      # in the work dtype: t is not rounded to bfloat16
    out = _batched_guided(f, x_t, y, torch.full_like(y, C.null_value(num_classes)), t, w)
    if out.shape != x_t.shape:
        raise SpecInputError(c, "f", f"a predictor returning shape {tuple(x_t.shape)}", f"shape {tuple(out.shape)}")
    return out


def guided_euler_sample(f, x1, y, w, T, num_classes):
    """x ← x − (1/T) v_cfg(x, y, t_k), t_k = 1 − k/T, k = 0..T−1: T batched calls of 2B rows (2T·B rows)."""
    c = "cfg.guided_euler"
    x, y, w, num_classes = _guided_inputs(c, f, x1, y, w, num_classes, "x1")
    C.count(c, "T", T)
    y_null = torch.full_like(y, C.null_value(num_classes))
    return S.euler_sample(lambda x_t, t: _batched_guided(f, x_t, y, y_null, t, w), x, T)
