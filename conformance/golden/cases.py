"""Which clauses have goldens, their convention variants, and their cases drawn deterministically.

Cases come from the clause's ClauseChecks strategy (the same one ``genspec conform`` uses, so its edges, e.g. the
endpoints t = 0 and t = 1, are among them) run by hypothesis derandomized with no example database: the same
hypothesis version draws the same cases every time. The clause's worked example (``ClauseChecks.example``), when it
has one, is the first case. Expected outputs: the float64 reference on the inputs rounded to each dtype (exactly what
the reference sees in ``genspec conform``).
"""
from __future__ import annotations

import contextlib
import inspect
import itertools
import warnings

import numpy as np
from hypothesis import HealthCheck, Phase, given, settings

from genspec import spec

from ..harness.context import Context
from ..harness.declare import Dual
from ..harness.inputs import approach
from ..harness.registry import checks_for, reference_function
from .codec import encode
from .fields import LinearField, replace_fields

CASES_PER_VARIANT = 10


def value_clauses() -> list[str]:
    """Every clause with a value to compare: kind contains "value" and a function to bind."""
    return [c.id for c in spec.CLAUSES.values() if "value" in c.kind and c.function is not None]


def unwritable(clause_id: str, inputs: dict) -> str:
    """Why a drawn input cannot go in a file ("" when it can): e.g. a random generator, whose outputs depend on the
    implementation's random stream. Callables are not here: they become linear fields (fields.py)."""
    for k, v in inputs.items():
        if not isinstance(v, (np.ndarray, float, int, str, tuple, list, dict, Dual, LinearField, type(None),
                              np.generic)):
            return f"argument {k} is a {type(v).__module__}.{type(v).__name__}, which a file cannot carry"
    return ""


def variants(clause_id: str) -> list[dict[str, str]]:
    """Every combination of the clause's convention variants (the default combination first)."""
    c = spec.get(clause_id)
    if not c.conventions:
        return [{}]
    names = [cv.name for cv in c.conventions]
    choices = [[cv.default] + [v.name for v in cv.variants if v.name != cv.default] for cv in c.conventions]
    return [dict(zip(names, combo, strict=True)) for combo in itertools.product(*choices)]


def variant_key(conv: dict[str, str]) -> str:
    """The file stem of a variant: 'default' or 'name=value+name=value' in the clause's convention order."""
    return "+".join(f"{k}={v}" for k, v in conv.items()) or "default"


def arguments(clause_id: str) -> list[str]:
    """The reference function's argument names, without the convention keywords, in signature order."""
    conv = {cv.name for cv in spec.get(clause_id).conventions}
    ref = reference_function(clause_id)
    return [p for p in inspect.signature(ref).parameters if p not in conv]


def edge_cases(clause_id: str, base: dict) -> list[dict]:
    """The domain's edges: copies of ``base`` with one argument's first entry at a finite closed bound of its symbol
    (t = 0, t = 1, u = 0, w = −w_max, ...; integers at their lower bound only: their upper bounds are caps such as
    T ≤ 10⁷). A copy the reference refuses (e.g. a constraint between arguments) is dropped later."""
    out = []
    for sym in spec.get(clause_id).inputs:
        v = base.get(sym.name)
        dom = sym.domain
        if dom.kind not in ("real", "integer") or v is None or isinstance(v, (bool, str, Dual)):
            continue
        bounds = [dom.low] if dom.kind == "integer" else [dom.low, dom.high]
        closed = [dom.low_closed, dom.high_closed]
        for b, ok in zip(bounds, closed, strict=False):
            if not (ok and np.isfinite(b)):
                continue
            e: np.ndarray | int | float
            if isinstance(v, np.ndarray):
                if v.size == 0:
                    continue
                e = v.copy()
                e.flat[0] = b
            elif isinstance(v, (int, float, np.generic)):
                e = type(v)(b) if isinstance(v, (int, float)) else np.asarray(b, dtype=v.dtype)
            else:
                continue
            out.append({**base, sym.name: e})
    return out + boundary_cases(clause_id, base)


def boundary_cases(clause_id: str, base: dict) -> list[dict]:
    """The declared singular points (spec Clause.boundaries): for each point and each parameter condition under which
    it exists, a copy of ``base`` with those parameters and the symbol's first entry just inside the point (1 ulp of
    bfloat16, so it stays off the point in every dtype, and 1e-9 and 1e-3 away relative: harness/inputs.approach)."""
    out = []
    for b in spec.get(clause_id).boundaries:
        v = base.get(b.symbol)
        if b.kind != "singular" or not isinstance(v, (np.ndarray, float)) or np.size(v) == 0:
            continue
        dom = next(s.domain for s in spec.get(clause_id).inputs if s.name == b.symbol)
        for cond in b.when or ({},):
            params = {k: (base[k] if base.get(k) in vals else vals[0]) for k, vals in cond.items()}
            for p in b.at:
                coarse = approach(p, "bfloat16", low=dom.low, high=dom.high)
                near = [min(coarse, key=lambda x: abs(x - p))] if coarse else []
                scale = abs(p) or 1.0
                near += [x for d in (1e-9, 1e-3) for x in (p - d * scale, p + d * scale) if dom.low <= x <= dom.high]
                for x in near:
                    e: np.ndarray | float = float(x)
                    if isinstance(v, np.ndarray):
                        e = v.astype(np.float64, copy=True)
                        e.flat[0] = x
                    out.append({**base, **params, b.symbol: e})
    return out


def draw(clause_id: str, conv: dict[str, str], n: int = CASES_PER_VARIANT) -> list[dict]:
    """Distinct inputs (keyword dicts, float64) in the units of the variants ``conv``, deterministic: the worked
    example, the domain's edges on the first input (edge_cases), then up to n of hypothesis' draws."""
    chk = checks_for(clause_id)
    strategy = chk.value_cases(conv)
    out: list[dict] = []
    if chk.example is not None and not chk.convention_cases:
        out.append(chk.example())
    if strategy is None:
        return out
    cap = min(n, chk.max_examples or n)

    @_without_local_constants()
    @settings(max_examples=cap, derandomize=True, database=None, deadline=None, phases=(Phase.generate,),
              suppress_health_check=list(HealthCheck), print_blob=False)
    @given(inputs=strategy)
    def collect(inputs):
        out.append(inputs)

    collect()
    out = [spec.get(clause_id).in_variant(i, conv) for i in out]     # drawn in the default variants' units
    return out[:1] + edge_cases(clause_id, out[0]) + out[1:] if out else out


@contextlib.contextmanager
def _without_local_constants():
    """Hypothesis (since 6.131) also draws literals it finds in the local modules imported so far, so its
    derandomized draws depend on what the process imported before (a pytest run imports every test module). Goldens
    must not: they are drawn with no local constants (hypothesis' global ones stay), the same in every process."""
    try:
        from hypothesis.internal.conjecture import providers
        saved, cache, empty = providers._get_local_constants, providers.CONSTANTS_CACHE.cache, providers.Constants()
    except (ImportError, AttributeError):  # a hypothesis without local constants
        yield
        return
    cache.clear()
    providers._get_local_constants = lambda: empty
    try:
        yield
    finally:
        providers._get_local_constants = saved
        cache.clear()


def order(clause_id: str, inputs: dict) -> dict:
    """Inputs in the reference's argument order (hypothesis' dicts come in any order)."""
    names = arguments(clause_id)
    extra = sorted(k for k in inputs if k not in names)
    return {k: inputs[k] for k in names + extra if k in inputs}


def golden_cases(clause_id: str, conv: dict[str, str], dtype: str, drawn: list[dict]) -> tuple[list[dict], str]:
    """The cases of one (clause, variant, dtype): inputs rounded to the dtype, expected from the float64 reference.

    Returns ([{"id", "inputs", "expected"}] with JSON-encoded values, the last error met); callables become linear
    fields (fields.py). A drawn input the reference refuses after rounding (e.g. u rounded up to 1) is left out, as
    are duplicates.
    """
    ref = reference_function(clause_id)
    ctx = Context(target=None, dtype=dtype)  # type: ignore[arg-type]
    cases: list[dict] = []
    seen: set[str] = set()
    error = ""
    for i, raw in enumerate(drawn):
        try:
            inputs = order(clause_id, ctx.round(replace_fields(clause_id, i, raw)))
            enc_in = {k: encode(_plain(v)) for k, v in inputs.items()}
            key = repr(enc_in)
            if key in seen:
                continue
            with warnings.catch_warnings(), np.errstate(all="ignore"):
                warnings.simplefilter("ignore")
                expected = encode(_plain(ref(**inputs, **conv)))
        except Exception as e:  # noqa: BLE001 - a case the reference refuses, or a value no file can hold
            error = f"{type(e).__name__}: {e}"
            continue
        seen.add(key)
        cases.append({"id": f"c{len(cases):02d}", "inputs": enc_in, "expected": expected})
    return cases, error


def _plain(v):
    """NumPy scalars as 0-d arrays, tuples and lists as tuples; Python scalars stay as they are."""
    if isinstance(v, dict):
        return {k: _plain(x) for k, x in v.items()}
    if isinstance(v, (tuple, list)):
        return tuple(_plain(x) for x in v)
    if isinstance(v, np.generic):
        return np.asarray(v)
    return v
