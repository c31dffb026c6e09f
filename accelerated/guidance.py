"""Classifier guidance in PyTorch (spec/guidance.py): the functions and arguments of reference/guidance.py.
Any device, dtype-preserving; bfloat16/float16 computed in float32 and rounded once."""
from __future__ import annotations

from genspec.spec.bind import implements

from ._tensors import upcast


@implements("cfg.classifier_guidance")
def classifier_guided_score(score, grad_log_classifier, s, scale="s"):
    """s̃ = ∇log p_t(x_t) + s ∇_{x_t} log p_φ(y | x_t) (Dhariwal & Nichol 2021; 03); scale 'w': the gain is 1 + w."""
    (a, g), dt = upcast(score, grad_log_classifier)
    return (a + (s if scale == "s" else 1.0 + s) * g).to(dt)
