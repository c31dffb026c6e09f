"""The public API under junk input: every clause's reference and accelerated function either returns a
NaN-free result or raises a documented exception (SpecInputError, TypeError); nothing else escapes."""
import importlib
import warnings

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from genspec import spec
from genspec.conformance.harness.declare import Dual
from genspec.conformance.harness.registry import checks_for
from genspec.spec import SpecInputError

ALLOWED = (SpecInputError, TypeError)
CLAUSES = [c.id for c in spec.CLAUSES.values() if c.function and checks_for(c.id).example is not None]

JUNK = [None, "x", float("nan"), float("inf"), -1.0, 1e308, 2.5, -3,
        np.array([np.nan]), np.array([np.inf, 1.0]), np.zeros(0), np.zeros((2, 2, 2, 2, 2)),
        np.array([[1.0, 2.0]]), np.array(0.5), np.array([-1.0, 2.0, 0.5]), np.array([1, 0], dtype=np.int64)]


def _fn(cid, which):
    mod = importlib.import_module(f"{which}.{spec.module_of(cid)}")
    return getattr(mod, spec.get(cid).function)


def _convert(v, which):
    if isinstance(v, Dual):
        return v.torch if which == "accelerated" else v.numpy
    if which == "accelerated" and isinstance(v, np.ndarray):
        return torch.from_numpy(v.copy()) if v.dtype.kind != "f" else torch.tensor(v, dtype=torch.float64)
    if isinstance(v, (list, tuple)):
        return type(v)(_convert(x, which) for x in v)
    return v


def _no_nan(out, where):
    if isinstance(out, dict):
        out = list(out.values())
    if isinstance(out, (list, tuple)):
        for o in out:
            _no_nan(o, where)
        return
    if isinstance(out, torch.Tensor):
        out = out.detach().double().cpu().numpy() if out.is_floating_point() else out.cpu().numpy()
    if isinstance(out, (np.ndarray, float, np.floating)):
        a = np.asarray(out)
        if a.dtype.kind == "f":
            assert not np.isnan(a).any(), f"{where} returned NaN instead of raising"


def _call(cid, which, kwargs):
    fn = _fn(cid, which)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            out = fn(**{k: _convert(v, which) for k, v in kwargs.items()})
    except ALLOWED:
        return
    except Exception as e:  # noqa: BLE001
        pytest.fail(f"{which}.{spec.get(cid).function} ({cid}) let {type(e).__name__} escape: {e}"
                    f"\n  inputs: {kwargs!r}"[:2000])
    _no_nan(out, f"{which}.{spec.get(cid).function} ({cid})")


@pytest.mark.parametrize("which", ["reference", "accelerated"])
@pytest.mark.parametrize("cid", CLAUSES)
def test_junk_in_one_argument(cid, which):
    example = checks_for(cid).example()
    for name in example:
        for junk in JUNK:
            _call(cid, which, {**example, name: junk})


@pytest.mark.parametrize("which", ["reference", "accelerated"])
@pytest.mark.parametrize("cid", CLAUSES)
def test_random_arrays_of_random_shapes(cid, which):
    example = checks_for(cid).example()
    names = list(example)
    arrays = hnp.arrays(np.float64, hnp.array_shapes(min_dims=0, max_dims=4, max_side=3),
                        elements=st.one_of(st.floats(-1e3, 1e3), st.sampled_from([np.nan, np.inf, -np.inf, 0.0])))

    @settings(max_examples=15, derandomize=True, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    @given(name=st.sampled_from(names), value=arrays)
    def run(name, value):
        _call(cid, which, {**example, name: value})

    run()
