"""Classifier guidance, float64 NumPy reference (spec/guidance.py; 03, Dhariwal & Nichol 2021)."""
from __future__ import annotations

from spec import validate as V

from .cond import choice

SCALES = ("s", "w")


def classifier_guided_score(score, grad_log_classifier, s, scale="s"):
    """s̃ = ∇log p_t(x_t) + s ∇log p_φ(y | x_t) (Dhariwal & Nichol); scale 'w': the gain is 1 + w."""
    c = "cfg.classifier_guidance"
    choice(c, "scale", scale, SCALES)
    score = V.array(c, "score", score, ndim=2)
    g = V.array(c, "grad_log_classifier", grad_log_classifier, ndim=2)
    V.same_shape(c, ("score", "grad_log_classifier"), score, g)
    s = V.scalar(c, "s", s, -1e3, 1e3)
    gain = s if scale == "s" else 1.0 + s
    return score + gain * g
