"""Classifier guidance in PyTorch (spec/guidance.py): the default convention (Dhariwal & Nichol's scale s).
Any device, dtype-preserving; bfloat16/float16 computed in float32 and rounded once."""
from __future__ import annotations

import torch

from spec import validate as V
from spec.errors import SpecInputError

from ._tensors import upcast
from .cond import tensor as _tensor


def classifier_guided_score(score: torch.Tensor, grad_log_classifier: torch.Tensor, s: float) -> torch.Tensor:
    """s̃ = ∇log p_t(x_t) + s ∇_{x_t} log p_φ(y | x_t) (Dhariwal & Nichol 2021; 03)."""
    c = "cfg.classifier_guidance"
    score = _tensor(c, "score", score, ndim=2)
    g = _tensor(c, "grad_log_classifier", grad_log_classifier, ndim=2)
    if score.shape != g.shape:
        raise SpecInputError(c, "score/grad_log_classifier", "arrays of one shape",
                             f"score: {tuple(score.shape)}, grad_log_classifier: {tuple(g.shape)}")
    s = V.scalar(c, "s", s, -1e3, 1e3)
    (a, b), dt = upcast(score, g)
    return (a + s * b).to(dt)
