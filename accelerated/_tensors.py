"""Small shared helpers of the accelerated modules: tensor-argument checks and the working dtype."""
from __future__ import annotations

import torch

from genspec.spec import validate as V
from genspec.spec.errors import SpecInputError

HALF = (torch.bfloat16, torch.float16)


def upcast(*xs: torch.Tensor):
    """Half precisions compute in float32; returns (tensors in the working dtype, the output dtype)."""
    dt = xs[0].dtype
    wd = torch.float32 if dt in HALF else dt
    return [x.to(wd) for x in xs], dt


def tensor(clause: str, name: str, x, min_ndim: int = 0, ndim=None) -> torch.Tensor:
    """A finite floating-point torch.Tensor, or SpecInputError naming the clause and argument."""
    if not isinstance(x, torch.Tensor):
        raise SpecInputError(clause, name, "a floating-point torch.Tensor", type(x).__name__)
    return V.array(clause, name, x, min_ndim=min_ndim, ndim=ndim)


def pair(clause: str, names: tuple[str, str], u, w):
    """Two tensors of one shape, each at least 1-D."""
    u, w = tensor(clause, names[0], u, 1), tensor(clause, names[1], w, 1)
    V.same_shape(clause, names, u, w)
    return u, w


def work_dtype(dtype: torch.dtype) -> torch.dtype:
    """The dtype a computation runs in: float64 and float32 as they are, half precisions (and others) in float32."""
    return dtype if dtype in (torch.float64, torch.float32) else torch.float32


def per_sample(t, like: torch.Tensor) -> torch.Tensor:
    """A time (a number or an (n,) tensor, checked by the caller's clause) as an (n,) tensor on like's device in
    like's work dtype (float32 for half precisions: t is not rounded to bfloat16)."""
    t = torch.as_tensor(t, dtype=work_dtype(like.dtype), device=like.device)
    return t.expand(like.shape[0])


def per_row(v, like: torch.Tensor):
    """A number as it is, or one value per sample (an (n,) tensor) in like's dtype, shaped (n, 1, …) to broadcast over
    like's trailing axes."""
    if not isinstance(v, torch.Tensor):
        return v
    v = v.to(device=like.device, dtype=like.dtype)
    return v if v.ndim == 0 else v.reshape(v.shape + (1,) * (like.ndim - 1))


def per_sample_column(t, like: torch.Tensor) -> torch.Tensor:
    """t (a number, or a tensor of shape () or (n,)) as a tensor on like's device, shaped to broadcast over like's
    trailing axes. A number takes like's working dtype (float32 for half precisions): it is not rounded to bfloat16."""
    if not isinstance(t, torch.Tensor):
        t = torch.tensor(float(t), dtype=torch.float32 if like.dtype in HALF else like.dtype, device=like.device)
    return t.reshape(t.shape + (1,) * (like.ndim - t.ndim)) if t.ndim else t


def exact_dtype(device) -> torch.dtype:
    """The dtype of schedules and other per-step coefficients: float64, float32 on MPS (which has no float64)."""
    return torch.float32 if torch.device(device).type == "mps" else torch.float64
