"""Classifier guidance, float64 NumPy reference (spec/guidance.py; 03, Dhariwal & Nichol 2021)."""
from __future__ import annotations

from genspec.spec.bind import implements


@implements("cfg.classifier_guidance")
def classifier_guided_score(score, grad_log_classifier, s, scale="s"):
    """s̃ = ∇log p_t(x_t) + s ∇log p_φ(y | x_t) (Dhariwal & Nichol); scale 'w': the gain is 1 + w.

    score, grad_log_classifier (n, d); s a number, |s| ≤ 1000."""
    return score + (s if scale == "s" else 1.0 + s) * grad_log_classifier
