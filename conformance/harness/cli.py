"""``genspec``: conform, list, explain, export."""
from __future__ import annotations

import argparse
import inspect
import json
import os
import sys
import textwrap

from genspec import spec
from genspec.spec.errors import GenspecError

from .registry import SELECTOR_HELP


def _conform(a) -> int:
    import pytest

    from .context import validate_options
    from .plugin import load_target
    from .registry import select
    # validate early so bad input is one clear line, not a pytest traceback
    tgt = load_target(a.target)
    validate_options(tgt, a.dtype, a.device, a.timeout)
    select(a.clause)
    here = os.path.dirname(os.path.abspath(__file__))
    argv = [os.path.join(here, "suite.py"), "-c", os.path.join(here, "conform.ini"), "--rootdir", here,
            "-p", "genspec.conformance.harness.plugin", "--target", a.target, "--dtype", a.dtype, "--device", a.device,
            "--profile", a.profile, "--timeout", repr(a.timeout), "--assert=plain",
            "-W", "ignore::pytest.PytestAssertRewriteWarning"]
    # genspec prints one table and one summary line itself; -v gives pytest's own verbose output as well
    argv += ["-v", "--tb=long"] if a.verbose else ["-p", "no:terminal"]
    for c in a.clause or []:
        argv += ["--clause", c]
    if a.report_json:
        argv += ["--report-json", _writable(a.report_json)]
    if a.junit:
        argv += ["--junitxml", _writable(a.junit)]
    if a.x:
        argv.append("-x")
    if a.seed is not None:
        argv += ["--seed", str(a.seed)]
    if a.quiet:
        argv.append("--no-table")
    if a.n:                                          # pytest-xdist: the checks spread over a.n worker processes
        argv += ["-p", "xdist", "-n", str(a.n)]
    argv += ["-p", "no:unraisableexception", "-p", "no:threadexception"]  # their end-of-run gc costs ~1 s
    old = os.environ.get("PYTEST_DISABLE_PLUGIN_AUTOLOAD")
    os.environ["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"  # the suite needs no third-party pytest plugin
    try:
        code = int(pytest.main(argv))
    finally:
        if old is None:
            del os.environ["PYTEST_DISABLE_PLUGIN_AUTOLOAD"]
        else:
            os.environ["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = old
    return 2 if code == pytest.ExitCode.USAGE_ERROR else code


def _workers(v: str) -> int:
    if not v.isdigit():
        raise argparse.ArgumentTypeError(f"a number of worker processes >= 0, got {v!r}")
    return int(v)


def _writable(path: str) -> str:
    """A report path whose directory exists, else one clear error before anything runs."""
    d = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(d):
        raise GenspecError(f"cannot write {path}: directory {d} does not exist")
    return path


def _list(a) -> int:
    from .registry import counts, select
    from .report import plural
    for cid in select(a.selectors):
        c = spec.get(cid)
        proofs, properties = counts(cid)                  # from the checks' source: no checks module imported
        kinds = ",".join(c.kind)
        counts_ = f"{plural(proofs, 'proof')} {plural(properties, 'property', 'properties')}"
        print(f"{c.id:40s} {kinds:24s} {counts_:22s}  {c.title}")
    return 0


_DRAWN = {"singular": "the point, and 1e-15..1e-3 relative and 1, 2, 4 ulps either side",
          "threshold": "the point, and 1e-15..1e-3 relative and 1, 2, 4 ulps either side",
          "tie": "exact and near ties",
          "zero": "0, subnormal and tiny norms"}
"""What conformance/harness/inputs.py draws at each kind of declared boundary (explain's wording)."""


def explain_text(clause_id: str) -> str:
    from .registry import checks_for, reference_function
    c = spec.get(clause_id)
    chk = checks_for(clause_id)
    out = [f"{c.id} — {c.title}  (spec {c.since}; kind: {', '.join(c.kind)})", "", "Statement:",
           textwrap.indent(c.statement, "    ")]
    if c.expression is not None:
        out += ["", "As computed (sympy, the default variants; the reference is checked against it):",
                f"    {c.expression}"] + [f"    {k}: {e}" for k, e in c.variant_expressions.items()]
    if c.laws:
        out += ["", "Laws (proven where there is an expression above, checked on every target):"]
        out += [f"    - {law.name}: {law.of} = {law.equals}"
                + (f" at {', '.join(f'{k} = {e}' for k, e in law.at.items())}" if law.at else "") for law in c.laws]
    out += ["", "Provenance:"]
    out += [f"    [{p.source[:2]}] {p.file} ({p.title}): \"{p.quote}\"" if not p.source.startswith("external:")
            else f"    [{p.source}] \"{p.quote}\"" for p in c.provenance]
    if c.symbols:
        out += ["", "Symbols:"]
        out += [f"    {s.name:10s} {s.role:9s} {s.domain.describe():40s} {s.description}" for s in c.symbols]
    if c.conventions:
        out += ["", "Conventions:"]
        for cv in c.conventions:
            out.append(f"    {cv.name}: {cv.description} (default: {cv.default})")
            for v in cv.variants:
                out.append(f"      - {v.name}: {v.statement}   [{v.mapping}]"
                           + (f" (sources {', '.join(v.sources)})" if v.sources else ""))
                names = {s.name for s in c.inputs}
                takes = [f"{k} ↦ {e}" for k, e in v.arguments.items() if k in names]
                if takes:
                    out.append(f"        in the default's units: {', '.join(takes)} (the harness converts)")
    from .bind import calling_convention
    out += calling_convention(clause_id)
    if c.singular:
        out += ["", "Singular points:", textwrap.indent(textwrap.fill(c.singular, 96), "    ")]
    if c.boundaries:          # the same points as data: where the suite draws (conformance/harness/inputs.py)
        out += ["", "Boundaries drawn by the suite:"]
        for b in c.boundaries:
            at = f" = {', '.join(f'{v:g}' for v in b.at)}" if b.at else ""
            where = "; ".join(", ".join(f"{k} in {{{', '.join(v)}}}" for k, v in w.items()) for w in b.when)
            head = f"{b.kind} of {b.symbol}{at}: {b.exactly}" + (f" ({b.rule})" if b.rule else "") + \
                (f"; where {where}" if where else "")
            out += [textwrap.fill(head + f" [drawn: {_DRAWN[b.kind]}]", 96, initial_indent="    - ",
                                  subsequent_indent="      "),
                    textwrap.fill(b.why, 96, initial_indent="      ", subsequent_indent="      ")]
    if c.notes:
        out += ["", "Notes:", textwrap.indent(textwrap.fill(c.notes, 96), "    ")]
    t = c.tolerance
    out += ["", "Tolerances (|target - reference| <= atol + rtol |reference|):"]
    for d in spec.schema.DTYPES:
        tt = t.for_dtype(d)
        out.append(f"    {d:9s} rtol={tt.rtol:.1e} atol={tt.atol:.1e}")
    out.append(f"    why: {t.why}")
    if c.error_scale is not None:
        out.append(f"    errors are divided by M = {c.error_scale} elementwise first")
    if chk.proofs:
        out += ["", "Derivations (sympy):"] + [f"    - {p.name}" + (f": {p.statement}" if p.statement else "")
                                                for p in chk.proofs]
    more = [p for p in chk.properties if p.name not in {law.name for law in c.laws}]      # laws are listed above
    if more:
        out += ["", "Properties:"] + [f"    - {p.name}" + (f": {p.description}" if p.description else "")
                                      for p in more]
    ref = reference_function(clause_id)
    if ref is not None:
        out += ["", f"Reference ({ref.__module__}.{ref.__name__}):",
                textwrap.indent(inspect.getsource(ref).rstrip(), "    ")]
        for h in private_helpers(ref):
            out += [f"  which calls {h.__module__}.{h.__name__}:",
                    textwrap.indent(inspect.getsource(h).rstrip(), "    ")]
        if chk.example is not None:
            import numpy as np
            ex = chk.example()
            with np.printoptions(precision=6, suppress=True, threshold=20):
                out += ["", "Worked example:"]
                out += [f"    {k} = {_fmt(v)}" for k, v in ex.items()]
                out.append(f"    -> {ref.__name__}(...) = {_fmt(ref(**ex))}")
    return "\n".join(out)


def private_helpers(fn) -> list:
    """The module-private functions (``_name``) of ``fn``'s module that ``fn`` calls, transitively, in call order:
    where a reference function delegates its formula, ``explain`` shows the formula too."""
    import types
    seen: list = []

    def names(code):
        yield from code.co_names
        for k in code.co_consts:
            if isinstance(k, types.CodeType):
                yield from names(k)

    def visit(f):
        glb = getattr(f, "__globals__", {})
        for n in names(f.__code__):
            h = glb.get(n)
            if (n.startswith("_") and isinstance(h, types.FunctionType) and h.__module__ == fn.__module__
                    and h is not fn and h not in seen):
                seen.append(h)
                visit(h)

    if isinstance(fn, types.FunctionType):
        visit(fn)
    return seen


def _fmt(v):
    import numpy as np
    if isinstance(v, np.ndarray):
        return np.array2string(v, separator=", ").replace("\n", "\n       ")
    if isinstance(v, tuple):
        return "(" + ", ".join(_fmt(x) for x in v) + ")"
    if isinstance(v, dict):
        return "{" + ", ".join(f"{k}: {_fmt(x)}" for k, x in v.items()) + "}"
    return repr(v)


def _explain(a) -> int:
    from .registry import select
    ids = select(a.selectors)
    print(("\n\n" + "=" * 100 + "\n\n").join(explain_text(cid) for cid in ids))
    return 0


def _export(a) -> int:
    data = spec.json_schema() if a.schema else spec.export()
    text = json.dumps(data, indent=2, ensure_ascii=False)
    if a.path in (None, "-"):
        print(text)
    else:
        try:
            with open(a.path, "w") as f:
                f.write(text + "\n")
        except OSError as e:
            raise GenspecError(f"cannot write {a.path}: {e.strerror}") from None
        print(f"wrote {a.path} ({'JSON Schema of a clause' if a.schema else f'{len(spec.CLAUSES)} clauses'})")
    return 0


class _Parser(argparse.ArgumentParser):
    """argparse with genspec's one-line errors: ``genspec: error: ...`` and exit 2 (no usage block)."""

    def error(self, message):
        self.exit(2, f"genspec: error: {message} (see {self.prog} --help)\n")


LIGHT = ("conform", "list", "explain", "export")
"""The commands whose parser needs none of the model stack, the matrix, the goldens or the benchmarks: ``main``
builds them alone (and ``--version``), so those imports are not paid for."""


def parser(full: bool = True) -> argparse.ArgumentParser:
    p = _Parser(prog="genspec", description="genspec: an executable specification of generative models")
    p.add_argument("--version", action="version", version=f"genspec spec {spec.SPEC_VERSION}")
    sub = p.add_subparsers(dest="cmd", metavar="COMMAND")
    c = sub.add_parser("conform", help="run the conformance suite against a target")
    c.add_argument("--target", default=os.environ.get("GENSPEC_TARGET", "accelerated"),
                   help="reference | accelerated | module | module:attr (default: $GENSPEC_TARGET or accelerated)")
    c.add_argument("--dtype", default="float64", choices=spec.schema.DTYPES)
    c.add_argument("--device", default="cpu", help="cpu, cuda, cuda:N, mps (checked up front; torch targets only)")
    c.add_argument("--profile", default="ci", choices=["ci", "dev", "thorough"])
    c.add_argument("--seed", type=int, metavar="N",
                   help="hypothesis' seed for --profile dev/thorough (the header prints the one picked; N replays it)")
    c.add_argument("--clause", action="append", metavar="SELECTOR", help=f"{SELECTOR_HELP} (repeatable)")
    c.add_argument("--timeout", type=float, default=20.0, help="seconds one target call may take (> 0)")
    c.add_argument("--report-json", metavar="PATH")
    c.add_argument("--junit", metavar="PATH", help="write JUnit XML")
    c.add_argument("-x", action="store_true", help="stop at the first failure")
    loud = c.add_mutually_exclusive_group()
    loud.add_argument("-v", "--verbose", action="store_true", help="pytest's verbose output and long tracebacks too")
    loud.add_argument("-q", "--quiet", action="store_true", help="no table: failures and the summary line only")
    c.add_argument("-n", type=_workers, default=0, metavar="N",
                   help="run the checks in N worker processes (pytest-xdist; 0: in this process, the default)")
    c.set_defaults(fn=_conform)
    l = sub.add_parser("list", help="list the clauses")
    l.add_argument("selectors", nargs="*", metavar="SELECTOR", help=SELECTOR_HELP)
    l.set_defaults(fn=_list)
    e = sub.add_parser("explain", help="statement, provenance, conventions, reference and an example")
    e.add_argument("selectors", nargs="+", metavar="SELECTOR", help=SELECTOR_HELP)
    e.set_defaults(fn=_explain)
    x = sub.add_parser("export", help="write the spec (or its JSON Schema) as JSON")
    x.add_argument("path", nargs="?")
    x.add_argument("--schema", action="store_true")
    x.set_defaults(fn=_export)
    if not full:
        return p
    from genspec.accelerated import jobs  # `genspec train <job>`: accelerated/jobs/__init__.py
    jobs.add_parser(sub)
    from .matrix import add_parser as add_matrix  # genspec matrix: the library adapters (conformance/adapters/)
    add_matrix(sub)
    from ..golden import add_parser as add_golden  # genspec golden export|check (conformance/golden/)
    add_golden(sub)
    from ..book.cli import add_parser as add_docs  # genspec docs build DIR (conformance/book/; the [docs] extra)
    add_docs(sub)
    try:
        from genspec.benchmarks.runner import add_parser as add_bench  # `genspec bench`: benchmarks/runner.py
        add_bench(sub)
    except ImportError:  # installed without the benchmarks package
        pass
    return p


BLAS_THREAD_VARS = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")


def main(argv=None) -> int:
    # the suite's arrays are tiny: one BLAS thread is faster than a thread pool, which spins on a shared machine
    # (measured: 4.2 s vs 6.3 s of CPU for --clause optimal on 2 cores). Only if numpy is not loaded yet and the
    # user set nothing; GENSPEC_BLAS_THREADS=N changes it.
    if "numpy" not in sys.modules:
        for v in BLAS_THREAD_VARS:
            os.environ.setdefault(v, os.environ.get("GENSPEC_BLAS_THREADS", "1"))
    args = sys.argv[1:] if argv is None else list(argv)
    command = next((x for x in args if not x.startswith("-")), None)
    p = parser(full=not (command in LIGHT or (command is None and args and "--version" in args)))
    a = p.parse_args(args)
    if a.cmd is None:
        commands = next(x for x in p._actions if isinstance(x, argparse._SubParsersAction)).choices
        p.error(f"a command is required: one of {', '.join(commands)}")
    if os.getcwd() not in sys.path:  # a third party's target module usually lives in the working directory
        sys.path.insert(0, os.getcwd())
    try:
        return a.fn(a)
    except BrokenPipeError:  # e.g. `genspec explain x | head`
        return 0
    except GenspecError as e:
        print(f"genspec: error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
