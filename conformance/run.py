"""The checks themselves, independent of pytest: each raises AssertionError on failure."""
from __future__ import annotations

from typing import Any

import numpy as np
import sympy as sp
from hypothesis import HealthCheck, Phase, given, settings

import spec

from .checks import Dual, Strategy
from .context import Context
from .registry import checks_for, reference_function

PROFILES: dict[str, dict[str, Any]] = {
    # derandomized and fast: the CI job
    "ci": dict(max_examples=25, derandomize=True, database=None),
    # random, with the example database: a developer's loop
    "dev": dict(max_examples=60),
    # many examples: before a release
    "thorough": dict(max_examples=500),
}


def hypothesis_settings(profile: str, cap: int | None = None, shrink: bool = True) -> settings:
    """The hypothesis settings of a profile; ``shrink=False`` reports the first failing example as found."""
    if profile not in PROFILES:
        raise ValueError(f"unknown profile {profile!r}; expected one of {sorted(PROFILES)}")
    kw = dict(PROFILES[profile])
    if cap is not None:
        kw["max_examples"] = min(kw["max_examples"], cap)
    if not shrink:
        kw["phases"] = (Phase.explicit, Phase.reuse, Phase.generate)
    return settings(deadline=None, print_blob=True, report_multiple_bugs=False,
                    suppress_health_check=list(HealthCheck), **kw)


def proof_holds(claim) -> bool:
    """A claim holds if it is True, or a sympy expression (or matrix) that simplifies to zero."""
    v = claim()
    if isinstance(v, bool):
        return v
    if v is sp.true:
        return True
    if isinstance(v, sp.MatrixBase):
        return all(sp.simplify(e) == 0 for e in v)
    if isinstance(v, (list, tuple)):
        return all(proof_holds(lambda e=e: e) for e in v)
    if isinstance(v, sp.logic.boolalg.Boolean):
        return bool(sp.simplify(v))
    return sp.simplify(v) == 0


def check_proof(clause_id: str, proof) -> None:
    assert proof_holds(proof.claim), f"{clause_id}: symbolic claim {proof.name!r} does not simplify to 0"


def check_reference_matches_derivation(clause_id: str, profile: str) -> None:
    """The float64 reference equals the function lambdified from the sympy derivation."""
    chk = checks_for(clause_id)
    ref = reference_function(clause_id)
    ctx = Context(target=None, dtype="float64")  # type: ignore[arg-type]
    cases: Strategy = chk.symbolic_cases if chk.symbolic_cases is not None else chk.cases

    @hypothesis_settings(profile, chk.max_examples)
    @given(inputs=cases)
    def run(inputs):
        expected = chk.symbolic(**numpy_side(inputs))
        got = ref(**numpy_side(inputs))
        ctx.assert_close(clause_id, got, expected, what="reference vs derivation")

    run()


def check_target_matches_reference(ctx: Context, clause_id: str, profile: str) -> None:
    chk = checks_for(clause_id)
    fn = ctx.target.binding(clause_id)
    ref = reference_function(clause_id)
    conv = ctx.target.conventions_for(clause_id)
    cases: Strategy = chk.convention_cases(conv) if chk.convention_cases else chk.cases
    reproduce = reproduction(ctx, clause_id, profile)

    @hypothesis_settings(profile, chk.max_examples, ctx.shrink)
    @given(inputs=cases)
    def run(inputs):
        inputs = ctx.round(inputs)
        ctx.records.setdefault(clause_id, _rec()).examples += 1
        expected = ref(**numpy_side(inputs), **conv)
        got = ctx.call(clause_id, fn, inputs)
        try:
            if chk.compare is not None:
                chk.compare(ctx, got, expected, inputs)
            else:
                ctx.assert_close(clause_id, got, expected)
        except AssertionError as e:
            raise type(e)(f"{e}\n  input: {_show(inputs)}\n  reproduce: {reproduce}") if type(e) is AssertionError \
                else AssertionError(f"{e}\n  input: {_show(inputs)}\n  reproduce: {reproduce}") from None

    run()


def check_property(ctx: Context, clause_id: str, prop, profile: str) -> None:
    chk = checks_for(clause_id)
    fn = ctx.target.binding(clause_id) if ctx.target is not None else None
    wrapped = ctx.wrap(clause_id, fn) if fn is not None else None
    cases = prop.cases if prop.cases is not None else chk.cases
    reproduce = reproduction(ctx, clause_id, profile)
    if cases is None:
        prop.check(ctx, wrapped, {})
        return

    @hypothesis_settings(profile, chk.max_examples, ctx.shrink)
    @given(inputs=cases)
    def run(inputs):
        inputs = ctx.round(inputs)
        try:
            prop.check(ctx, wrapped, inputs)
        except AssertionError as e:
            raise AssertionError(f"{e}\n  property: {prop.name}\n  input: {_show(inputs)}\n"
                                 f"  reproduce: {reproduce}") from None

    run()


def numpy_side(inputs: dict) -> dict:
    """The inputs as the float64 reference takes them: a Dual callable becomes its NumPy side."""
    return {k: (v.numpy if isinstance(v, Dual) else v) for k, v in inputs.items()}


def reproduction(ctx: Context, clause_id: str, profile: str) -> str:
    t = getattr(ctx, "target_spec", None) or (ctx.target.name if ctx.target else "reference")
    return (f"genspec conform --target {t} --clause {clause_id} --dtype {ctx.dtype} "
            f"--device {ctx.device} --profile {profile}")


def _rec():
    from .context import ClauseRecord
    return ClauseRecord()


def _show(inputs: dict) -> str:
    with np.printoptions(precision=17, threshold=40, edgeitems=4):
        return "{" + ", ".join(f"{k!r}: {_repr(v)}" for k, v in inputs.items()) + "}"


def _repr(v):
    if isinstance(v, np.ndarray):
        return f"np.array({np.array2string(v, separator=', ')})"
    return repr(v)


def clause_has_function(clause_id: str) -> bool:
    return spec.get(clause_id).function is not None
