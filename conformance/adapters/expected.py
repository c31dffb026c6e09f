"""Expected outcomes: the real differences of a library from the spec, one file per adapter (``expected/<lib>.json``).

Each entry names the clause, the dtypes it fails in, the error measured when it was recorded and why the library
differs. ``genspec matrix`` shows such a failure as expected (it does not fail the run) and warns when an expected
failure starts passing (the entry is stale: the library changed, or the binding did).
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
    measured: str
    why: str


def load(library: str) -> dict[tuple[str, str], Expected]:
    """{(clause, dtype): Expected} of a library ({} when it has no file)."""
    path = os.path.join(HERE, f"{library}.json")
    if not os.path.exists(path):
        return {}
    with open(path) as f:
        data = json.load(f)
    out = {}
    for e in data["expected_failures"]:
        exp = Expected(e["clause"], tuple(e["dtypes"]), e["measured"], e["why"])
        out.update({(exp.clause, d): exp for d in exp.dtypes})
    return out


def verdicts(library: str, statuses: dict[tuple[str, str], str],
             expected: dict[tuple[str, str], Expected] | None = None) -> tuple[list[str], list[str]]:
    """(unexpected failures, warnings) of one library's {(clause, dtype): status}: a failure not in the file is
    unexpected; an entry whose clause passed is stale (a warning); an entry whose clause was not run says nothing."""
    expected = load(library) if expected is None else expected
    unexpected = [f"{library}: {c} failed at {d} (not an expected outcome)"
                  for (c, d), s in statuses.items() if s == "failed" and (c, d) not in expected]
    warnings = [f"{library}: {c} was expected to fail at {d} ({e.measured}: {e.why[:80]}...) but passed: "
                f"remove it from conformance/adapters/expected/{library}.json"
                for (c, d), e in expected.items() if statuses.get((c, d)) == "passed"]
    return unexpected, warnings
