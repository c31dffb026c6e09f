"""Lines per clause of each family across its four places: spec/, reference/, accelerated/, conformance/checks/.

    python tools/clause_lines.py            # the table, Markdown
    python tools/clause_lines.py --json     # the same as JSON

Counts every line of each module (docstrings and blanks included: they are what a reader reads), divided by the number
of clauses the spec module declares. Issue 8 asks for ≤ 70 in the cfg family.
"""
from __future__ import annotations

import json
import pathlib
import sys

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

PLACES = {"spec": "spec/{}.py", "reference": "reference/{}.py", "accelerated": "accelerated/{}.py",
          "checks": "conformance/checks/{}.py"}


def lines(path: pathlib.Path) -> int:
    return len(path.read_text().splitlines()) if path.exists() else 0


def table() -> list[dict]:
    import spec
    rows = []
    for fam in spec.FAMILIES:
        n = sum(1 for cid in spec.CLAUSES if spec.module_of(cid) == fam)
        counts = {k: lines(ROOT / p.format(fam)) for k, p in PLACES.items()}
        rows.append({"family": fam, "clauses": n, **counts, "total": sum(counts.values()),
                     "per_clause": round(sum(counts.values()) / max(n, 1), 1)})
    return rows


def main() -> None:
    rows = table()
    if "--json" in sys.argv:
        print(json.dumps(rows, indent=1))
        return
    print("| family | clauses | spec | reference | accelerated | checks | total | per clause |")
    print("|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['family']} | {r['clauses']} | {r['spec']} | {r['reference']} | {r['accelerated']} | "
              f"{r['checks']} | {r['total']} | {r['per_clause']} |")
    tot = {k: sum(r[k] for r in rows) for k in ("clauses", "spec", "reference", "accelerated", "checks", "total")}
    print(f"| all | {tot['clauses']} | {tot['spec']} | {tot['reference']} | {tot['accelerated']} | {tot['checks']} | "
          f"{tot['total']} | {tot['total'] / tot['clauses']:.1f} |")


if __name__ == "__main__":
    main()
