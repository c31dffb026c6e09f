"""Run the conformance checks from Python, without pytest: ``check(target, clauses) -> {id: ClauseResult}``.

``genspec conform`` runs the same checks (conformance/run.py) through pytest; this is the programmatic
door, used by the project's tests (e.g. planted-bug targets) and by anyone embedding the suite.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass, field

import spec

from . import run
from .context import Context
from .registry import checks_for, select
from .report import clause_status
from .target import Target, load


@dataclass
class ClauseResult:
    clause: str
    status: str
    failures: list[tuple[str, str]] = field(default_factory=list)
    passed: list[str] = field(default_factory=list)
    max_error_over_tolerance: float = 0.0


def check(target: Target | str, clauses: list[str] | None = None, *, dtype: str = "float64", device: str = "cpu",
          profile: str = "ci", timeout: float = 20.0, target_independent: bool = True,
          shrink: bool = True) -> dict[str, ClauseResult]:
    """Run every check of the selected clauses against ``target``; returns one result per clause.

    ``target_independent=False`` skips the proofs and reference-vs-derivation checks (they do not depend on
    the target), which is what planted-bug tests want; so is ``shrink=False`` (the first failing example is
    reported as found, which saves seconds per failing clause).
    """
    tgt = load(target) if isinstance(target, str) else target
    ctx = Context(target=tgt, dtype=dtype, device=device, timeout=timeout, shrink=shrink)
    ctx.target_spec = target if isinstance(target, str) else tgt.name
    out = {}
    for cid in select(clauses):
        chk = checks_for(cid)
        clause = spec.get(cid)
        outcomes: list[dict[str, str]] = []

        def attempt(name, fn, outcomes=outcomes):
            try:
                fn()
                outcomes.append({"check": name, "outcome": "passed", "message": ""})
            except Exception as e:  # noqa: BLE001 - AssertionError, or hypothesis' Flaky/ExceptionGroup
                outcomes.append({"check": name, "outcome": "failed", "message": _message(e)})

        if target_independent:
            for p in chk.proofs:
                attempt(f"proof:{p.name}", functools.partial(run.check_proof, cid, p))
            if chk.symbolic is not None:
                attempt("reference_matches_derivation",
                        functools.partial(run.check_reference_matches_derivation, cid, profile))
        bound = tgt.binding(cid) is not None
        if clause.function is not None and bound:
            attempt("target_matches_reference",
                    functools.partial(run.check_target_matches_reference, ctx, cid, profile))
        if clause.function is None or bound:
            for prop in chk.properties:
                attempt(f"property:{prop.name}", functools.partial(run.check_property, ctx, cid, prop, profile))
        rec = ctx.records.get(cid)
        out[cid] = ClauseResult(
            clause=cid, status=clause_status(cid, tgt, outcomes),
            failures=[(o["check"], o["message"]) for o in outcomes if o["outcome"] == "failed"],
            passed=[o["check"] for o in outcomes if o["outcome"] == "passed"],
            max_error_over_tolerance=rec.max_ratio if rec else 0.0)
    return out


def failing(results: dict[str, ClauseResult]) -> set[str]:
    return {cid for cid, r in results.items() if r.status == "failed"}


def _message(e: BaseException) -> str:
    if isinstance(e, BaseExceptionGroup):
        return "; ".join(_message(x) for x in e.exceptions)
    return str(e) if isinstance(e, AssertionError) else f"{type(e).__name__}: {e}"
