"""Golden vectors: the spec's value clauses as versioned, hashed files that any language can check itself against.

``genspec golden export DIR`` writes them (export.py; layout and formats in docs/golden.md); ``genspec golden check
DIR RESULTS`` compares a foreign implementation's outputs with them and reports exactly like ``genspec conform``
(check.py). examples/golden_c/ is a worked example in C.
"""
from __future__ import annotations

import json
import os
import time

from genspec import spec

from .check import check, junit, load_manifest
from .codec import GoldenError
from .export import export

__all__ = ["add_parser", "check", "export", "junit", "load_manifest", "GoldenError"]


def add_parser(subparsers) -> None:
    """Register ``genspec golden export|check`` on the CLI's subparsers."""
    g = subparsers.add_parser("golden", help="golden vectors for implementations in other languages")
    sub = g.add_subparsers(dest="golden_cmd", required=True)
    e = sub.add_parser("export", help="write the goldens of every value clause to DIR (deterministic)")
    e.add_argument("dir")
    e.add_argument("--clause", action="append", help="clause id, family, or prefix* (repeatable; default: all)")
    e.add_argument("--cases", type=int, default=None, help="drawn cases per convention variant (default 10)")
    e.set_defaults(fn=export_command)
    c = sub.add_parser("check", help="check a foreign implementation's RESULTS against the goldens in DIR")
    c.add_argument("dir")
    c.add_argument("results", help="folder with <dtype>/<clause>.json result files")
    c.add_argument("--dtype", default="float64", choices=spec.schema.DTYPES)
    c.add_argument("--clause", action="append", help="clause id, family, or prefix* (repeatable)")
    c.add_argument("--report-json", metavar="PATH")
    c.add_argument("--junit", metavar="PATH", help="write JUnit XML")
    c.add_argument("-q", "--quiet", action="store_true", help="no table, only the summary line")
    c.set_defaults(fn=check_command)


def export_command(a) -> int:
    from ..harness.registry import select
    if a.cases is not None and a.cases < 1:
        raise GoldenError(f"--cases must be ≥ 1, got {a.cases}")
    t0 = time.perf_counter()
    m = export(a.dir, select(a.clause) if a.clause else None, a.cases)
    dt = time.perf_counter() - t0
    files = [f for e in m["clauses"].values() for f in e["files"].values()]
    skipped = [c for c, e in m["clauses"].items() if not e["exportable"]]
    size = sum(f["bytes"] for f in files) + os.path.getsize(os.path.join(a.dir, "manifest.json"))
    print(f"wrote {len(files) + 1} files ({size / 1e6:.1f} MB) to {a.dir}: {len(m['clauses']) - len(skipped)} "
          f"clauses with goldens, {sum(f.get('cases', 0) for f in files)} cases, in {dt:.1f}s")
    if skipped:
        print(f"not exportable ({len(skipped)}, reasons in manifest.json): {', '.join(skipped)}")
    return 0


def check_command(a) -> int:
    from ..harness import report
    rep = check(a.dir, a.results, a.dtype, a.clause)
    if a.report_json:
        _write(a.report_json, json.dumps(rep, indent=2) + "\n")
    if a.junit:
        _write(a.junit, junit(rep))
    print("\n".join(report.terminal(rep, quiet=a.quiet)))  # the failing cases too: case, what, expected and got
    return 1 if rep["summary"]["failed"] else 0


def _write(path: str, text: str) -> None:
    folder = os.path.dirname(path) or "."
    if not os.path.isdir(folder):
        raise GoldenError(f"cannot write {path}: folder {folder} does not exist")
    with open(path, "w") as f:
        f.write(text)
