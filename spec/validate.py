"""Input validation shared by reference (NumPy) and accelerated (torch): every failure is a SpecInputError
naming the clause, the argument and what was expected."""
from __future__ import annotations

import math
import sys
from typing import Any

import numpy as np

from .errors import SpecInputError


def _is_torch(x) -> bool:
    """A torch tensor (without importing torch: if torch is not loaded, x cannot be one). isinstance, not the type's
    module name, so that torch.compile's traced tensors count too."""
    torch = sys.modules.get("torch")
    return torch is not None and isinstance(x, torch.Tensor)


def array(clause: str, name: str, x, *, ndim: int | tuple[int, ...] | None = None, finite: bool = True,
          min_ndim: int | None = None):
    """Check x is a real array (NumPy, torch, or a nested sequence for NumPy) of the right rank.

    Returns a float64 NumPy array for NumPy/sequence input, the tensor itself for torch input.
    """
    if _is_torch(x):
        if not (x.is_floating_point()):
            raise SpecInputError(clause, name, "a floating-point tensor", f"dtype {x.dtype}")
        a = x
    else:
        if isinstance(x, (str, bytes)) or x is None or callable(x):
            raise SpecInputError(clause, name, "a real array", f"{type(x).__name__}")
        try:
            a = np.asarray(x, dtype=np.float64)
        except (TypeError, ValueError):
            raise SpecInputError(clause, name, "a real array", f"{type(x).__name__}") from None
    nd = a.ndim
    if ndim is not None:
        allowed = (ndim,) if isinstance(ndim, int) else tuple(ndim)
        if not any(nd == k for k in allowed):      # not `nd in allowed`: torch.compile's tracer mis-evaluates it
            raise SpecInputError(clause, name, f"an array with {' or '.join(map(str, allowed))} dimensions",
                                 f"shape {tuple(a.shape)}")
    if min_ndim is not None and nd < min_ndim:
        raise SpecInputError(clause, name, f"an array with at least {min_ndim} dimensions", f"shape {tuple(a.shape)}")
    if finite:
        ok = bool(a.isfinite().all()) if _is_torch(a) else bool(np.isfinite(a).all())
        if not ok:
            raise SpecInputError(clause, name, "finite (no nan or inf)", "non-finite entries")
    return a


def interval(clause: str, name: str, x, low=-math.inf, high=math.inf, *, low_closed=True, high_closed=True,
             what: str | None = None):
    """Check every entry of x lies in the interval; NaN always fails."""
    bad_lo = (x < low) if low_closed else (x <= low)
    bad_hi = (x > high) if high_closed else (x >= high)
    nan = (x != x)
    if bool((bad_lo | bad_hi | nan).any()):
        lb = "[" if low_closed else "("
        rb = "]" if high_closed else ")"
        desc = what or f"in {lb}{low:g}, {high:g}{rb}"
        n = x.numel() if _is_torch(x) else np.size(x)
        lo = float(x.min()) if n else float("nan")
        hi = float(x.max()) if n else float("nan")
        raise SpecInputError(clause, name, desc, f"values in [{lo:g}, {hi:g}]")
    return x


def same_shape(clause: str, names: tuple[str, ...], *arrays):
    shapes = [tuple(a.shape) for a in arrays]
    if any(s != shapes[0] for s in shapes):
        raise SpecInputError(clause, "/".join(names), "arrays of one shape",
                             ", ".join(f"{n}: {s}" for n, s in zip(names, shapes, strict=True)))


def broadcastable(clause: str, names: tuple[str, ...], *arrays):
    try:
        return np.broadcast_shapes(*[tuple(a.shape) for a in arrays])
    except ValueError:
        raise SpecInputError(clause, "/".join(names), "broadcastable shapes",
                             ", ".join(f"{n}: {tuple(a.shape)}" for n, a in zip(names, arrays, strict=True))) from None


def scalar(clause: str, name: str, v, low=-math.inf, high=math.inf, *, low_closed=True, high_closed=True,
           integer: bool = False) -> float:
    if isinstance(v, np.ndarray) and v.ndim == 0 and v.dtype.kind in "iuf":
        v = v.item()                                   # a 0-d array is its number
    if isinstance(v, bool) or not isinstance(v, (int, float, np.integer, np.floating)):
        tv: Any = v  # a torch scalar tensor, when _is_torch
        if _is_torch(tv) and tv.numel() == 1:
            v = tv.item()
        else:
            raise SpecInputError(clause, name, "an integer" if integer else "a real number", repr(v)[:60])
    if not math.isfinite(float(v)):
        raise SpecInputError(clause, name, "finite", repr(v))
    if integer and int(v) != v:
        raise SpecInputError(clause, name, "an integer", repr(v))
    v = int(v) if integer else float(v)
    lo_ok = v >= low if low_closed else v > low
    hi_ok = v <= high if high_closed else v < high
    if not (lo_ok and hi_ok):
        lb = "[" if low_closed else "("
        rb = "]" if high_closed else ")"
        raise SpecInputError(clause, name, f"in {lb}{low:g}, {high:g}{rb}", repr(v))
    return v


def choice(clause: str, name: str, v, options) -> str:
    """One of the named options: a string (an array is an input error, not an ambiguous comparison)."""
    if not isinstance(v, str) or v not in options:
        raise SpecInputError(clause, name, f"one of {list(options)}", repr(v)[:60])
    return v


def integers(clause: str, name: str, v, ndim: int | None = 1):
    """An integer array of the given rank: a torch integer tensor (kept on its device, as int64), else anything NumPy
    reads as integers (returned as int64). Floats, bools and strings are input errors."""
    if _is_torch(v):
        if v.is_floating_point() or v.is_complex() or str(v.dtype) == "torch.bool":
            raise SpecInputError(clause, name, "an integer tensor", f"dtype {v.dtype}")
        a = v.long()
    else:
        if isinstance(v, (str, bytes)) or v is None or callable(v):
            raise SpecInputError(clause, name, "an integer array", type(v).__name__)
        a = np.asarray(v)
        if a.dtype.kind not in "iu" and not (a.size == 0 and a.dtype.kind == "f"):
            raise SpecInputError(clause, name, "an integer array", f"dtype {a.dtype}")
        a = a.astype(np.int64)
    if ndim is not None and a.ndim != ndim:
        raise SpecInputError(clause, name, f"an array with {ndim} dimensions", f"shape {tuple(a.shape)}")
    return a



def count(clause: str, name: str, v, low=1, high=2**31 - 1) -> int:
    """An integer in [low, high] (a one-element tensor is read; NaN and ±inf are input errors, not a ValueError)."""
    if _is_torch(v) and v.numel() == 1:
        v = v.item()
    if isinstance(v, float) and not math.isfinite(v):
        raise SpecInputError(clause, name, "an integer", repr(v))
    return int(scalar(clause, name, v, low, high, integer=True))


def callable_(clause: str, name: str, f, what: str = "a callable"):
    if not callable(f):
        raise SpecInputError(clause, name, what, type(f).__name__)
    return f


def nonempty(clause: str, name: str, a):
    """A batch with at least one sample along its first axis (a mean over nothing is not a loss)."""
    if (a.shape[0] if a.ndim else 1) == 0:
        raise SpecInputError(clause, name, "a non-empty batch", "0 samples")
    return a


def weight_tuple(clause: str, name: str, w, optional: bool = True, names=("w_q", "w_k", "w_v", "w_o")):
    """One attention stage's weights (w_q, w_k, w_v, w_o); None where the stage may be skipped (``optional``)."""
    if (w is not None or not optional) and (not isinstance(w, (tuple, list)) or len(w) != len(names)):
        raise SpecInputError(clause, name, f"a tuple ({', '.join(names)})" + (" or None" if optional else ""),
                             type(w).__name__)
    return w


def heads(clause: str, H: int, *widths: int) -> int:
    """A head count that divides every projected width (each head takes width/H of it)."""
    if any(w % H for w in widths):
        raise SpecInputError(clause, "heads", f"a divisor of the projected widths {widths}", str(H))
    return H
