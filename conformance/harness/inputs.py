"""Default inputs of a clause, generated from its symbols' domains and shapes (PyTorch OpInfo's sample_inputs_func,
array-api-tests' strategies from the signature).

    cases = inputs("cfg.combine", w=weights(10.0))     # v_y, v_null drawn from their domain and shape; w given

Every input symbol of the clause is drawn from its :class:`~spec.schema.Domain`: named dimensions are drawn once and
shared (``v_y`` and ``v_null`` of shape ``("n", "d")`` get the same n and d), real arrays from a seed (normal for an
unbounded domain, uniform on a bounded one, shifted exponential on a half-line), scalars and choices by hypothesis,
and one draw in three puts the domain's edges (``arrays.T_EDGES`` on [0, 1], ``P_EDGES`` on [0, 1), ``SIGMA_EDGES``
on (0, ∞), the closed ends otherwise) into its real arrays and scalars. A clause lists only what matters to it:

- ``name=strategy`` draws that symbol from the strategy; ``name=value`` fixes it; ``name=OMIT`` leaves it out (the
  function's default applies);
- ``name=derived(lambda v: ...)`` computes it (a value or a strategy) from the values drawn so far (all the others,
  and the dimensions by name): ``y=derived(lambda v: labels(v["n"], v["num_classes"]))``;
- ``dims={"n": st.integers(1, 8)}`` or ``dims={"n": (1, 8)}`` changes a dimension's range (default 1..6 for n, 1..4 for
  the others); ``dims={"...": st.just((3,))}`` the trailing dimensions a "..." stands for (default 0 to 2 of 1..4).

A symbol with ``broadcast_to`` is drawn after its partner, with its shape and some axes of size 1. A callable symbol
has no default: it must be given.
"""
from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from hypothesis import strategies as st

import spec
from spec.schema import Domain, Symbol, ellipsis

from . import arrays
from .arrays import P_EDGES, SIGMA_EDGES, T_EDGES

OMIT = object()
"""``inputs(clause, p=OMIT)``: the symbol is not passed (the function's default applies)."""


@dataclass(frozen=True)
class derived:  # noqa: N801  (used like a function: derived(lambda v: ...))
    """A symbol computed from the values drawn before it: ``fn(values)`` returns a value or a strategy."""

    fn: Callable[[dict], Any]


class _Values(dict):
    """The values drawn so far; a missing key is a named dimension, drawn on first use."""

    def __init__(self, values, size):
        super().__init__(values)
        self._size = size

    def __missing__(self, key):
        return self._size(key)


DIMS = {"n": (1, 6), "...": st.lists(st.integers(1, 4), max_size=2).map(tuple)}
"""Default ranges of named dimensions (others 1..4); "..." draws 0 to 2 trailing dimensions of 1..4."""


def inputs(clause_id: str, *, dims: dict | None = None, every: int = 3, **given):
    """A strategy of keyword inputs for ``clause_id``'s function (see the module docstring)."""
    clause = spec.get(clause_id)
    symbols = {s.name: s for s in clause.inputs}
    unknown = set(given) - set(symbols)
    if unknown:
        raise ValueError(f"{clause_id}: inputs() given {sorted(unknown)}, which are not input symbols of the clause "
                         f"({sorted(symbols)})")
    for s in symbols.values():
        if s.domain.kind == "callable" and s.name not in given:
            raise ValueError(f"{clause_id}: symbol {s.name!r} is a callable: give it, inputs({clause_id!r}, "
                             f"{s.name}=...)")
    dim_ranges = {**DIMS, **(dims or {})}

    @st.composite
    def cases(draw):
        sizes: dict[str, int] = {}

        def size(name):
            if name not in sizes:
                r = dim_ranges.get(name, dim_ranges["..."] if ellipsis(name) else (1, 4))
                if isinstance(r, st.SearchStrategy):
                    sizes[name] = draw(r)
                elif isinstance(r, int) or ellipsis(name):     # a fixed size, or fixed trailing dimensions
                    sizes[name] = r
                else:
                    sizes[name] = draw(st.integers(*r))
            return sizes[name]

        edges = draw(st.integers(0, every - 1)) == 0
        out: dict[str, Any] = {}
        later = []
        for name, sym in symbols.items():
            g = given.get(name, None)
            if name in given:
                if g is OMIT:
                    continue
                if isinstance(g, derived):
                    later.append((name, g))
                    continue
                v = draw(g) if isinstance(g, st.SearchStrategy) else g
                if v is not OMIT:                      # a strategy may draw OMIT: sometimes left out
                    out[name] = v
            elif sym.domain.broadcast_to is not None:               # after its partner: its shape, some axes 1
                later.append((name, derived(lambda v, s=sym: _broadcasting(np.shape(v[s.domain.broadcast_to])))))
            else:
                out[name] = draw(default(sym, size, edges))
        for name, g in later:
            v = g.fn(_Values(out, size))
            out[name] = draw(v) if isinstance(v, st.SearchStrategy) else v
        return {k: out[k] for k in symbols if k in out}      # in the clause's order

    return cases()


def default(sym: Symbol, size: Callable[[str], int], edges: bool):
    """The strategy of one symbol drawn from its domain; ``size(name)`` gives a named dimension's size."""
    d = sym.domain
    if d.kind == "choice":
        return st.sampled_from(d.choices)
    lo, hi = _range(d)
    if d.kind == "integer":
        hi_i = int(min(hi, lo + 7))
        if not d.shape and d.or_shape is None:
            return st.integers(int(lo), hi_i)
        return st.integers(0, 2**32 - 1).map(
            lambda s: np.random.default_rng(s).integers(int(lo), hi_i + 1, _shape(d.shape or d.or_shape, size)))
    table = edge_table(d)
    if not d.shape:
        scalar = st.floats(lo, hi, exclude_min=not d.low_closed and lo == d.low,
                           exclude_max=not d.high_closed and hi == d.high)
        scalar = st.one_of(arrays.edge_scalars(table), scalar) if edges and table else scalar
        if d.or_shape is None:
            return scalar
        return st.one_of(scalar, _reals(d, _shape(d.or_shape, size), table if edges else ()))
    return _reals(d, _shape(d.shape, size), table if edges else ())


def _broadcasting(shape: tuple[int, ...]):
    """Normal arrays of `shape` with some axes (a drawn mask) of size 1: broadcastable back to `shape`."""
    return st.tuples(st.integers(0, 2**32 - 1), st.lists(st.booleans(), min_size=len(shape), max_size=len(shape))).map(
        lambda sm: np.random.default_rng(sm[0]).standard_normal(tuple(1 if m else n for n, m in zip(shape, sm[1],
                                                                                                    strict=True))))


def _shape(pattern, size) -> tuple[int, ...]:
    out: list[int] = []
    for p in pattern:
        if ellipsis(p):
            out += size(p)                         # a tuple: the trailing dimensions, shared like a named one
        else:
            out.append(p if isinstance(p, int) else size(p))
    return tuple(out)


def _range(d: Domain) -> tuple[float, float]:
    """A finite range inside the domain to draw from: the domain itself when bounded, else 10 units of it."""
    lo = d.low if math.isfinite(d.low) else (d.high - 10.0 if math.isfinite(d.high) else -10.0)
    hi = d.high if math.isfinite(d.high) else lo + (10.0 if math.isfinite(d.low) else 20.0)
    return lo, hi


def edge_table(d: Domain) -> tuple[float, ...]:
    """The edge values of a real domain: T_EDGES on [0, 1], P_EDGES below 1 on [0, 1), SIGMA_EDGES on (0, ∞), the
    closed finite ends otherwise (none for the real line)."""
    if (d.low, d.high) == (0.0, 1.0):
        table = T_EDGES if d.high_closed else tuple(v for v in P_EDGES if v < 1.0)
        return tuple(v for v in table if d.low_closed or v > 0.0)
    if d.low == 0.0 and d.high == math.inf and not d.low_closed:
        return SIGMA_EDGES
    return tuple(v for v, closed in ((d.low, d.low_closed), (d.high, d.high_closed)) if closed and math.isfinite(v))


def _reals(d: Domain, shape: tuple[int, ...], table: tuple[float, ...]):
    lo, hi = _range(d)

    def draw_array(seed_offset):
        seed, offset = seed_offset
        rng = np.random.default_rng(seed)
        if math.isfinite(d.low) and math.isfinite(d.high):
            a = rng.uniform(lo, hi, shape)
            if not d.low_closed:
                a = np.maximum(a, np.nextafter(d.low, math.inf))
        elif math.isfinite(d.low):
            a = d.low + rng.exponential(1.0, shape) + (0.0 if d.low_closed else 1e-3)
        elif math.isfinite(d.high):
            a = d.high - rng.exponential(1.0, shape) - (0.0 if d.high_closed else 1e-3)
        else:
            a = 2.0 * rng.standard_normal(shape)
        if offset is not None and table:
            a = arrays.edge_values(table, a.size, offset).reshape(shape)
        return a

    offsets = st.integers(0, 63) if table else st.just(None)
    return st.tuples(st.integers(0, 2**32 - 1), offsets).map(draw_array)
