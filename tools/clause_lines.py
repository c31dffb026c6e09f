"""Lines per clause of each family across its four places: spec/, reference/, accelerated/, conformance/checks/.

    python tools/clause_lines.py            # the table, Markdown
    python tools/clause_lines.py --json     # the same as JSON

Counts every line of each module (docstrings and blanks included: they are what a reader reads), divided by the number
of clauses the spec module declares. Issue 8 asks for ≤ 70 in the cfg family.

    python tools/clause_lines.py --attribute cfg   # lines per clause of one family, attributed

attributes each top-level statement of the four modules to the clauses whose declaration reaches it (the Clause(...)
record in spec, the bound function in reference and accelerated, the ClauseChecks(...) entry in checks, and every
top-level helper, constant or convention they use, split evenly when several clauses share it); what no clause
reaches (module docstrings, imports, helpers other modules use) is the family's overhead.
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
    from genspec import spec
    rows = []
    for fam in spec.FAMILIES:
        n = sum(1 for cid in spec.CLAUSES if spec.module_of(cid) == fam)
        counts = {k: lines(ROOT / p.format(fam)) for k, p in PLACES.items()}
        rows.append({"family": fam, "clauses": n, **counts, "total": sum(counts.values()),
                     "per_clause": round(sum(counts.values()) / max(n, 1), 1)})
    return rows


def _statements(path: pathlib.Path, ids: list[str]) -> list[tuple[int, set, set, set]]:
    """The top-level statements of a module as (lines, names defined, names used, clauses declared by it); the entries
    of a CLAUSES or CHECKS list count as statements of their own, declaring the clause their id/clause names."""
    import ast
    tree = ast.parse(path.read_text())
    names = lambda node: {n.id for n in ast.walk(node) if isinstance(n, ast.Name)}       # noqa: E731
    consts = {t.id: v.value for node in tree.body if isinstance(node, ast.Assign)
              for t, v in zip(*((node.targets[0].elts, node.value.elts) if isinstance(node.targets[0], ast.Tuple)
                                and isinstance(node.value, ast.Tuple) else (node.targets, [node.value])), strict=False)
              if isinstance(t, ast.Name) and isinstance(v, ast.Constant) and v.value in ids}
    out = []
    for node in tree.body:
        size = node.end_lineno - node.lineno + 1 + len(getattr(node, "decorator_list", []))
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.List) and \
                {getattr(t, "id", "") for t in node.targets} & {"CLAUSES", "CHECKS"}:
            for el in node.value.elts:
                key = {k.arg: k.value for k in getattr(el, "keywords", [])}.get("id") or \
                    {k.arg: k.value for k in getattr(el, "keywords", [])}.get("clause")
                cid = key.value if isinstance(key, ast.Constant) else consts.get(getattr(key, "id", ""))
                out.append((el.end_lineno - el.lineno + 1, set(), names(el), {cid} & set(ids)))
                size -= el.end_lineno - el.lineno + 1
            out.append((size, set(), set(), set()))
            continue
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            defined = {node.name}
        else:
            defined = {n.id for n in ast.walk(node) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)}
        roots = {cid for cid in ids if isinstance(node, ast.FunctionDef) and node.name == spec_function(cid)}
        out.append((size, defined, names(node), roots))
    return out


def spec_function(cid: str) -> str | None:
    from genspec import spec
    return spec.get(cid).function


def attribute(fam: str) -> dict[str, float]:
    """Lines per clause of family `fam` across the four places: each top-level statement goes to the clauses whose
    declaration reaches it through the names it uses, split evenly; what no clause reaches is '(overhead)'."""
    from genspec import spec
    ids = [cid for cid in spec.CLAUSES if spec.module_of(cid) == fam]
    out = dict.fromkeys(ids, 0.0) | {"(overhead)": 0.0}
    for pattern in PLACES.values():
        path = ROOT / pattern.format(fam)
        if not path.exists():
            continue
        stmts = _statements(path, ids)
        where = {name: i for i, st in enumerate(stmts) for name in st[1]}
        users: list[set] = [set() for _ in stmts]
        for i, (_, _, _, roots) in enumerate(stmts):
            stack, seen = [i], {i}
            while roots and stack:
                for name in stmts[stack.pop()][2]:
                    j = where.get(name)
                    if j is not None and j not in seen:
                        seen.add(j)
                        stack.append(j)
            for j in seen if roots else ():
                users[j] |= roots
        for (size, *_), who in zip(stmts, users, strict=True):
            for cid in who or ["(overhead)"]:
                out[cid] += size / max(len(who), 1)
    return {k: round(v, 1) for k, v in out.items()}


def main() -> None:
    if "--attribute" in sys.argv:
        fam = sys.argv[sys.argv.index("--attribute") + 1]
        for cid, n in attribute(fam).items():
            print(f"{cid:32s} {n:7.1f}")
        return
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
