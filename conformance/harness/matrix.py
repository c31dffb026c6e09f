"""``genspec matrix``: every installed adapter (conformance/adapters/) × every clause it binds → passed / failed /
not implemented, with the worst error ratio, at float32 and float64; Markdown and JSON.

A failure recorded in the adapter's expected-outcomes file (conformance/adapters/expected/) is shown as expected and
does not fail the run; an expected failure that passes is a warning. Exit status 0: no unexpected failure; 1: one.
"""
from __future__ import annotations

import json
import os
import sys
import time

from genspec import spec
from genspec.spec.errors import GenspecError

from . import api

DTYPES = ("float32", "float64")
MARK = {"passed": "✓", "failed": "✗", "not implemented": "n/i"}


def run(libraries: list[str] | None = None, dtypes=DTYPES, profile: str = "ci", log=None, workers: int = 0) -> dict:
    """The matrix as data: per library its version, per clause and dtype the status and worst error ratio. ``log``
    (a callable taking a line) hears each library as it starts and finishes: a matrix takes minutes. ``workers``
    > 0: the cells (library, convention variant, dtype) run in that many pytest-xdist worker processes; the result
    is the serial run's (each check's draws are seeded from its clause and name), ``duration_s`` aside."""
    from genspec.conformance import adapters
    say = log or (lambda line: None)
    libs = list(libraries or adapters.ADAPTERS)
    todo = [lib for lib in libs if adapters.installed(lib)]
    for i, lib in enumerate(libs, 1):
        if lib not in todo:
            say(f"matrix [{i}/{len(libs)}] {lib}: not installed (pip install {adapters.PIP[lib]})")
    cells = [(lib, i, d) for lib in todo for i in range(1 + len(adapters.variants(lib))) for d in dtypes]
    m = _Matrix(libs, dtypes, profile, cells, say)
    if workers:
        _run_xdist(m, workers)
    else:
        for cell in cells:
            m.start(cell[0])
            t0 = time.perf_counter()
            m.done(cell, check_cell(*cell, profile), time.perf_counter() - t0)
    return m.result()


def check_cell(lib: str, variant_index: int, dtype: str, profile: str) -> str:
    """One cell of the matrix: the library's adapter in its convention variant ``variant_index`` (0: the default,
    then adapters.variants(lib)), every clause it binds, at ``dtype``; JSON: [[row, ClauseResult as a dict], ...]
    (text, so a pytest-xdist worker ships exactly what the serial run computes)."""
    from dataclasses import asdict

    from genspec.conformance import adapters
    variant: dict[str, str] = ([{}] + adapters.variants(lib))[variant_index]
    tgt = adapters.load(lib, **variant)
    clauses = [c for c in spec.CLAUSES if tgt.binding(c) is not None
               and set(variant) <= set(tgt.conventions_for(c))]      # a variant: the clauses it concerns
    checked = api.check(tgt, clauses, dtype=dtype, profile=profile, target_independent=False, shrink=False)
    return json.dumps([[row_name(row, variant), asdict(r)] for row, r in checked.items()])


class _Matrix:
    """Builds run()'s result from the cells as they finish (in any order: the xdist workers), in the serial order,
    and says when each library starts and ends."""

    def __init__(self, libs, dtypes, profile, cells, say) -> None:
        self.libs, self.dtypes, self.cells, self.say = libs, tuple(dtypes), cells, say
        self.out: dict = {"spec_version": spec.SPEC_VERSION, "profile": profile, "dtypes": list(dtypes),
                          "libraries": {}}
        self.got: dict = {}
        self.seconds: dict[str, float] = {}
        self.started: set[str] = set()
        self.by_node: dict[str, tuple] = {}          # the xdist run: node id → cell
        self.errors: list[str] = []                  # the xdist run: cells that raised

    def n(self, lib: str) -> str:
        return f"[{self.libs.index(lib) + 1}/{len(self.libs)}]"

    def start(self, lib: str) -> None:
        from importlib.metadata import version
        if lib not in self.started:
            self.started.add(lib)
            self.say(f"matrix {self.n(lib)} {lib} {version(lib)}: checking at {', '.join(self.dtypes)} ...")

    def done(self, cell: tuple, text: str, seconds: float) -> None:
        self.got[cell] = text
        self.seconds[cell[0]] = self.seconds.get(cell[0], 0.0) + seconds
        lib = cell[0]
        if all(c in self.got for c in self.cells if c[0] == lib):
            self._library(lib)

    def _library(self, lib: str) -> None:
        from importlib.metadata import version

        from genspec.conformance import adapters
        from genspec.conformance.adapters import expected as E
        exp = E.load(lib)
        cells: dict = {}
        results: dict = {}
        for cell in [c for c in self.cells if c[0] == lib]:     # the serial order: variant, dtype, row
            for row, d in json.loads(self.got[cell]):
                r = api.ClauseResult(**{**d, "failures": [tuple(x) for x in d["failures"]],
                                        "not_implemented": [tuple(x) for x in d["not_implemented"]]})
                _cell(cells, row, cell[2], r, exp)
                results[row, cell[2]] = r
        unexpected, warnings = E.verdicts(lib, results, exp)
        pin = E.recorded_for(lib)        # "<PyPI name>==<version>"; lib is the import name (k_diffusion)
        installed = f"{adapters.PIP[lib].split('==')[0]}=={version(lib)}"
        if pin is not None and pin != installed:
            warnings.append(f"{lib}: conformance/adapters/expected/{lib}.json was measured with {pin}, but "
                            f"{installed} is installed: its records may not hold; re-measure them")
        self.out["libraries"][lib] = {"installed": True, "version": version(lib), "clauses": cells,
                                      "unexpected_failures": unexpected, "warnings": warnings,
                                      "duration_s": round(self.seconds[lib], 1)}
        failed = sum(c.get(d, {}).get("status") == "failed" for c in cells.values() for d in self.dtypes)
        self.say(f"matrix {self.n(lib)} {lib}: {len(cells)} rows in {self.seconds[lib]:.0f} s, "
                 f"{failed} failed cells ({len(unexpected)} unexpected)")

    def result(self) -> dict:
        from genspec.conformance import adapters
        libraries = {}
        for lib in self.libs:
            if lib in self.out["libraries"]:
                libraries[lib] = self.out["libraries"][lib]
            elif not any(c[0] == lib for c in self.cells):
                libraries[lib] = {"installed": False, "install": adapters.PIP[lib]}
        self.out["libraries"] = libraries
        return self.out

    # the xdist controller's hooks (a plugin object of this run only): a cell's start and its shipped result
    def pytest_runtest_logstart(self, nodeid, location):
        self.start(self.by_node[nodeid][0])

    def pytest_runtest_logreport(self, report):
        cell = self.by_node.get(report.nodeid)
        if cell is None:
            return
        if report.failed:
            self.errors.append(f"{'/'.join(map(str, cell))}: {str(report.longrepr).strip().splitlines()[-1]}")
        elif report.when == "call":
            self.done(cell, dict(report.user_properties)[_SHIPPED], report.duration)


_SHIPPED = "genspec_matrix_cell"


def _run_xdist(m: _Matrix, workers: int) -> None:
    """The cells as the parametrized items of matrix_suite.py, spread over ``workers`` processes by pytest-xdist
    (worksteal: a cell takes seconds to minutes, so an idle worker takes queued cells from a busy one)."""
    import pytest
    here = os.path.dirname(os.path.abspath(__file__))
    ids = [f"{lib}-{i}-{d}" for lib, i, d in m.cells]
    m.by_node = {f"matrix_suite.py::test_cell[{x}]": c for x, c in zip(ids, m.cells, strict=True)}
    argv = [os.path.join(here, "matrix_suite.py"), "-c", os.path.join(here, "conform.ini"), "--rootdir", here,
            "-p", "genspec.conformance.harness.matrix", "--matrix-cells", json.dumps(m.cells),
            "--matrix-profile", m.out["profile"], "-p", "no:terminal", "-p", "xdist", "-n", str(workers),
            "--dist", "worksteal", "-p", "no:unraisableexception", "-p", "no:threadexception"]
    old = os.environ.get("PYTEST_DISABLE_PLUGIN_AUTOLOAD")
    os.environ["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"
    try:
        code = pytest.main(argv, plugins=[m])
    finally:
        if old is None:
            del os.environ["PYTEST_DISABLE_PLUGIN_AUTOLOAD"]
        else:
            os.environ["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = old
    missing = [c for c in m.cells if c not in m.got]
    if m.errors or missing or code not in (0,):
        raise GenspecError(f"genspec matrix -n {workers}: {len(missing)} of {len(m.cells)} cells gave no result "
                           f"(pytest exit {int(code)}): " + "; ".join(m.errors or ["/".join(map(str, c))
                                                                                   for c in missing]))


def pytest_addoption(parser):
    """Options of matrix_suite.py (``-p genspec.conformance.harness.matrix``): the cells and the profile."""
    parser.addoption("--matrix-cells", dest="matrix_cells", default="[]", help="JSON list of [library, variant, dtype]")
    parser.addoption("--matrix-profile", dest="matrix_profile", default="ci")


def row_name(cid: str, variant: dict) -> str:
    """A matrix row: the clause id (or api.check's row, with the target's declared variants), with the adapter
    module's convention variant (``VARIANTS``) when it is not the default."""
    return cid + "".join(f" ({k}={v})" for k, v in variant.items())


def _cell(cells: dict, row: str, dtype: str, r, exp: dict) -> None:
    e = exp.get((row, dtype))
    cells.setdefault(row, {})[dtype] = {
        "status": r.status, "max_error_over_tolerance": r.max_error_over_tolerance,
        "max_abs_error": r.max_abs_error, "worst_check": r.worst_check,
        "tolerance_dtype": r.tolerance_dtype, "partial": bool(r.unsupported or r.not_implemented),
        "unsupported": r.unsupported, "not_implemented": [c for c, _ in r.not_implemented],
        "failures": [f"{c}: {m.splitlines()[0][:300]}" for c, m in r.failures],
        "expected": e.why if e is not None and (r.status == "failed" or e.input_dependent) else None,
        "expected_measured": e.measured if e is not None else None}


def _show(c: dict | None) -> str:
    if c is None:
        return "—"
    s = MARK[c["status"]] + (" partial" if c["partial"] and c["status"] == "passed" else "")
    if c["status"] != "not implemented":
        s += f" {c['max_error_over_tolerance']:.1e}"
    if c["expected"]:
        s += " (expected)" if c["status"] == "failed" else " (fails on other inputs)"
    return s


def markdown(m: dict) -> str:
    """One table: a row per clause bound by any library, a column per library and dtype; then the expected
    differences with their reasons."""
    libs = [lib for lib, v in m["libraries"].items() if v["installed"]]
    names = {r for lib in libs for r in m["libraries"][lib]["clauses"]}
    rows = [r for c in spec.CLAUSES for r in sorted(n for n in names if n.split(" ")[0] == c)]
    head = ["clause"] + [f"{lib} {m['libraries'][lib]['version']} {d}" for lib in libs for d in m["dtypes"]]
    out = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for c in rows:
        cells = [_show(m["libraries"][lib]["clauses"].get(c, {}).get(d)) for lib in libs for d in m["dtypes"]]
        out.append(f"| `{c}` | " + " | ".join(cells) + " |")
    out += ["", "✓ passed, ✗ failed, n/i not implemented (outside the library's declared support), — not bound; the "
                "number is the worst error / tolerance over every check (a failure at ≤ 1 failed a check that has no "
                "number, e.g. a value returned where the spec requires an error). partial: checked on the declared "
                "subset.", ""]
    for lib in libs:
        for c, row in m["libraries"][lib]["clauses"].items():
            ds = [d for d, v in row.items() if v["expected"]]
            if ds:
                out.append(f"- {lib} `{c}` ({', '.join(ds)}, expected): {row[ds[0]]['expected']} "
                           f"Recorded: {row[ds[0]]['expected_measured']}.")
    absent = [f"{lib} (`pip install {v['install']}`)" for lib, v in m["libraries"].items() if not v["installed"]]
    if absent:
        out.append(f"\nNot installed, not run: {', '.join(absent)}.")
    return "\n".join(out) + "\n"


def main(a) -> int:
    m = run(a.adapter, tuple(a.dtype or DTYPES), a.profile,
            log=lambda line: print(f"genspec: {line}", file=sys.stderr, flush=True), workers=getattr(a, "n", 0))
    md = markdown(m)
    if a.out:
        os.makedirs(a.out, exist_ok=True)
        with open(os.path.join(a.out, "matrix.md"), "w") as f:
            f.write(md)
        with open(os.path.join(a.out, "matrix.json"), "w") as f:
            json.dump(m, f, indent=2)
    if a.readme:
        write_readme(a.readme, md)
    print(md)
    libs = m["libraries"].values()
    for w in [w for v in libs for w in v.get("warnings", [])]:
        print(f"genspec: warning: {w}", file=sys.stderr)
    bad = [u for v in libs for u in v.get("unexpected_failures", [])]
    for u in bad:
        print(f"genspec: unexpected failure: {u}", file=sys.stderr)
    if not any(v["installed"] for v in libs):
        print("genspec: error: no adapter's library is installed: pip install \"genspec[peers]\" -c "
              "peers-constraints.txt", file=sys.stderr)
        return 5
    return 1 if bad else 0


def write_readme(path: str, md: str) -> None:
    """Replace the block between ``<!-- matrix -->`` and ``<!-- /matrix -->`` in ``path`` with the matrix."""
    import re
    with open(path) as f:
        text = f.read()
    block = re.compile(r"<!-- matrix -->\n.*?<!-- /matrix -->", re.S)
    if not block.search(text):
        raise GenspecError(f"{path} has no <!-- matrix --> ... <!-- /matrix --> block to replace")
    with open(path, "w") as f:
        f.write(block.sub(lambda _: f"<!-- matrix -->\n{md}<!-- /matrix -->", text))


def add_parser(sub) -> None:
    from genspec.conformance.adapters import ADAPTERS
    p = sub.add_parser("matrix", help="run the library adapters: library × clause at float32 and float64")
    p.add_argument("--adapter", action="append", choices=ADAPTERS,
                   help="repeatable; default: every adapter whose library is installed")
    p.add_argument("--dtype", action="append", choices=list(DTYPES), help="repeatable; default: both")
    p.add_argument("--profile", default="ci", choices=["ci", "dev", "thorough"])
    p.add_argument("--out", metavar="DIR", help="write DIR/matrix.md and DIR/matrix.json")
    p.add_argument("--readme", metavar="PATH", help="replace the <!-- matrix --> block of PATH (README.md) with it")
    from .cli import _workers
    p.add_argument("-n", type=_workers, default=0, metavar="N",
                   help="run the cells (library, variant, dtype) in N worker processes (pytest-xdist; 0: in this "
                        "process, the default); the table is the serial run's")
    p.set_defaults(fn=main)
