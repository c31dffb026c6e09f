"""One declaration per clause: a function bound to its clause has its arguments checked against the clause's symbols.

    @implements("cfg.combine")
    def cfg_combine(v_y, v_null, w, form="one_plus_w"):
        '''v_cfg = (1 + w) v_y − w v_∅ ...'''
        return (1.0 + w) * v_y - w * v_null

Before the body runs, every argument named after one of the clause's input symbols is checked against its
:class:`~spec.schema.Domain` and converted, and every argument named after one of its conventions must name a variant:

- ``kind="real"``, ``shape=()``: a finite number in the interval, returned as a float (a one-element tensor is read).
  With ``or_shape`` the symbol may instead be an array of that shape (a time per point).
- ``kind="real"`` with a shape: an array of that rank (``"..."`` stands for any number of dimensions), entries in the
  interval (and finite unless ``finite=False``). NumPy side: anything ``np.asarray`` reads, returned as float64;
  torch side: a floating-point tensor, returned as it is (any device, any dtype).
- ``kind="integer"``: an integer (shape ``()``) or an integer array in the interval (int64).
- ``kind="choice"``: one of ``choices``; ``kind="callable"``: a callable.
- ``broadcast_to="h"``: an array of any rank that broadcasts against ``h`` without changing h's shape.
- Named dimensions bind across the call: ``v_y`` and ``v_null`` both of shape ``("n", "d")`` must agree, and
  so does the part a ``"..."`` stands for.
- An argument whose default is ``None`` may be left ``None`` (the body gives the default).

Every failure is the :class:`~spec.errors.SpecInputError` the hand-written checks raised: clause, argument, what was
expected, what was given. The backend is the module's: ``accelerated.*`` functions take torch tensors, the rest
NumPy. ``fn.raw`` is the body without the checks, for inner loops whose inputs were checked once (no per-step
validation, no device synchronisation; the networks of accelerated/models call only ``raw`` bodies); under
torch.compile's tracing the checks are skipped (each would break the graph; the eager call checks);
``GENSPEC_CHECK_VALUES=0`` skips the value checks (finite, interval) on the torch side, keeping types and shapes, for
production loops on a GPU where each check is a synchronisation.
"""
from __future__ import annotations

import functools
import inspect
import math
import os
import sys
from collections.abc import Callable
from typing import Any

import numpy as np

from . import validate as V
from .errors import SpecInputError
from .schema import Clause, Convention, Symbol, ellipsis

CHECK_VALUES = os.environ.get("GENSPEC_CHECK_VALUES", "1") != "0"
"""Whether torch-side value checks (finite, interval) run; type, rank and shape checks always do."""

Check = Callable[[Any, dict], Any]


def _compiling() -> bool:
    """Whether torch.compile is tracing (then the checks are skipped: the eager call of the same code checks)."""
    torch = sys.modules.get("torch")
    return torch is not None and torch.compiler.is_compiling()


def implements(clause_id: str, *, backend: str | None = None, unchecked: tuple[str, ...] = (),
               check: Callable[[dict], None] | None = None):
    """Bind a function to clause ``clause_id``: validate and convert its arguments from the clause's declaration.
    ``unchecked`` names arguments the declaration cannot check (a boolean mask; matrices whose layout is a
    convention); ``check(arguments)`` checks them (and anything else the symbols cannot state) after the declared
    checks, so the body, ``fn.raw``, checks nothing."""
    extra = check

    def bind(fn):
        from genspec import spec  # the catalog imports the family modules, which never import this module's users
        clause = spec.get(clause_id)
        be = backend or ("torch" if fn.__module__.removeprefix("genspec.").split(".")[0] == "accelerated" else "numpy")
        sig = inspect.signature(fn)
        plan = [(name, check) for name, check in _plan(clause, fn, sig, be) if name not in unchecked]
        against = [(s.name, s.domain.broadcast_to) for s in clause.inputs
                   if s.domain.broadcast_to is not None and s.name in sig.parameters]

        names = list(sig.parameters)
        defaults = {n: p.default for n, p in sig.parameters.items() if p.default is not p.empty}
        simple = all(p.kind is p.POSITIONAL_OR_KEYWORD for p in sig.parameters.values())

        def arguments(args, kwargs) -> dict:
            """The call's arguments by name, defaults filled in: a dict built directly for the usual signature
            (inspect.Signature.bind costs ~10 µs a call), Signature.bind for the error message or other kinds."""
            if simple and len(args) <= len(names):
                a = dict(zip(names, args, strict=False))
                if all(k in names and k not in a for k in kwargs):          # else bind() names the error
                    a.update(kwargs)
                    if len(a) < len(names):
                        a.update((n, defaults[n]) for n in names if n not in a and n in defaults)
                    if len(a) == len(names):
                        return a
            try:
                bound = sig.bind(*args, **kwargs)
            except TypeError as e:
                raise TypeError(f"{clause_id}: {fn.__name__}{sig}: {e}") from None
            bound.apply_defaults()
            return dict(bound.arguments)

        @functools.wraps(fn)
        def checked(*args, **kwargs):
            if _compiling():                  # torch.compile traces the body: each check would be a graph break
                return fn(*args, **kwargs)
            a, dims = arguments(args, kwargs), {}
            for name, check in plan:
                a[name] = check(a[name], dims)
            for name, other in against:
                _broadcasts(clause_id, name, a[name], other, a[other])
            if extra is not None:
                extra(a)
            if simple:
                return fn(**a)
            bound = sig.bind(**a)
            return fn(*bound.args, **bound.kwargs)

        checked.clause = clause_id          # type: ignore[attr-defined]
        checked.raw = fn                    # type: ignore[attr-defined]
        checked.backend = be                # type: ignore[attr-defined]
        return checked
    return bind


def _plan(clause: Clause, fn, sig: inspect.Signature, backend: str) -> list[tuple[str, Check]]:
    symbols = {s.name: s for s in clause.inputs}
    conventions = {c.name: c for c in clause.conventions}
    plan: list[tuple[str, Check]] = []
    for name, p in sig.parameters.items():
        if name in symbols:
            plan.append((name, _symbol_check(clause.id, symbols[name], backend, optional=p.default is None)))
        elif name in conventions:
            conv = conventions[name]
            if p.default is not inspect.Parameter.empty and p.default != conv.default:
                raise TypeError(f"{fn.__module__}.{fn.__name__}: the default of {name!r} is {p.default!r}; "
                                f"{clause.id} declares {conv.default!r}")
            plan.append((name, _convention_check(clause.id, conv)))
    return plan


def _convention_check(clause: str, conv: Convention) -> Check:
    options = tuple(v.name for v in conv.variants)
    return lambda v, dims: V.choice(clause, conv.name, v, options)


def _symbol_check(clause: str, sym: Symbol, backend: str, optional: bool) -> Check:
    d, name = sym.domain, sym.name
    bounds: dict[str, Any] = dict(low=d.low, high=d.high, low_closed=d.low_closed, high_closed=d.high_closed)
    if d.kind == "callable":
        check: Check = lambda v, dims: V.callable_(clause, name, v, "a callable " + sym.description.split(",")[0])
    elif d.kind == "choice":
        check = lambda v, dims: V.choice(clause, name, v, d.choices)
    elif not d.shape and d.or_shape is None and d.broadcast_to is None:
        if d.kind == "integer":                         # an int64 count: never a float like 1e308
            lo, hi = max(d.low, -(2**63)), min(d.high, 2**63 - 1)
            lo, hi = (lo if d.low_closed else lo + 1), (hi if d.high_closed else hi - 1)
            check = lambda v, dims: V.count(clause, name, v, int(lo), int(hi))
        elif backend == "numpy":                         # a NumPy float: overflow gives inf, as in the arrays
            check = lambda v, dims: np.float64(V.scalar(clause, name, v, **bounds))
        else:
            check = lambda v, dims: V.scalar(clause, name, v, **bounds)
    else:
        array = _array_check(clause, sym, backend, bounds)
        if d.shape or d.broadcast_to is not None:
            check = array
        else:                                           # a scalar, or an array of shape or_shape
            def check(v, dims):
                if np.ndim(v) == 0 and not (hasattr(v, "ndim") and v.ndim > 0):
                    x = V.scalar(clause, name, v, integer=d.kind == "integer", **bounds)
                    return np.float64(x) if backend == "numpy" and d.kind != "integer" else x
                return array(v, dims)
    if optional:
        inner = check
        check = lambda v, dims: None if v is None else inner(v, dims)
    return check


def _array_check(clause: str, sym: Symbol, backend: str, bounds: dict) -> Check:
    d, name = sym.domain, sym.name
    shape = d.shape or d.or_shape or ()
    rank = ({"min_ndim": 0} if d.broadcast_to and not shape else
            {"min_ndim": len(shape) - 1} if any(map(ellipsis, shape)) else {"ndim": len(shape)})
    bounded = math.isfinite(d.low) or math.isfinite(d.high) or not (d.low_closed and d.high_closed)
    torch_side = backend == "torch"

    def check(v, dims):
        if d.kind == "integer":
            a = V.integers(clause, name, v, ndim=rank.get("ndim"))
            if "min_ndim" in rank and a.ndim < rank["min_ndim"]:
                raise SpecInputError(clause, name, f"an array with at least {rank['min_ndim']} dimensions",
                                     f"shape {tuple(a.shape)}")
        else:
            if torch_side and not V._is_torch(v):
                raise SpecInputError(clause, name, "a floating-point torch.Tensor", type(v).__name__)
            a = V.array(clause, name, v, finite=d.finite and (CHECK_VALUES or not torch_side), **rank)
        if bounded and (CHECK_VALUES or not torch_side) and (a.numel() if torch_side else a.size):
            V.interval(clause, name, a, **bounds)
        match(tuple(a.shape), dims)
        return a

    ell = [i for i, p in enumerate(shape) if ellipsis(p)]
    if shape and not ell and all(isinstance(p, str) for p in shape):
        def match(actual, dims):                     # the common case, named dimensions only: no lists built
            for p, n in zip(shape, actual, strict=False):
                bound = dims.get(p)
                if bound is None:
                    dims[p] = (n, name)
                elif bound[0] != n:
                    _bind_dims(clause, name, shape, actual, {p: bound})
    else:
        match = lambda actual, dims: _bind_dims(clause, name, shape, actual, dims)   # noqa: E731
    return check


def _broadcasts(clause: str, name: str, a, other: str, b) -> None:
    """a broadcasts against b without changing b's shape (γ of shape (B, 1, D) against h of shape (B, N, D))."""
    try:
        ok = np.broadcast_shapes(tuple(a.shape), tuple(b.shape)) == tuple(b.shape)
    except ValueError:
        ok = False
    if not ok:
        raise SpecInputError(clause, name, f"a shape broadcastable to {other}'s {tuple(b.shape)}",
                             f"shape {tuple(a.shape)}")


def _bind_dims(clause: str, name: str, pattern: tuple, actual: tuple, dims: dict) -> None:
    """Match a shape against a pattern of named and fixed dimensions and at most one "..." (or "...name"), binding
    the names (and the ellipsis, the dimensions it stands for: two symbols with "..." have the same trailing shape)."""
    ell = [i for i, p in enumerate(pattern) if ellipsis(p)]
    pairs: list[tuple] = list(zip(pattern, actual, strict=False))
    if ell:
        k, tail = ell[0], pattern[ell[0] + 1:]
        pairs = pairs[:k] + [(pattern[k], actual[k:len(actual) - len(tail)])] + list(
            zip(tail, actual[len(actual) - len(tail):], strict=False))
    for p, n in pairs:
        if isinstance(p, int):
            if n != p:
                raise SpecInputError(clause, name, f"shape {_show(pattern)}", f"shape {actual}")
        elif p in dims and dims[p][0] != n:
            size, owner = dims[p]
            what = f"{p} = {size}" + (" (trailing dimensions)" if ellipsis(p) else "")
            raise SpecInputError(clause, name, f"shape {_show(pattern)} with {what} (from {owner})", f"shape {actual}")
        else:
            dims.setdefault(p, (n, name))


def _show(pattern: tuple) -> str:
    return "(" + ", ".join(map(str, pattern)) + ("," if len(pattern) == 1 else "") + ")"
