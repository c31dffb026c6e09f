"""Expected outcomes: the real differences of a library from the spec, one file per adapter (``expected/<lib>.json``).

Each entry names the clause, the dtypes it fails in, the checks that fail, the error measured when it was recorded and
why the library differs. ``genspec matrix`` shows such a failure as expected (it does not fail the run); a failure in
a check the entry does not name is unexpected (a new difference hides behind no old one), and an expected failure
that starts passing is a warning (the entry is stale: the library changed, or the binding did).
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass

HERE = os.path.join(os.path.dirname(__file__), "expected")


@dataclass(frozen=True)
class Expected:
    clause: str
    """a matrix row: the clause id, and the convention variant if not the adapter's default (genspec matrix)"""
    dtypes: tuple[str, ...]
    checks: tuple[str, ...]
    """the checks that fail (target_matches_reference, property:<name>): a failure of any other is unexpected"""
    measured: str
    why: str
    input_dependent: bool = False
    """fails on some of the inputs a run draws, not all: a run whose inputs miss them passes, and that says nothing
    (no stale-entry warning). ``genspec conform`` draws the same inputs only from the same entry point: hypothesis
    seeds its generator from the modules loaded."""


def load(library: str) -> dict[tuple[str, str], Expected]:
    """{(clause, dtype): Expected} of a library ({} when it has no file)."""
    path = os.path.join(HERE, f"{library}.json")
    if not os.path.exists(path):
        return {}
    with open(path) as f:
        data = json.load(f)
    out = {}
    for e in data["expected_failures"]:
        exp = Expected(e["clause"], tuple(e["dtypes"]), tuple(e["checks"]), e["measured"], e["why"],
                       e.get("input_dependent", False))
        out.update({(exp.clause, d): exp for d in exp.dtypes})
    return out


def recorded_for(library: str) -> str | None:
    """The pinned library the outcomes were measured with ("diffusers==0.42.1"; None when there is no file)."""
    path = os.path.join(HERE, f"{library}.json")
    if not os.path.exists(path):
        return None
    with open(path) as f:
        return json.load(f)["library"]


def verdicts(library: str, results: dict, expected: dict[tuple[str, str], Expected] | None = None
             ) -> tuple[list[str], list[str]]:
    """(unexpected failures, warnings) of one library's {(clause, dtype): result} (a ClauseResult: its status and
    failures): a failure not in the file, or of a check its entry does not name, is unexpected; an entry whose clause
    passed is stale (a warning), unless it is input-dependent; an entry whose clause was not run says nothing."""
    expected = load(library) if expected is None else expected
    unexpected, warnings = [], []
    for (c, d), r in results.items():
        e = expected.get((c, d))
        if r.status == "failed" and e is None:
            unexpected.append(f"{library}: {c} failed at {d} (not an expected outcome)")
        elif r.status == "failed" and e is not None and (other := sorted({k for k, _ in r.failures} - set(e.checks))):
            unexpected.append(f"{library}: {c} failed at {d} in {', '.join(other)}, which its expected entry does "
                              f"not name (only {', '.join(e.checks)})")
        elif r.status == "passed" and e is not None and not e.input_dependent:
            warnings.append(f"{library}: {c} was expected to fail at {d} ({e.measured}: {e.why[:80]}...) but "
                            f"passed: remove it from conformance/adapters/expected/{library}.json")
    return unexpected, warnings
