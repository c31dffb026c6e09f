"""Which clauses have goldens, their convention variants, and their cases drawn deterministically.

Cases come from the clause's ClauseChecks strategy (the same one ``genspec conform`` uses, so its edges, e.g. the
endpoints t = 0 and t = 1, are among them) run by hypothesis derandomized with no example database: the same
hypothesis version draws the same cases every time. The clause's worked example (``ClauseChecks.example``), when it
has one, is the first case. Expected outputs: the float64 reference on the inputs rounded to each dtype (exactly what
the reference sees in ``genspec conform``).
"""
from __future__ import annotations

import inspect
import itertools
import warnings

import numpy as np
from hypothesis import HealthCheck, Phase, given, settings

import spec

from ..checks import Dual
from ..context import Context
from ..registry import checks_for, reference_function
from .codec import encode

CASES_PER_VARIANT = 10


def value_clauses() -> list[str]:
    """Every clause with a value to compare: kind contains "value" and a function to bind."""
    return [c.id for c in spec.CLAUSES.values() if "value" in c.kind and c.function is not None]


def not_exportable(clause_id: str) -> str:
    """Why a value clause has no goldens ("" when it has): an argument that is a function cannot be written to a file.

    Its cases call a field (velocity, predictor, student network) at points the implementation itself computes, so
    neither the field nor a table of its values can stand in for it.
    """
    c = spec.get(clause_id)
    fields = [s.name for s in c.inputs if s.domain.kind == "callable"]
    if fields:
        return (f"argument{'s' if len(fields) > 1 else ''} {', '.join(fields)} "
                f"{'are callables' if len(fields) > 1 else 'is a callable'} evaluated at points the implementation "
                f"computes; a file can hold neither the function nor a table of its values at those points")
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


def draw(clause_id: str, conv: dict[str, str], n: int = CASES_PER_VARIANT) -> list[dict]:
    """Up to n distinct inputs (keyword dicts, float64), deterministic: the worked example, then hypothesis' draws."""
    chk = checks_for(clause_id)
    strategy = chk.convention_cases(conv) if chk.convention_cases else chk.cases
    out: list[dict] = []
    if chk.example is not None and not chk.convention_cases:
        out.append(chk.example())
    if strategy is None:
        return out
    cap = min(n, chk.max_examples or n)

    @settings(max_examples=cap, derandomize=True, database=None, deadline=None, phases=(Phase.generate,),
              suppress_health_check=list(HealthCheck), print_blob=False)
    @given(inputs=strategy)
    def collect(inputs):
        out.append(inputs)

    collect()
    return out


def order(clause_id: str, inputs: dict) -> dict:
    """Inputs in the reference's argument order (hypothesis' dicts come in any order)."""
    names = arguments(clause_id)
    extra = sorted(k for k in inputs if k not in names)
    return {k: inputs[k] for k in names + extra if k in inputs}


def golden_cases(clause_id: str, conv: dict[str, str], dtype: str, drawn: list[dict]) -> list[dict]:
    """The cases of one (clause, variant, dtype): inputs rounded to the dtype, expected from the float64 reference.

    Returns [{"id", "inputs", "expected"}] with JSON-encoded values; a drawn input the reference refuses after
    rounding (e.g. u rounded up to 1) is left out, as are duplicates.
    """
    ref = reference_function(clause_id)
    ctx = Context(target=None, dtype=dtype)  # type: ignore[arg-type]
    cases, seen = [], set()
    for raw in drawn:
        if any(isinstance(v, Dual) for v in raw.values()):
            continue
        inputs = order(clause_id, ctx.round(raw))
        enc_in = {k: encode(_plain(v)) for k, v in inputs.items()}
        key = repr(enc_in)
        if key in seen:
            continue
        try:
            with warnings.catch_warnings(), np.errstate(all="ignore"):
                warnings.simplefilter("ignore")
                expected = ref(**inputs, **conv)
        except ValueError:
            continue
        seen.add(key)
        cases.append({"id": f"c{len(cases):02d}", "inputs": enc_in, "expected": encode(_plain(expected))})
    return cases


def _plain(v):
    """NumPy scalars as 0-d arrays, tuples and lists as tuples; Python scalars stay as they are."""
    if isinstance(v, (tuple, list)):
        return tuple(_plain(x) for x in v)
    if isinstance(v, np.generic):
        return np.asarray(v)
    return v
