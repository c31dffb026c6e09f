"""Progressive distillation in torch (spec/distill.py; 03): the target of a student step that equals two teacher
Euler steps. Any device, batched, dtype-preserving; the teacher runs without gradient."""
from __future__ import annotations

import torch

from spec import validate as V
from spec.errors import SpecInputError

from . import optimal as O

PROGRESSIVE = "distill.progressive"


@torch.no_grad()
def distillation_target(f, x_t, t, dt):
    """ṽ = (x_t − x'')/(2Δ) with x'' two teacher Euler steps of Δ = dt from (x_t, t): x' = x_t − Δ f(x_t, t),
    x'' = x' − Δ f(x', t − Δ). A student velocity equal to ṽ takes one step of 2Δ onto x''  (03's table)."""
    c = PROGRESSIVE
    if not callable(f):
        raise SpecInputError(c, "f", "a callable f(x, t)", type(f).__name__)
    x_t = V.array(c, "x_t", x_t, ndim=2)
    n = x_t.shape[0]
    t = O._per_sample(c, "t", t, n, x_t, x_t.dtype, 0.0, 1.0)
    dt = V.scalar(c, "dt", dt, 0.0, low_closed=False)
    if bool((t - 2 * dt < -1e-12).any()):
        raise SpecInputError(c, "t", f"≥ 2 dt = {2 * dt:g} (two teacher steps must stay in [0, 1])",
                             f"min t = {float(t.min()):g}")
    work = torch.float32 if x_t.dtype in (torch.bfloat16, torch.float16) else x_t.dtype
    x = x_t.to(work)
    t_mid = t - dt
    v1 = f(x_t, t)
    if not isinstance(v1, torch.Tensor) or v1.shape != x_t.shape:
        raise SpecInputError(c, "f", f"a callable returning a tensor of x's shape {tuple(x_t.shape)}",
                             f"{type(v1).__name__} {tuple(getattr(v1, 'shape', ()))}")
    x_mid = x - dt * v1.to(work)
    v2 = f(x_mid.to(x_t.dtype), t_mid)
    # (x_t − x'')/(2Δ) = (v1 + v2)/2 exactly in real arithmetic; this form has no cancellation at small Δ
    return (0.5 * (v1.to(work) + v2.to(work))).to(x_t.dtype)
