"""Adapter size: code lines (no docstrings, comments or blank lines) per bound clause, per shipped adapter.

    python tools/adapter_size.py            # a table, and the average over the adapters whose library is installed
    python tools/adapter_size.py --json     # the same as JSON

A code line is a physical line holding a token other than a comment, a docstring or a line break: a statement split
over three lines counts three. A docstring is a string expression statement at the start of a module, class or
function body. Bound clauses are the entries of the adapter's ``target().bindings``, so the adapter's library must be
installed (the others are listed as not measured).
"""
from __future__ import annotations

import argparse
import ast
import io
import json
import os
import sys
import tokenize

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def code_lines(source: str) -> int:
    """Physical lines with code: every token line except comments, blank lines and docstrings."""
    tree = ast.parse(source)
    doc: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant) and \
                    isinstance(first.value.value, str):
                doc.update(range(first.lineno, first.end_lineno + 1))
        elif isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str):
            doc.update(range(node.lineno, node.end_lineno + 1))     # an attribute docstring
    lines: set[int] = set()
    skip = (tokenize.COMMENT, tokenize.NL, tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT, tokenize.ENDMARKER,
            tokenize.ENCODING)
    for tok in tokenize.generate_tokens(io.StringIO(source).readline):
        if tok.type not in skip:
            lines.update(range(tok.start[0], tok.end[0] + 1))
    return len(lines - doc)


def measure() -> dict:
    from genspec.conformance import adapters
    rows = {}
    for lib in adapters.ADAPTERS:
        path = os.path.join(os.path.dirname(adapters.__file__), f"{lib}.py")
        with open(path) as f:
            n = code_lines(f.read())
        if not adapters.installed(lib):
            rows[lib] = {"code_lines": n, "bound_clauses": None, "per_clause": None}
            continue
        bound = len(adapters.load(lib).bindings)
        rows[lib] = {"code_lines": n, "bound_clauses": bound, "per_clause": round(n / bound, 2)}
    measured = [r for r in rows.values() if r["bound_clauses"]]
    total = {"code_lines": sum(r["code_lines"] for r in measured),
             "bound_clauses": sum(r["bound_clauses"] for r in measured)}
    total["per_clause"] = round(total["code_lines"] / total["bound_clauses"], 2) if total["bound_clauses"] else None
    total["mean_of_adapters"] = round(sum(r["per_clause"] for r in measured) / len(measured), 2) if measured else None
    return {"adapters": rows, "total": total}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args(argv)
    m = measure()
    if a.json:
        print(json.dumps(m, indent=2))
        return 0
    print(f"{'adapter':16s} {'code lines':>10s} {'clauses':>8s} {'lines/clause':>12s}")
    for lib, r in m["adapters"].items():
        per = "not installed" if r["per_clause"] is None else f"{r['per_clause']:.2f}"
        print(f"{lib:16s} {r['code_lines']:10d} {r['bound_clauses'] or 0:8d} {per:>12s}")
    t = m["total"]
    print(f"{'all (pooled)':16s} {t['code_lines']:10d} {t['bound_clauses']:8d} {t['per_clause']:12.2f}")
    print(f"mean over adapters: {t['mean_of_adapters']:.2f} code lines per bound clause")
    return 0


if __name__ == "__main__":
    sys.exit(main())
