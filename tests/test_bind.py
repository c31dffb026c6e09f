"""One declaration per clause (issue 8): spec.bind checks arguments from the clause's symbols and conventions; the
reference and accelerated functions of every clause take the same arguments; accelerated never imports reference;
inputs generated from the spec reach every symbol's domain."""
import ast
import inspect
import pathlib

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from genspec import spec
from genspec.conformance.harness.inputs import OMIT, derived, inputs
from genspec.spec.bind import implements
from genspec.spec.errors import SpecInputError

ROOT = pathlib.Path(__file__).resolve().parents[1]
FUNCTIONS = [cid for cid, c in spec.CLAUSES.items() if c.function]


def _functions(cid):
    import importlib
    c = spec.get(cid)
    m = spec.module_of(cid)
    return (getattr(importlib.import_module(f"genspec.reference.{m}"), c.function),
            getattr(importlib.import_module(f"genspec.accelerated.{m}"), c.function))




@pytest.mark.parametrize("cid", FUNCTIONS)
def test_reference_and_accelerated_take_the_same_arguments(cid):
    """Signature parity: the same parameter names, in the same order, with the same defaults (conventions included)."""
    ref, acc = _functions(cid)
    p = lambda f: [(q.name, q.default) for q in inspect.signature(f).parameters.values()]   # noqa: E731
    assert p(ref) == p(acc)


@pytest.mark.parametrize("cid", FUNCTIONS)
def test_every_function_is_bound_to_its_clause(cid):
    for fn in _functions(cid):
        assert getattr(fn, "clause", None) == cid, f"{fn.__module__}.{fn.__name__} is not @implements({cid!r})"


def test_accelerated_never_imports_reference():
    """Tables live in spec/; accelerated/ computes with torch only (tests and the conformance suite compare)."""
    bad = []
    for path in (ROOT / "accelerated").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                     else [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            bad += [f"{path.relative_to(ROOT)}: {n}" for n in names
                    if n.removeprefix("genspec.").split(".")[0] == "reference"]
    assert bad == [], bad


# ---- the decorator ------------------------------------------------------------------------------
def test_bad_arguments_raise_spec_input_errors_naming_clause_and_argument():
    from genspec.accelerated import cfg as A
    from genspec.reference import cfg as R
    v = np.ones((2, 3))
    cases = [
        (lambda: R.cfg_combine(v, np.ones((2, 4)), 1.0), "v_null", "... = (3,)"),       # the "..." binds
        (lambda: R.cfg_combine(v, np.ones((3, 3)), 1.0), "v_null", "n = 2 (from v_y)"),
        (lambda: R.cfg_combine(v, v, float("nan")), "w", "finite"),
        (lambda: R.cfg_combine(v, v, 2e3), "w", "[-1000, 1000]"),
        (lambda: R.cfg_combine(v, v, 1.0, form="sdxl"), "form", "one_plus_w"),
        (lambda: R.cfg_combine("v", v, 1.0), "v_y", "a real array"),
        (lambda: A.cfg_combine(v, torch.ones(2, 3), 1.0), "v_y", "torch.Tensor"),
        (lambda: R.drop_labels(np.array([0.5]), np.array([0.5]), 2), "y", "integer"),
        (lambda: R.drop_labels(np.array([0]), np.array([0.5]), 1e308), "num_classes", "[1,"),
        (lambda: R.drop_labels(np.array([0]), np.array([1.0]), 2), "u", "[0, 1)"),
        (lambda: R.guided_velocity(3, v, np.array([0, 1]), 0.5, 1.0, 2), "f", "callable"),
        (lambda: R.guided_velocity(lambda x, y, t: x, v, np.array([0, 1]), np.ones(3) / 2, 1.0, 2), "t", "n = 2"),
    ]
    for call, arg, expected in cases:
        with pytest.raises(SpecInputError) as e:
            call()
        assert e.value.argument == arg and expected in str(e.value), str(e.value)


def test_a_wrong_argument_list_is_a_type_error_naming_the_clause():
    from genspec.reference import cfg as R
    with pytest.raises(TypeError, match="cfg.combine"):
        R.cfg_combine(np.ones((1, 1)))
    with pytest.raises(TypeError, match="cfg.combine.*multiple values for argument 'form'"):    # never silently
        R.cfg_combine(np.ones((1, 1)), np.ones((1, 1)), 1.0, "scale", form="one_plus_w")     # the keyword's


def test_a_convention_default_that_differs_from_the_spec_is_refused_at_import():
    with pytest.raises(TypeError, match="declares 'one_plus_w'"):
        @implements("cfg.combine")
        def cfg_combine(v_y, v_null, w, form="scale"):
            return v_y


def test_raw_skips_the_checks_and_the_checked_function_converts():
    from genspec.reference import cfg as R
    assert R.cfg_combine.raw(np.ones(2), np.zeros(2), 1e9).tolist() == [1e9 + 1, 1e9 + 1]   # unchecked: no domain
    out = R.cfg_combine([[1, 2]], [[0, 0]], 1)                 # lists of ints become float64 arrays
    assert out.dtype == np.float64 and out.tolist() == [[2.0, 4.0]]


# ---- generated inputs ---------------------------------------------------------------------------
def test_generated_inputs_respect_domains_shapes_and_shared_dimensions():
    seen_edges = []

    @settings(max_examples=60, derandomize=True, database=None)
    @given(inputs("cfg.dropout", y=derived(lambda v: np.zeros(v["n"], dtype=np.int64)),
                  p=st.one_of(st.just(OMIT), st.floats(0, 1))))
    def run(inp):
        n = len(inp["y"])
        assert inp["u"].shape == (n,) and np.all((inp["u"] >= 0) & (inp["u"] < 1))
        assert 1 <= inp["num_classes"] <= 8 and ("p" not in inp or 0 <= inp["p"] <= 1)
        seen_edges.append(bool(np.any(inp["u"] < 1e-6)))

    run()
    assert any(seen_edges), "u's edges near 0 never appeared"


def test_inputs_refuse_unknown_symbols_and_missing_callables():
    with pytest.raises(ValueError, match="not input symbols"):
        inputs("cfg.combine", x=1.0)
    with pytest.raises(ValueError, match="is a callable"):
        inputs("cfg.cost")
