"""``genspec``: conform, list, explain, export."""
from __future__ import annotations

import argparse
import inspect
import json
import os
import sys
import textwrap

import numpy as np

import spec
from spec.errors import GenspecError


def _conform(a) -> int:
    import pytest
    here = os.path.dirname(os.path.abspath(__file__))
    argv = [os.path.join(here, "suite.py"), "-c", os.path.join(here, "conform.ini"), "--rootdir", here,
            "-p", "conformance.plugin", "--target", a.target, "--dtype", a.dtype, "--device", a.device,
            "--profile", a.profile, "--timeout", str(a.timeout), "-q" if not a.verbose else "-v",
            "--tb=" + ("short" if not a.verbose else "long"), "-W", "ignore::pytest.PytestAssertRewriteWarning"]
    for c in a.clause or []:
        argv += ["--clause", c]
    if a.report_json:
        argv += ["--report-json", a.report_json]
    if a.junit:
        argv += ["--junitxml", a.junit]
    if a.x:
        argv.append("-x")
    # validate early so bad input is one clear line, not a pytest traceback
    from .registry import select
    from .target import load
    tgt = load(a.target)
    if tgt.backend == "numpy" and a.dtype == "bfloat16":
        raise GenspecError(f"target {tgt.name!r} has the numpy backend, which has no bfloat16; use float64 or float32")
    select(a.clause)
    return int(pytest.main(argv))


def _list(a) -> int:
    from .registry import checks_for
    for c in spec.CLAUSES.values():
        if a.family and a.family not in (c.family, spec.module_of(c.id)):
            continue
        chk = checks_for(c.id)
        kinds = ",".join(c.kind)
        print(f"{c.id:40s} {kinds:24s} {len(chk.proofs)} proofs {len(chk.properties)} properties  {c.title}")
    return 0


def explain_text(clause_id: str) -> str:
    from .registry import checks_for, reference_function
    c = spec.get(clause_id)
    chk = checks_for(clause_id)
    out = [f"{c.id} — {c.title}  (spec {c.since}; kind: {', '.join(c.kind)})", "", "Statement:",
           textwrap.indent(c.statement, "    "), "", "Provenance:"]
    out += [f"    [{p.source[:2]}] {p.file}: \"{p.quote}\"" if not p.source.startswith("external:")
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
    if c.singular:
        out += ["", "Singular points:", textwrap.indent(textwrap.fill(c.singular, 96), "    ")]
    if c.notes:
        out += ["", "Notes:", textwrap.indent(textwrap.fill(c.notes, 96), "    ")]
    t = c.tolerance
    out += ["", "Tolerances (|target - reference| <= atol + rtol |reference|):"]
    for d in spec.schema.DTYPES:
        tt = t.for_dtype(d)
        out.append(f"    {d:9s} rtol={tt.rtol:.1e} atol={tt.atol:.1e}")
    out.append(f"    why: {t.why}")
    if chk.proofs:
        out += ["", "Derivations (sympy):"] + [f"    - {p.name}" + (f": {p.statement}" if p.statement else "")
                                                for p in chk.proofs]
    if chk.properties:
        out += ["", "Properties:"] + [f"    - {p.name}" + (f": {p.description}" if p.description else "")
                                      for p in chk.properties]
    ref = reference_function(clause_id)
    if ref is not None:
        out += ["", f"Reference ({ref.__module__}.{ref.__name__}):",
                textwrap.indent(inspect.getsource(ref).rstrip(), "    ")]
        if chk.example is not None:
            ex = chk.example()
            with np.printoptions(precision=6, suppress=True, threshold=20):
                out += ["", "Worked example:"]
                out += [f"    {k} = {_fmt(v)}" for k, v in ex.items()]
                out.append(f"    -> {ref.__name__}(...) = {_fmt(ref(**ex))}")
    return "\n".join(out)


def _fmt(v):
    if isinstance(v, np.ndarray):
        return np.array2string(v, separator=", ").replace("\n", "\n       ")
    if isinstance(v, tuple):
        return "(" + ", ".join(_fmt(x) for x in v) + ")"
    if isinstance(v, dict):
        return "{" + ", ".join(f"{k}: {_fmt(x)}" for k, x in v.items()) + "}"
    return repr(v)


def _explain(a) -> int:
    print(explain_text(a.clause))
    return 0


def _export(a) -> int:
    data = spec.json_schema() if a.schema else spec.export()
    text = json.dumps(data, indent=2, ensure_ascii=False)
    if a.path in (None, "-"):
        print(text)
    else:
        with open(a.path, "w") as f:
            f.write(text + "\n")
        print(f"wrote {a.path} ({'JSON Schema of a clause' if a.schema else f'{len(spec.CLAUSES)} clauses'})")
    return 0


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="genspec", description="genspec: an executable specification of generative models")
    p.add_argument("--version", action="version", version=f"genspec spec {spec.SPEC_VERSION}")
    sub = p.add_subparsers(dest="cmd", required=True)
    c = sub.add_parser("conform", help="run the conformance suite against a target")
    c.add_argument("--target", default=os.environ.get("GENSPEC_TARGET", "accelerated"),
                   help="reference | accelerated | module | module:attr (default: $GENSPEC_TARGET or accelerated)")
    c.add_argument("--dtype", default="float64", choices=spec.schema.DTYPES)
    c.add_argument("--device", default="cpu")
    c.add_argument("--profile", default="ci", choices=["ci", "dev", "thorough"])
    c.add_argument("--clause", action="append", help="clause id, family, or prefix* (repeatable)")
    c.add_argument("--timeout", type=float, default=20.0, help="seconds per target call")
    c.add_argument("--report-json", metavar="PATH")
    c.add_argument("--junit", metavar="PATH", help="write JUnit XML")
    c.add_argument("-x", action="store_true", help="stop at the first failure")
    c.add_argument("-v", "--verbose", action="store_true")
    c.set_defaults(fn=_conform)
    l = sub.add_parser("list", help="list the clauses")
    l.add_argument("family", nargs="?")
    l.set_defaults(fn=_list)
    e = sub.add_parser("explain", help="statement, provenance, conventions, reference and an example")
    e.add_argument("clause")
    e.set_defaults(fn=_explain)
    x = sub.add_parser("export", help="write the spec (or its JSON Schema) as JSON")
    x.add_argument("path", nargs="?")
    x.add_argument("--schema", action="store_true")
    x.set_defaults(fn=_export)
    from accelerated.models import jobs  # `genspec train <job>` (h10)
    jobs.add_parser(sub)
    return p


def main(argv=None) -> int:
    a = parser().parse_args(argv)
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
