"""Run the conformance checks from Python, without pytest: ``check(target, clauses) -> {id: ClauseResult}``.

``genspec conform`` runs the same checks (conformance/run.py) through pytest; this is the programmatic
door, used by the project's tests (e.g. planted-bug targets) and by anyone embedding the suite.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from genspec import spec

from . import run
from .context import Context, validate_options
from .registry import checks_for, select
from .report import clause_status
from .target import Target, load, row_name


@dataclass
class ClauseResult:
    clause: str
    status: str
    failures: list[tuple[str, str]] = field(default_factory=list)
    passed: list[str] = field(default_factory=list)
    max_error_over_tolerance: float = 0.0
    worst_check: str | None = None
    """the check whose error ``max_error_over_tolerance`` and ``max_abs_error`` are."""
    max_abs_error: float = 0.0
    target_calls: int = 0
    """calls of the target made by this clause's checks (0: the clause is ``spec-only``)."""
    not_implemented: list[tuple[str, str]] = field(default_factory=list)
    """checks not run: every input they need lies outside the target's declared ``supports``."""
    unsupported: list[str] = field(default_factory=list)
    """the parameter values met outside the declared support (examples discarded)."""
    tolerance_dtype: str = ""
    """the dtype whose tolerances were used: the run's, or the target's declared precision."""


def check(target: Target | str, clauses: list[str] | None = None, *, dtype: str = "float64", device: str = "cpu",
          profile: str = "ci", timeout: float = 20.0, target_independent: bool = True,
          shrink: bool = True) -> dict[str, ClauseResult]:
    """Run every check of the selected clauses against ``target``; returns one result per clause.

    ``target_independent=False`` skips the proofs and reference-vs-derivation checks (they do not depend on
    the target), which is what planted-bug tests want; so is ``shrink=False`` (the first failing example is
    reported as found, which saves seconds per failing clause).
    """
    tgt = load(target) if isinstance(target, str) else target
    validate_options(tgt, dtype, device, timeout)
    out = {}
    for i in range(tgt.variant_runs()):     # a target declaring several variants: each combination once
        view = tgt.in_run(i) if tgt.variants else tgt
        ctx = Context(target=view, dtype=dtype, device=device, timeout=timeout, shrink=shrink)
        ctx.target_spec = target if isinstance(target, str) else tgt.name
        for cid in select(clauses):
            if i == 0 or view.binding(cid) is not None:
                row = row_name(cid, view.variant_label(cid))
                out[row] = _check_clause(ctx, view, cid, profile, target_independent and i == 0)
                out[row].clause = row
    return out


def _check_clause(ctx: Context, tgt: Target, cid: str, profile: str, target_independent: bool) -> ClauseResult:
    chk = checks_for(cid)
    clause = spec.get(cid)
    outcomes: list[dict] = []

    def attempt(name, fn):
        n0 = ctx.calls
        try:
            fn()
            outcome, message = "passed", ""
        except run.NotSupported as e:
            outcome, message = "not implemented", str(e)
        except Exception as e:  # noqa: BLE001 - AssertionError, or hypothesis' Flaky/ExceptionGroup
            outcome, message = "failed", _message(e)
        outcomes.append({"check": name, "outcome": outcome, "message": message, "target_calls": ctx.calls - n0})

    if target_independent:
        for p in chk.proofs:
            attempt(f"proof:{p.name}", lambda p=p: run.check_proof(cid, p))
        if chk.symbolic is not None:
            attempt("reference_matches_derivation", lambda: run.check_reference_matches_derivation(cid, profile))
    bound = tgt.binding(cid) is not None
    if clause.function is not None and bound:
        attempt("target_matches_reference", lambda: run.check_target_matches_reference(ctx, cid, profile))
    if clause.function is None or bound:
        for prop in chk.properties:
            attempt(f"property:{prop.name}", lambda prop=prop: run.check_property(ctx, cid, prop, profile))
    rec = ctx.records.get(cid)
    return ClauseResult(
        clause=cid, status=clause_status(cid, tgt, outcomes),
        failures=[(o["check"], o["message"]) for o in outcomes if o["outcome"] == "failed"],
        passed=[o["check"] for o in outcomes if o["outcome"] == "passed"],
        max_error_over_tolerance=rec.max_ratio if rec else 0.0, worst_check=rec.worst_check if rec else None,
        max_abs_error=rec.max_abs if rec else 0.0,
        target_calls=sum(o["target_calls"] for o in outcomes),
        not_implemented=[(o["check"], o["message"]) for o in outcomes if o["outcome"] == "not implemented"],
        unsupported=sorted(rec.unsupported) if rec else [], tolerance_dtype=ctx.tolerance_dtype(cid))


def failing(results: dict[str, ClauseResult]) -> set[str]:
    return {cid for cid, r in results.items() if r.status == "failed"}


def _message(e: BaseException) -> str:
    if isinstance(e, BaseExceptionGroup):  # hypothesis' distinct failures: each message once (a hang recurs)
        return "\n".join(dict.fromkeys(_message(x) for x in e.exceptions))
    return str(e) if isinstance(e, AssertionError) else f"{type(e).__name__}: {e}"
