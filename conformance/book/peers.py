"""The peers of a clause: its rows of the conformance matrix as recorded, with the recorded reasons.

The matrix comes from a ``genspec matrix --out DIR`` JSON when one is given (``DIR/matrix.json``), else from the
README's ``<!-- matrix -->`` block, which ``genspec matrix --readme README.md`` writes; the reasons and measured errors
of the expected differences come from conformance/adapters/expected/<library>.json. Nothing is re-run here.
"""
from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field

from genspec.conformance.adapters import expected as E

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@dataclass
class Matrix:
    columns: list[str]
    rows: dict[str, list[str]]
    """matrix row (``cfg.combine`` or ``ddpm.beta_schedule (beta_schedule=scaled_linear)``) -> one cell per column"""
    source: str
    libraries: list[str] = field(default_factory=list)

    def rows_of(self, clause_id: str) -> dict[str, list[str]]:
        return {r: c for r, c in self.rows.items() if r.split(" ")[0] == clause_id}


def from_readme(path: str) -> Matrix | None:
    """The table of the README's ``<!-- matrix -->`` block; None if the file or the block is absent."""
    if not os.path.exists(path):
        return None
    with open(path, encoding="utf-8") as f:
        m = re.search(r"<!-- matrix -->\n(.*?)<!-- /matrix -->", f.read(), re.S)
    if m is None:
        return None
    lines = [ln for ln in m.group(1).splitlines() if ln.startswith("|")]
    if len(lines) < 2:
        return None
    cells = lambda ln: [c.strip() for c in ln.strip().strip("|").split("|")]
    head = cells(lines[0])[1:]
    rows = {cells(ln)[0].strip("`"): cells(ln)[1:] for ln in lines[2:]}
    libs = list(dict.fromkeys(h.split(" ")[0] for h in head))
    return Matrix(head, rows, f"README.md's recorded matrix ({os.path.basename(path)})", libs)


def from_json(path: str) -> Matrix:
    """A ``genspec matrix --out DIR`` run (DIR/matrix.json, or the file itself)."""
    from genspec.conformance.harness.matrix import _show
    if os.path.isdir(path):
        path = os.path.join(path, "matrix.json")
    with open(path, encoding="utf-8") as f:
        m = json.load(f)
    libs = [lib for lib, v in m["libraries"].items() if v["installed"]]
    head = [f"{lib} {m['libraries'][lib]['version']} {d}" for lib in libs for d in m["dtypes"]]
    names = {r for lib in libs for r in m["libraries"][lib]["clauses"]}
    rows = {r: [_show(m["libraries"][lib]["clauses"].get(r, {}).get(d)) for lib in libs for d in m["dtypes"]]
            for r in sorted(names)}
    return Matrix(head, rows, f"genspec matrix run {path} (profile {m.get('profile')})", libs)


def load(matrix: str | None = None) -> Matrix | None:
    return from_json(matrix) if matrix else from_readme(os.path.join(ROOT, "README.md"))


def reasons(clause_id: str) -> list[tuple[str, E.Expected]]:
    """(library, expected entry) for every recorded difference of any adapter on this clause's rows."""
    from genspec.conformance import adapters
    out = []
    for lib in adapters.ADAPTERS:
        seen = set()
        for (row, _dtype), e in E.load(lib).items():
            if row.split(" ")[0] == clause_id and row not in seen:
                seen.add(row)
                out.append((lib, e))
    return out
