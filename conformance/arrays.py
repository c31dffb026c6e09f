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
