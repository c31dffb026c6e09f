"""Progressive distillation in torch (spec/distill.py; 03): the target of a student step that equals two teacher
steps. Any device, batched, dtype-preserving (half precisions computed in float32); the teacher runs without
gradient."""
from __future__ import annotations

import torch

from genspec.spec.bind import implements
from genspec.spec.errors import SpecInputError

from ._tensors import per_sample, work_dtype

PROGRESSIVE = "distill.progressive"


def _velocity(f, x, t):
    v = f(x, t)
    if not isinstance(v, torch.Tensor) or v.shape != x.shape:
        raise SpecInputError(PROGRESSIVE, "f", f"a callable returning a tensor of x's shape {tuple(x.shape)}",
                             f"{type(v).__name__} {tuple(getattr(v, 'shape', ()))}")
    return v


@implements(PROGRESSIVE)
@torch.no_grad()
def distillation_target(f, x_t, t, dt, teacher_step="euler", student_target="velocity"):
    """x' = x_t − Δ f(x_t, t), x'' = x' − Δ f(x', t − Δ) (Δ = dt; 03's table), and the student's target:
    velocity ṽ = (x_t − x'')/(2Δ), state x'', x x̃ = (t x'' − (t − 2Δ) x_t)/(2Δ).

    Both teacher steps are x − (t − t') f on the rf path (euler as written; ddim by the spec's sympy proof), so
    ṽ = (f(x_t, t) + f(x', t − Δ))/2 and x̃ = x_t − t ṽ exactly: computed so, without the cancellation of
    (x_t − x'')/(2Δ) at small Δ."""
    t = per_sample(t, x_t)
    if bool((t - 2 * dt < -1e-12).any()):
        raise SpecInputError(PROGRESSIVE, "t", f"≥ 2 dt = {2 * dt:g} (two teacher steps must stay in [0, 1])",
                             f"min t = {float(t.min()):g}")
    wd = work_dtype(x_t.dtype)
    v1 = _velocity(f, x_t, t).to(wd)
    v2 = _velocity(f, (x_t.to(wd) - dt * v1).to(x_t.dtype), t - dt).to(wd)
    v = 0.5 * (v1 + v2)
    out = {"velocity": v, "state": x_t.to(wd) - 2 * dt * v, "x": x_t.to(wd) - t.to(wd)[:, None] * v}[student_target]
    return out.to(x_t.dtype)
