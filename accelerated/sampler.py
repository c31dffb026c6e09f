"""Euler sampling in torch (spec/sampler.py): any velocity callable, batched, on x1's device and dtype.

    x_{k+1} = x_k − (1/T) f(x_k, t_k),   t_k = 1 − k/T,  k = 0, …, T − 1   (00, 01)

f(x, t) receives x of x1's shape and dtype and t of shape (n,) (every entry t_k), and returns x's shape; it is
called exactly T times. Differentiable (wrap the call in torch.no_grad() for inference). For bfloat16/float16
the state is accumulated in float32 and f sees it rounded to x1's dtype.
"""
from __future__ import annotations

import torch

from spec import validate as V
from spec.errors import SpecInputError

EULER = "sampler.euler"


MAX_STEPS = 10**7


def steps(clause, T):
    """T: an integer in [1, 10^7] (the cap keeps every call finite); bool, NaN and inf raise SpecInputError."""
    v = V.scalar(clause, "T", T, 1, MAX_STEPS)
    if int(v) != v:
        raise SpecInputError(clause, "T", "an integer", repr(T)[:60])
    return int(v)


def euler_sample(f, x1: torch.Tensor, T: int) -> torch.Tensor:
    """x ← x − (1/T) f(x, t) for t = 1, 1 − 1/T, …, 1/T (00: "x ← x − (1/T) f_θ(x_t, t)"); returns x at t = 0."""
    c = EULER
    if not callable(f):
        raise SpecInputError(c, "f", "a callable f(x, t)", type(f).__name__)
    x1 = V.array(c, "x1", x1, min_ndim=2)
    T = steps(c, T)
    dtype = x1.dtype
    work = torch.float32 if dtype in (torch.bfloat16, torch.float16) else dtype
    x = x1.to(work)
    n = x.shape[0]
    for k in range(T):
        t = torch.full((n,), (T - k) / T, dtype=dtype, device=x.device)
        v = f(x.to(dtype), t)
        if not isinstance(v, torch.Tensor) or v.shape != x.shape:
            raise SpecInputError(c, "f", f"a callable returning a tensor of x's shape {tuple(x.shape)}",
                                 f"{type(v).__name__} {tuple(getattr(v, 'shape', ()))}")
        x = torch.add(x, v.to(work), alpha=-1.0 / T)      # x − (1/T) v in one kernel, bit-identical
    return x.to(dtype)
