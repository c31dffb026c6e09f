"""Hypothesis strategies for the inputs of clauses: finite float64 arrays on declared intervals."""
from __future__ import annotations

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp


def reals(low: float, high: float, shape=(), *, exclude_low=False, exclude_high=False, width=64):
    """Float64 arrays (or a Python float when shape is None) with every entry in the interval."""
    elems = st.floats(low, high, allow_nan=False, allow_infinity=False,
                      exclude_min=exclude_low, exclude_max=exclude_high, width=width)
    if shape is None:
        return elems
    return hnp.arrays(np.float64, shape, elements=elems)


def gaussian(shape, scale: float = 1.0):
    """Standard-normal-like arrays drawn from a seed: fast for large shapes, shrinks by seed."""
    return st.integers(0, 2**32 - 1).map(lambda s: scale * np.random.default_rng(s).standard_normal(shape))


def uniform(shape, low: float, high: float):
    return st.integers(0, 2**32 - 1).map(lambda s: np.random.default_rng(s).uniform(low, high, shape))


def sizes(min_value=1, max_value=6):
    return st.integers(min_value, max_value)


def dicts(**strategies):
    """A strategy of dicts with the given keys: the keyword inputs of one call."""
    return st.fixed_dictionaries(strategies)


# ---- edges --------------------------------------------------------------------------------------
# Draws from the middle of a domain never reach its edges: an implementation that clips t or its samples to
# [1e-5, 1 − 1e-5] passes every check that sees t ∈ (1e-3, 1 − 1e-3) only. `with_edges` overwrites the named
# entries of a fraction of the drawn cases with values from these tables (no extra draws: the same number of
# examples, some of them at the edges). Tables are plain float64; a value that is subnormal in float64 (or in
# float32) reaches a float32/bfloat16 target as its rounding (0 or a subnormal of that dtype).
T_EDGES = (0.0, 5e-324, 1e-300, 1e-40, 1e-9, 1e-6, 1e-3, 1.0 - 1e-3, 1.0 - 1e-6, 1.0 - 1e-9, 1.0 - 2.0**-53, 1.0)
"""times in [0, 1]: the endpoints, within 1e-9..1e-3 of them, the last double below 1, float64's least subnormal,
a tiny normal, and a float32 subnormal (bfloat16: its rounding, also subnormal)."""

U_EDGES = (-8.0, -6.0, -4.5, 4.5, 6.0, 8.0)
"""standard-normal quantiles |u| ≤ 8 (Φ(−8) ≈ 6e-16: a sampler that clips its output to [1e-5, 1 − 1e-5] is seen)."""

P_EDGES = (0.0, 5e-324, 1e-300, 1e-12, 1e-6, 1.0 - 1e-6, 1.0 - 1e-12, 1.0)
"""probabilities within 1e-12 of 0 and 1 (and float64's least subnormal), plus the endpoints."""

SIGMA_EDGES = (5e-324, 1e-300, 1e-12, 1e-6, 1e3, 1e6)
"""noise scales σ > 0: tiny and huge."""


def edge_values(table, size, offset):
    """`size` values of `table`, cycling from `offset`: over a few drawn offsets every entry of the table appears."""
    return np.array([table[(offset + i) % len(table)] for i in range(size)], dtype=np.float64)


def edge_scalars(table):
    """A strategy of single edge values of `table` (through :func:`edge_values`, so a test can replace the tables)."""
    return st.integers(0, 63).map(lambda o: float(edge_values(table, 1, o)[0]))


def edge_arrays(table, shape):
    """A strategy of arrays of `shape` filled with `table`'s edge values, cycled from a drawn offset."""
    return st.integers(0, 63).map(lambda o: edge_values(table, int(np.prod(shape)), o).reshape(shape))


def draw_edges(draw, arr, table, every: int = 3):
    """Inside a composite strategy: `arr`, or (one draw in `every`) `arr` filled with `table`'s edge values."""
    if draw(st.integers(0, every - 1)) != 0:
        return arr
    return edge_values(table, arr.size, draw(st.integers(0, 63))).reshape(arr.shape)


def with_edges(cases, every: int = 3, **tables):
    """The strategy `cases`, where one draw in `every` (by a drawn flag) has the arrays named in `tables` filled
    with that table's edge values (cycled from a drawn offset, shapes kept); scalars take one edge value.

    ``with_edges(cases, t=T_EDGES)``: the same number of examples, some at the edges of t's domain.
    """
    return _mixed(cases, every, tables)


@st.composite
def _mixed(draw, cases, every: int, tables: dict):
    """with_edges' strategy (one composite, defined once)."""
    case = dict(draw(cases))
    if draw(st.integers(0, every - 1)) != 0:
        return case
    offset = draw(st.integers(0, 63))
    for name, table in tables.items():
        if name not in case:
            continue
        v = case[name]
        if isinstance(v, np.ndarray):
            case[name] = edge_values(table, v.size, offset).reshape(v.shape)
        elif isinstance(v, float):
            case[name] = float(table[offset % len(table)])
    return case
