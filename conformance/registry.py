"""Collects the ClauseChecks declared in conformance/<family>.py for every family of the spec."""
from __future__ import annotations

import importlib
from functools import cache

import spec

from .checks import ClauseChecks


@cache
def all_checks() -> dict[str, ClauseChecks]:
    out: dict[str, ClauseChecks] = {}
    for fam in spec.FAMILIES:
        mod = importlib.import_module(f"conformance.{fam}")
        for chk in getattr(mod, "CHECKS", []):
            spec.get(chk.clause)
            if chk.clause in out:
                raise ValueError(f"two ClauseChecks for {chk.clause}")
            out[chk.clause] = chk
    return out


def checks_for(clause_id: str) -> ClauseChecks:
    spec.get(clause_id)
    return all_checks().get(clause_id) or ClauseChecks(clause=clause_id)


def reference_function(clause_id: str):
    """The reference implementation of a clause: the checks' override, else reference.<family>.<function>."""
    chk = checks_for(clause_id)
    if chk.reference is not None:
        return chk.reference
    clause = spec.get(clause_id)
    if clause.function is None:
        return None
    mod = importlib.import_module(f"reference.{spec.module_of(clause_id)}")
    return getattr(mod, clause.function)


def select(patterns: list[str] | None) -> list[str]:
    """Clause ids matching any pattern: an exact id, a family name, or a prefix ending in '.'/'*'."""
    ids = list(spec.CLAUSES)
    if not patterns:
        return ids
    out = []
    for p in patterns:
        if p in spec.CLAUSES:
            hit = [p]
        else:
            stem = p.rstrip("*")
            hit = [i for i in ids if i == stem or i.startswith(stem if stem.endswith(".") else stem + ".")
                   or (p.endswith("*") and i.startswith(stem))]
            if not hit:
                spec.get(p)  # raises UnknownClauseError with hints
        out += [h for h in hit if h not in out]
    return out
