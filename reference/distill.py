"""Progressive distillation, float64 NumPy reference (spec/distill.py; 03's table: "Student learns to combine 2 teacher
steps into 1").

Two teacher steps of size Δ from (x_t, t):  x' = x_t − Δ f(x_t, t),  x'' = x' − Δ f(x', t − Δ)  (Euler on rf; DDIM is
the same step on rf). The student's one step of size 2Δ must land on x''.
"""
from __future__ import annotations

import numpy as np

from genspec.spec.bind import implements
from genspec.spec.errors import SpecInputError

PROGRESSIVE = "distill.progressive"


def _teacher_step(f, x, t, t_next, teacher_step):
    """One teacher step from t to t_next < t on rf. euler: x − (t − t') f; ddim: (1 − t') x̂ + t' ẑ with
    x̂ = x − t f, ẑ = x + (1 − t) f (the x and z the velocity f implies at (x, t))."""
    v = np.asarray(f(x, t), dtype=np.float64)
    if v.shape != x.shape:
        raise SpecInputError(PROGRESSIVE, "f", f"a callable returning x's shape {x.shape}", f"shape {v.shape}")
    if teacher_step == "ddim":
        x_hat, z_hat = x - t[:, None] * v, x + (1.0 - t)[:, None] * v
        return (1.0 - t_next)[:, None] * x_hat + t_next[:, None] * z_hat
    return x - (t - t_next)[:, None] * v


@implements(PROGRESSIVE)
def distillation_target(f, x_t, t, dt, teacher_step="euler", student_target="velocity"):
    """The progressive-distillation target at (x_t, t) for a student step of 2Δ = 2 dt
    (03's table; Salimans & Ho 2022).

    x'' = two teacher steps from t to t − 2Δ. student_target "velocity": ṽ = (x_t − x'')/(2Δ), the velocity whose one
    Euler step of 2Δ lands on x''; "state": x'' itself; "x": x̃ = (t x'' − (t − 2Δ) x_t)/(2Δ), the clean-data prediction
    whose DDIM step lands on x'' (Salimans & Ho's target, rf path). f(x, t): x (n, d), t (n,); x_t (n, d); t a number
    or (n,), t ≥ 2Δ.
    """
    t = np.broadcast_to(t, (len(x_t),)).astype(np.float64)
    if np.any(t - 2 * dt < -1e-12):
        raise SpecInputError(PROGRESSIVE, "t", f"≥ 2 dt = {2 * dt:g} (two teacher steps must stay in [0, 1])",
                             f"min t = {t.min():g}")
    t_mid, t_end = t - dt, np.maximum(t - 2 * dt, 0.0)
    x_end = _teacher_step(f, _teacher_step(f, x_t, t, t_mid, teacher_step), t_mid, t_end, teacher_step)
    if student_target == "state":
        return x_end
    if student_target == "x":
        return (t[:, None] * x_end - t_end[:, None] * x_t) / (2 * dt)
    return (x_t - x_end) / (2 * dt)
