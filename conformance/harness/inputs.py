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

import contextvars
import functools
import math
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import numpy as np
from hypothesis import strategies as st

from genspec import spec
from genspec.spec.schema import Domain, Symbol, ellipsis

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
    return _cases(symbols, given, {**DIMS, **(dims or {})}, every)


@st.composite
def _cases(draw, symbols: dict, given: dict, dim_ranges: dict, every: int):
    """The strategy :func:`inputs` returns (one composite, defined once: hypothesis reads a composite's source
    when it is defined, which cost a sixth of a check when each check defined its own)."""
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
    later: list[tuple[str, derived]] = []
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
            later.append((name, derived(functools.partial(_broadcast_like, sym.domain.broadcast_to))))
        else:
            out[name] = draw(default(sym, size, edges))
    for name, g in later:
        v = g.fn(_Values(out, size))
        out[name] = draw(v) if isinstance(v, st.SearchStrategy) else v
    return {k: out[k] for k in symbols if k in out}      # in the clause's order


_STRATEGIES: dict[tuple, tuple[Domain, Any]] = {}
"""The strategies built so far, by (domain, shape, edge table): hypothesis validates every new strategy object before
its first draw (a fixed point over the strategy graph), about a tenth of a check when each case built its own.
The same object is drawn from alike, so the cases drawn are unchanged. (The domain is kept with its strategy: the key
holds its id.)"""


def _memo(d: Domain, key: tuple, build: Callable[[], Any]):
    hit = _STRATEGIES.get((id(d), *key))
    if hit is None or hit[0] is not d:
        hit = _STRATEGIES[(id(d), *key)] = (d, build())
    return hit[1]


def default(sym: Symbol, size: Callable[[str], int], edges: bool):
    """The strategy of one symbol drawn from its domain; ``size(name)`` gives a named dimension's size."""
    d = sym.domain
    if d.kind == "choice":
        return _memo(d, ("choice",), lambda: st.sampled_from(d.choices))
    lo, hi = _range(d)
    if d.kind == "integer":
        hi_i = int(min(hi, lo + 7))
        if not d.shape and d.or_shape is None:
            return st.integers(int(lo), hi_i)
        return st.integers(0, 2**32 - 1).map(
            lambda s: np.random.default_rng(s).integers(int(lo), hi_i + 1, _shape(d.shape or d.or_shape, size)))
    table = edge_table(d)
    if not d.shape:
        def scalar():
            s = st.floats(lo, hi, exclude_min=not d.low_closed and lo == d.low,
                          exclude_max=not d.high_closed and hi == d.high)
            return st.one_of(arrays.edge_scalars(table), s) if edges and table else s
        if d.or_shape is None:
            return _memo(d, ("scalar", edges, table), scalar)
        shape = _shape(d.or_shape, size)
        return _memo(d, ("or_shape", edges, table, shape),
                     lambda: st.one_of(scalar(), _reals(d, shape, table if edges else ())))
    shape = _shape(d.shape, size)
    return _memo(d, ("reals", shape, table if edges else ()), lambda: _reals(d, shape, table if edges else ()))


def _broadcast_like(partner: str, values: dict):
    """A symbol broadcast to its partner's shape (drawn before it): see :func:`_broadcasting`."""
    return _broadcasting(np.shape(values[partner]))


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


# ---- boundaries: singular points, ties, thresholds, zero vectors (spec: Clause.boundaries) ----------------------
# Draws from a domain's middle never come within rounding of the points where code breaks: a divisor clamped at
# 5e-3, b = √(1 − a²) written without expm1, a float32 softmax deciding p_j ≥ α max p, an expanded ‖z‖² − 2z·e + ‖e‖²
# deciding a near-tie. The clause declares those points (spec/schema.py Boundary); these draw at and near them in the
# dtype the target is run in (``drawing_in``, set by the run context around each check's draws).
NEAR = (1e-15, 1e-12, 1e-9, 1e-6, 1e-5, 1e-4, 1e-3)
"""relative distances from a boundary point (absolute at 0), each on both sides where the domain allows."""

ULPS = (1, 2, 4)
"""and these many units in the last place of the run's dtype: within rounding of the point."""

UNIT = {"float64": 2.0**-53, "float32": 2.0**-24, "bfloat16": 2.0**-8}
"""unit roundoff of each dtype (bfloat16: 8 significant bits)."""

TINY_NORMS = (0.0, 5e-324, 1e-300, 1e-40, 1e-20, 1e-7)
"""norms of the zero and tiny vectors drawn where a clause declares a ``zero`` boundary: 0, float64's least
subnormal, a tiny normal, a float32 subnormal, a vector whose squared norm underflows float32 (1e-20), and 1e-7."""

_DRAW_DTYPE: contextvars.ContextVar[str] = contextvars.ContextVar("genspec_draw_dtype", default="float64")


@contextmanager
def drawing_in(dtype: str):
    """Inside the block, boundary draws are made for a target that sees its arrays in ``dtype``."""
    token = _DRAW_DTYPE.set(dtype)
    try:
        yield
    finally:
        _DRAW_DTYPE.reset(token)


def drawing_dtype() -> str:
    """The dtype boundary draws are made for (float64 outside a run)."""
    return _DRAW_DTYPE.get()


def round_to(v, dtype: str) -> np.ndarray:
    """``v`` (float64) rounded to ``dtype`` and back: what a target in that dtype sees (bfloat16: round to nearest
    even on float32's upper 16 bits, as torch does for finite values)."""
    a = np.asarray(v, dtype=np.float64)
    if dtype == "float64":
        return a
    f = a.astype(np.float32)
    if dtype == "float32":
        return f.astype(np.float64)
    bits = np.atleast_1d(f).view(np.uint32).astype(np.uint64)
    bits = ((bits + 0x7FFF + ((bits >> 16) & 1)) & 0xFFFF0000).astype(np.uint32)
    return bits.view(np.float32).astype(np.float64).reshape(a.shape)


def _ulp_steps(point: float, k: int, dtype: str) -> float:
    """``point`` moved by ``k`` units in the last place of ``dtype`` (k < 0: down)."""
    if dtype == "bfloat16":
        p = float(round_to(point, "bfloat16"))
        bits = int(np.array([p], np.float32).view(np.uint32)[0]) >> 16
        sign, mag = bits & 0x8000, bits & 0x7FFF
        mag = mag + k if not sign else mag - k
        if mag < 0:
            sign, mag = sign ^ 0x8000, -mag
        return float(np.array([(sign | mag) << 16], np.uint32).view(np.float32)[0])
    ftype = np.float64 if dtype == "float64" else np.float32
    q = ftype(point)
    for _ in range(abs(k)):
        q = np.nextafter(q, ftype(np.inf if k > 0 else -np.inf))
    return float(q)


def approach(point: float, dtype: str | None = None, low: float = -math.inf, high: float = math.inf,
             exact: bool = False) -> tuple[float, ...]:
    """Values near ``point`` for a target in ``dtype`` (default: :func:`drawing_dtype`): at the relative distances
    :data:`NEAR` (absolute at 0) on both sides and :data:`ULPS` units in the last place away (not at 0), rounded to the
    dtype, inside [low, high], distinct; the point itself only with ``exact`` (where the clause defines it)."""
    dtype = dtype or drawing_dtype()
    scale = abs(point) or 1.0
    out = [point + s * d * scale for d in NEAR for s in (-1.0, 1.0)]
    if point != 0.0:               # at 0 the ulps are subnormals: the edge tables' (arrays.T_EDGES) business
        out += [_ulp_steps(point, s * k, dtype) for k in ULPS for s in (-1, 1)]
    p = float(round_to(point, dtype))
    vals = sorted({float(v) for v in round_to(np.array(out), dtype)
                   if low <= v <= high and math.isfinite(v) and float(v) != p})
    return tuple(([p] if exact else []) + vals)


def boundary_points(clause_id: str, symbol: str, params: dict, kind: str = "singular") -> tuple[float, ...]:
    """The declared points of ``clause_id``'s boundaries on ``symbol`` that apply to ``params``."""
    return tuple(dict.fromkeys(v for b in spec.get(clause_id).boundaries
                               if b.symbol == symbol and b.kind == kind and b.applies(params) for v in b.at))


def declared(clause_id: str, symbol: str, kind: str) -> tuple:
    """The boundaries of ``kind`` that ``clause_id`` declares on ``symbol`` (spec Clause.boundaries): a check draws
    its threshold, zero-vector or tie cases only where the clause declares them, so the declaration is what turns
    them on."""
    return tuple(b for b in spec.get(clause_id).boundaries if b.symbol == symbol and b.kind == kind)


def boundary_conditions(clause_id: str, symbol: str, kind: str = "singular") -> tuple[dict, ...]:
    """The parameter conditions (``Boundary.when``, flattened) under which ``clause_id`` has a ``kind`` boundary on
    ``symbol``: a case that should reach one draws its parameters inside one of them ({} where one always exists)."""
    return tuple(w for b in spec.get(clause_id).boundaries if b.symbol == symbol and b.kind == kind
                 for w in (b.when or ({},)))


def singular_sweep(clause_id: str, symbol: str, combos, low: float = -math.inf, high: float = math.inf):
    """For each parameter combination in ``combos`` (dicts) at which ``clause_id`` declares singular points of
    ``symbol``: (params, every :func:`approach` value of those points, as one float64 array). A property calls the
    target once per combination on the whole array: deterministic, and every declared point is reached whatever the
    profile's example count."""
    out = []
    for params in combos:
        points = boundary_points(clause_id, symbol, params)
        if points:
            out.append((params, np.array(sorted({v for p in points for v in approach(p, low=low, high=high)}))))
    return out


def near_singular(draw, clause_id: str, symbol: str, values: np.ndarray, params: dict, every: int = 3,
                  low: float = -math.inf, high: float = math.inf) -> np.ndarray:
    """Inside a composite strategy: ``values``, or (one draw in ``every``, where ``params`` reach a declared
    singular point of ``symbol``) with a drawn subset of its entries moved to :func:`approach` values of that point
    (never onto it): some entries near the singular point, the rest as drawn."""
    points = boundary_points(clause_id, symbol, params)
    if not points or draw(st.integers(0, every - 1)) != 0:
        return values
    near = [v for p in points for v in approach(p, low=low, high=high)]
    out = np.array(values, dtype=np.float64, copy=True)
    flat = out.reshape(-1)
    picks = draw(st.lists(st.integers(0, len(near) - 1), min_size=flat.size, max_size=flat.size))
    keep = draw(st.lists(st.booleans(), min_size=flat.size, max_size=flat.size))
    for i, (k, kept) in enumerate(zip(picks, keep, strict=True)):
        if not kept or i == 0:                              # the first entry always moves: the draw reaches the point
            flat[i] = near[k]
    return out


def tiny_vectors(shape: tuple[int, ...], seed: int) -> np.ndarray:
    """Rows of ``shape`` (n, D) with the norms of :data:`TINY_NORMS` (cycled), in random directions."""
    rng = np.random.default_rng(seed)
    v = rng.standard_normal(shape)
    v /= np.maximum(np.linalg.norm(v, axis=-1, keepdims=True), 1e-300)
    norms = np.array([TINY_NORMS[i % len(TINY_NORMS)] for i in range(shape[0])])
    with np.errstate(under="ignore"):
        return v * norms.reshape((-1,) + (1,) * (len(shape) - 1))


def tie_gaps(dtype: str | None = None) -> tuple[float, ...]:
    """Relative gaps between the two scores of a constructed near-tie: 0 (an exact tie, the clause's rule decides),
    :data:`ULPS` units of the run's dtype, and :data:`NEAR`."""
    unit = UNIT[dtype or drawing_dtype()]
    return (0.0, *(k * unit for k in ULPS), *NEAR)


def near_tie_codebook(rng: np.random.Generator, z: np.ndarray, gaps, radius: float, extra: int = 1) -> np.ndarray:
    """A codebook (K, D) for the rows of ``z`` (n, D): for row i two entries at distances ``radius`` and
    ``radius·√(1 + gaps[i])`` from z_i (a near-tie of the squared distances at relative gap gaps[i], in a random
    order), and ``extra`` entries ≥ 4·radius away from every z_i, all shuffled."""
    n, D = z.shape
    def unit(k):
        v = rng.standard_normal((k, D))
        return v / np.linalg.norm(v, axis=1, keepdims=True)
    pairs = []
    for i in range(n):
        a = z[i] + radius * unit(1)[0]
        b = z[i] + radius * math.sqrt(1.0 + gaps[i]) * unit(1)[0]
        pairs += [a, b] if rng.integers(2) else [b, a]
    far = z[rng.integers(0, n, extra)] + radius * (4.0 + rng.uniform(0, 4, (extra, 1))) * unit(extra)
    cb = np.concatenate([np.array(pairs), far])
    return cb[rng.permutation(len(cb))]
