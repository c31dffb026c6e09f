"""Euler sampling in torch (spec/sampler.py): any velocity callable, batched, on x1's device and dtype.

    x_{k+1} = x_k − (1/T) f(x_k, t_k),   t_k = 1 − k/T,  k = 0, …, T − 1   (00, 01)

f(x, t) receives x of x1's shape and dtype and t of shape (n,) (every entry t_k), and returns x's shape; it is
called exactly T times. Differentiable (wrap the call in torch.no_grad() for inference). For bfloat16/float16
the state is accumulated in float32 and f sees it rounded to x1's dtype.
"""
from __future__ import annotations

import sys

import torch

from genspec.spec.bind import implements
from genspec.spec.errors import SpecInputError
from genspec.spec.sampler import time_grid


def _sole_owner(x: torch.Tensor, refs_here: int) -> bool:
    """True when nothing but this sampler holds x or its memory (no Python reference kept by f, no view, no NumPy
    alias), so x may be updated in place without changing anything f was given. Unknown → False."""
    try:
        storage_refs = torch._C._storage_Use_Count(x.untyped_storage()._cdata)
    except (AttributeError, RuntimeError):          # private API: without it, never in place
        return False
    return sys.getrefcount(x) <= refs_here and storage_refs <= 2   # 2: x itself + the temporary storage object


@implements("sampler.euler")
def euler_sample(f, x1, T, time="data_at_0", grid="uniform"):
    """x ← x − Δ_k f(x, t_k) from t_0 = 1 to t = 0 (00: "x ← x − (1/T) f_θ(x_t, t)"; Δ_k = 1/T on the uniform grid).

    time="reversed_time" (03) evaluates f at 1 − τ_k, τ_k = 1 − t_k, and adds Δ_k (−f): the same iterates;
    time="noise_at_0" (02) evaluates f at s_k = 1 − t_k and adds Δ_k f. Each t_k is one value broadcast to (n,) (a
    read-only stride-0 view: no allocation). The state is updated in place, x.add_(v, α), whenever that is invisible:
    autograd is not recording and f kept no reference to, view of or alias of x (then step k's state is a new tensor,
    as an out-of-place update would give). Same iterates either way.
    """
    c = "sampler.euler"
    dtype = x1.dtype
    work = torch.float32 if dtype in (torch.bfloat16, torch.float16) else dtype
    x = x1.to(work)
    n = x.shape[0]
    shape = x.shape
    t_k, dt_k = time_grid(T, grid)
    if time == "noise_at_0":                         # 02's clock s = 1 − t, and f_fm = −f
        t_k = [k / T for k in range(T)] if grid == "uniform" else [1.0 - t for t in t_k]
    elif time == "reversed_time":
        t_k = [1.0 - k / T for k in range(T)] if grid == "uniform" else [1.0 - (1.0 - t) for t in t_k]
    sign = 1.0 if time == "noise_at_0" else -1.0
    # every t_k once, in x1's dtype: step k passes a stride-0 view of entry k (no allocation in the loop)
    ts = torch.tensor(t_k, dtype=dtype, device=x.device)
    round_trip = work != dtype                       # only bfloat16/float16: f sees the float32 state rounded
    owned = False                                    # x is x1 (or f's) until the first out-of-place update
    for k in range(T):
        v = f(x.to(dtype) if round_trip else x, ts[k].expand(n))
        if not isinstance(v, torch.Tensor) or v.shape != shape:
            raise SpecInputError(c, "f", f"a callable returning a tensor of x's shape {tuple(shape)}",
                                 f"{type(v).__name__} {tuple(getattr(v, 'shape', ()))}")
        if round_trip or v.dtype != work:
            v = v.to(work)
        if owned and not (torch.is_grad_enabled() and (x.requires_grad or v.requires_grad)) and _sole_owner(x, 3):
            x.add_(v, alpha=sign * dt_k[k])          # x − Δ_k v in one kernel, bit-identical to torch.add
        else:
            x = torch.add(x, v, alpha=sign * dt_k[k])
            owned = True
        del v                                        # freed before f's next call allocates (the allocator reuses it)
    return x.to(dtype)
