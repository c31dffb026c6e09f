"""One page per clause, generated from its record (spec/), its checks (conformance/checks/), its reference and
accelerated functions and the matrix records: nothing on the page is written anywhere else."""
from __future__ import annotations

import ast
import inspect
import textwrap

import numpy as np
import sympy

from genspec import spec
from genspec.conformance.harness.cli import _fmt, private_helpers
from genspec.conformance.harness.declare import Dual
from genspec.conformance.harness.registry import checks_for, reference_function
from genspec.spec.errors import GenspecError
from genspec.spec.schema import DTYPES, SOURCES, Clause

from . import peers as P
from . import unimath as U
from .text import code_span, display, is_latex, math, prose, table

KIND = {"identity": "sympy proves it", "property": "invariants checked on the target",
        "value": "the target equals the reference"}


def accelerated_function(clause_id: str):
    """accelerated.<module>.<function>, as ``genspec conform --target accelerated`` binds it (None if absent)."""
    import importlib
    c = spec.get(clause_id)
    if c.function is None:
        return None
    try:
        mod = importlib.import_module(f"genspec.accelerated.{spec.module_of(clause_id)}")
    except ModuleNotFoundError:
        return None
    return getattr(mod, c.function, None)


def source_link(p) -> str:
    if p.source.startswith("external:"):
        return prose(p.source.removeprefix("external:").strip())
    return f"[{p.source}] {prose(p.title)} (`{SOURCES[p.source]}`)"


def latex(e) -> str:
    return sympy.latex(e)


# ---- the worked example, executed -------------------------------------------------------------------------------
class ExampleFailed(GenspecError):
    pass


def run_example(clause_id: str) -> dict | None:
    """The clause's worked example (ClauseChecks.example) run through the reference, and through the accelerated
    function on the same inputs as torch tensors: {inputs, reference, accelerated, max_abs_diff}. A raising example
    fails the build (ExampleFailed names the clause)."""
    chk = checks_for(clause_id)
    ref = reference_function(clause_id)
    if chk.example is None or ref is None:
        return None
    try:
        ex = chk.example()
        out = ref(**ex)
    except Exception as e:  # noqa: BLE001 - any failure of an example fails the build, named
        raise ExampleFailed(f"docs: the worked example of {clause_id} failed in the reference: "
                            f"{type(e).__name__}: {e}") from e
    acc = accelerated_function(clause_id)
    got = diff = None
    if acc is not None:
        import torch

        from genspec.conformance.harness.context import Context

        def to_torch(v):
            if isinstance(v, Dual):
                return v.torch
            if isinstance(v, np.ndarray):
                return torch.from_numpy(v.copy())
            if isinstance(v, (list, tuple)):
                return type(v)(to_torch(x) for x in v)
            return v
        try:
            got = Context.to_numpy(acc(**{k: to_torch(v) for k, v in ex.items()}))
        except Exception as e:  # noqa: BLE001
            raise ExampleFailed(f"docs: the worked example of {clause_id} failed in accelerated."
                                f"{spec.module_of(clause_id)}.{acc.__name__}: {type(e).__name__}: {e}") from e
        diff = _max_diff(out, got)
    return {"inputs": ex, "reference": out, "accelerated": got, "max_abs_diff": diff, "ref_name": ref.__name__}


def _max_diff(a, b) -> float | None:
    if isinstance(a, (tuple, list)) and isinstance(b, (tuple, list)) and len(a) == len(b):
        ds = [_max_diff(x, y) for x, y in zip(a, b, strict=True)]
        known = [d for d in ds if d is not None]
        return max(known, default=0.0) if len(known) == len(ds) else None
    try:
        x, y = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
        if x.shape != y.shape:
            return None
        fin = np.isfinite(x) & np.isfinite(y)
        if np.any((~fin) & ~((x == y) | (np.isnan(x) & np.isnan(y)))):
            return float("inf")          # a non-finite entry on one side only
        return float(np.max(np.abs(x[fin] - y[fin]))) if fin.any() else 0.0
    except (TypeError, ValueError):
        return None


def _example_md(clause_id: str, r: dict) -> str:
    with np.printoptions(precision=6, suppress=True, threshold=40):
        lines = [f"{k} = {_fmt(v)}" for k, v in r["inputs"].items()]
        lines.append(f"reference.{spec.module_of(clause_id)}.{r['ref_name']}(...) ->\n    {_fmt(r['reference'])}")
        if r["accelerated"] is not None:
            lines.append(f"accelerated.{spec.module_of(clause_id)}.{r['ref_name']}(...) (torch, float64) ->\n    "
                         f"{_fmt(r['accelerated'])}")
    body = "\n".join(lines)
    out = ["## Worked example (run when this page was built)", "",
           "The inputs are the clause's declared example (`ClauseChecks.example` in "
           f"`conformance/checks/{spec.module_of(clause_id)}.py`); the outputs below were computed by the build.", "",
           "```text", body, "```", ""]
    if r["max_abs_diff"] is not None:
        out += [f"Largest |accelerated − reference| on this example: **{r['max_abs_diff']:.3e}**.", ""]
    return "\n".join(out)


# ---- the code, labml-style --------------------------------------------------------------------------------------
def _variant_names(c: Clause) -> dict[str, str]:
    return {v.name: v.statement for cv in c.conventions for v in cv.variants}


def annotated(c: Clause, fn) -> str:
    """The function's source split at its top-level statements, each beside the math it computes: the clause's
    statement beside the signature and docstring, a variant's statement beside a branch that names the variant, a
    comment beside its lines. Returns Markdown (a two-column grid)."""
    src = textwrap.dedent(inspect.getsource(inspect.unwrap(fn)))
    lines = src.splitlines()
    tree = ast.parse(src).body[0]
    if not isinstance(tree, ast.FunctionDef) or not tree.body:
        return "```python\n" + src + "\n```\n"
    variants = _variant_names(c)
    body = tree.body
    doc = ast.get_docstring(tree)
    first = body[1] if doc and len(body) > 1 else (body[0] if not doc else None)
    head_end = (first.lineno - 1) if first is not None else len(lines)
    while head_end > 1 and lines[head_end - 2].lstrip().startswith("#"):
        head_end -= 1        # comments above the first statement go with it
    chunks: list[tuple[list[str], list[str]]] = [(
        [display(c.statement, narrow=True)] + ([prose(doc)] if doc else []), lines[:head_end])]
    stmts = body[1:] if doc else body
    for i, st in enumerate(stmts):
        start = st.lineno - 1
        while start > 0 and lines[start - 1].lstrip().startswith("#") and start - 1 >= head_end:
            start -= 1
        end = stmts[i + 1].lineno - 1 if i + 1 < len(stmts) else len(lines)
        while end > start + 1 and lines[end - 1].lstrip().startswith("#") and i + 1 < len(stmts):
            end -= 1
        block = lines[start:end]
        notes = []
        named = [n.value for n in ast.walk(st) if isinstance(n, ast.Constant) and isinstance(n.value, str)
                 and n.value in variants]
        for n in dict.fromkeys(named):
            notes.append(f"`{n}`:\n" + display(variants[n], narrow=True) if is_latex(variants[n])
                         else f"`{n}`: {prose(variants[n])}")
        for ln in block:
            if "#" in ln:
                cmt = ln.split("#", 1)[1].strip()
                if cmt and not cmt.startswith(("noqa", "type:")):
                    notes.append(prose(cmt))
        if not notes and len(chunks) > 1 and not chunks[-1][0]:   # unannotated lines join the block above
            chunks[-1][1].extend(block)
        else:
            chunks.append((notes, list(block)))
    out = ['<div class="labml" markdown>']
    for k, (notes, code) in enumerate(chunks):
        code_txt = "\n".join(code).rstrip()
        if not code_txt:
            continue
        head = " labml-head" if k == 0 else ""         # the statement above the signature, the panel's full width
        # the math column repeats the statement, the variants and the code's comments: kept out of the search index
        out += [f'<div class="labml-row{head}" markdown>',
                '<div class="labml-math" data-search-exclude="" markdown>', "",
                "\n\n".join(notes) if notes else "&nbsp;", "", "</div>", '<div class="labml-code" markdown>', "",
                "```python", code_txt, "```", "", "</div>", "</div>"]
    out.append("</div>")
    return "\n".join(out) + "\n"


# ---- what a target receives -------------------------------------------------------------------------------------
def _received(v) -> tuple[str, str]:
    """(NumPy backend, torch backend) of one example value as the harness hands it over."""
    if isinstance(v, Dual):
        return ("callable (NumPy arrays in and out)", "callable (torch tensors in and out)")
    if isinstance(v, np.ndarray):
        if v.dtype.kind == "f":
            return (f"`ndarray` in the run's dtype, shape {tuple(v.shape)}",
                    f"`Tensor` in the run's dtype on the run's device, shape {tuple(v.shape)}")
        return (f"`ndarray` of {v.dtype}, shape {tuple(v.shape)}", f"`Tensor` of torch.{v.dtype}, shape "
                f"{tuple(v.shape)}")
    if isinstance(v, (list, tuple)):
        return (f"{type(v).__name__} of {len(v)}", f"{type(v).__name__} of {len(v)}")
    return (f"Python `{type(v).__name__}`",) * 2


def call_md(c: Clause) -> str:
    chk = checks_for(c.id)
    ex = chk.example() if chk.example is not None else {}
    rows = []
    for s in c.inputs:
        np_side, torch_side = _received(ex[s.name]) if s.name in ex else ("—", "—")
        rows.append([code_span(s.name), s.role, prose(s.domain.describe(), True), np_side, torch_side])
    out = ["## The call a target receives", "",
           f"`genspec conform` calls the bound function with keyword arguments, `{c.function}(" +
           ", ".join(f"{s.name}=…" for s in c.inputs) + ")`: arrays in the run's dtype (`--dtype`, float64 by "
           "default), parameters as Python scalars. Shapes below are those of the worked example; the domains are "
           "the declared ones (the harness draws inside them).", "",
           table(["argument", "role", "domain", "backend=\"numpy\"", "backend=\"torch\""], rows)]
    conv = [(cv, v) for cv in c.conventions for v in cv.variants
            if v.arguments and any(k in {s.name for s in c.inputs} for k in v.arguments)]
    if conv:
        out += ["Declaring a variant changes the units of what arrives (the harness draws in the default's units and "
                "converts):", ""]
        out += [f"- `{cv.name}: {v.name}`: " + ", ".join(f"{code_span(k)} ↦ {math(latex(e))}"
                                                          for k, e in v.arguments.items()) for cv, v in conv]
        out.append("")
    if c.conventions:
        out += ["Conventions are declared once on the target, not passed per call: "
                + ", ".join(f"`{cv.name}` (default `{cv.default}`)" for cv in c.conventions) + ".", ""]
    args = ", ".join(s.name for s in c.inputs)
    conv_line = ""
    if c.conventions:
        conv_line = ("\n    conventions={" + repr(c.id) + ": {" + ", ".join(
            f"{cv.name!r}: {cv.default!r}" for cv in c.conventions) + "}},")
    out += ["A minimal adapter (`mylib_genspec.py`), then `genspec conform --target mylib_genspec --clause "
            f"{c.id}`:", "", "```python", "from genspec.conformance import Target", "import mylib", "",
            f"def {c.function}({args}):", f"    return mylib.{c.function}({args})   # your implementation", "",
            "target = Target(", '    name="mylib",', '    backend="numpy",   # or "torch"',
            f"    bindings={{{c.id!r}: {c.function}}},{conv_line}", ")", "```", ""]
    return "\n".join(out)


# ---- the page ---------------------------------------------------------------------------------------------------
def page(c: Clause, matrix: P.Matrix | None, figures: list[tuple[str, str]], example: dict | None) -> str:
    chk = checks_for(c.id)
    fam = spec.module_of(c.id)
    out = [f"# `{c.id}` — {prose(c.title)}", "",
           f"Family [{fam}](../families/{fam}.md) · kind: " + ", ".join(f"**{k}** ({KIND[k]})" for k in c.kind)
           + f" · spec {c.since}" + (f" · bound as `{c.function}`" if c.function else " · a claim: nothing to bind"),
           "", display(c.statement), "", "## Provenance", ""]
    for p in c.provenance:
        out += [f'!!! quote "{source_link(p).replace(chr(34), chr(39))}"', "", f"    {prose(p.quote)}", ""]
    if c.symbols:
        out += ["## Symbols", "", table(["symbol", "role", "domain and shape", "meaning"], [
            [code_span(s.name), s.role, prose(s.domain.describe(), True), prose(s.description, True)]
            for s in c.symbols])]
    if c.conventions:
        out += ["## Conventions", ""]
        for cv in c.conventions:
            out += [f"### `{cv.name}` (default: `{cv.default}`)", "", prose(cv.description), ""]
            rows = []
            names = {s.name for s in c.inputs}
            for v in cv.variants:
                units = ", ".join(f"{code_span(k)} ↦ {math(latex(e), True)}" for k, e in v.arguments.items()
                                  if k in names) or "as the default"
                rows.append([f"`{v.name}`" + (" (default)" if v.name == cv.default else ""),
                             math(v.statement, True), prose(v.mapping, True),
                             ", ".join(prose(s, True) for s in v.sources) or "—", units])
            out += [table(["variant", "statement", "mapping to the default", "sources", "argument units"], rows)]
    if c.singular:
        out += ["## Singular points", "", prose(c.singular), ""]
    if c.boundaries:                  # the same points as data: where conformance/harness/inputs.py draws
        out += ["### Boundaries drawn by the suite", "", table(["kind", "on", "at", "exactly there", "why"], [
            [b.kind, code_span(b.symbol), ", ".join(f"{v:g}" for v in b.at) or "—",
             b.exactly + (f" ({prose(b.rule, True)})" if b.rule else ""),
             prose(b.why, True) + (" — where " + "; ".join(", ".join(f"{k} ∈ {{{', '.join(v)}}}" for k, v in w.items())
                                                          for w in b.when) if b.when else "")]
            for b in c.boundaries]), ""]
    if c.notes:
        out += ["## Notes", "", prose(c.notes), ""]
    out += ["## Tolerances", "", "A value check passes where |target − reference| ≤ atol + rtol·|reference| "
            "elementwise.", "", table(["dtype", "rtol", "atol"], [
                [d, f"{c.tolerance.for_dtype(d).rtol:.1e}", f"{c.tolerance.for_dtype(d).atol:.1e}"] for d in DTYPES]),
            f"**Why:** {prose(c.tolerance.why)}", ""]
    if c.error_scale is not None:
        out += [f"Errors are divided elementwise by {math('M = ' + latex(c.error_scale))} first.", ""]
    for name, t in c.property_tolerance.items():
        out += [f"- property *{prose(name)}*: " + ", ".join(
            f"{d} rtol {t.for_dtype(d).rtol:.1e} atol {t.for_dtype(d).atol:.1e}" for d in DTYPES)
            + f". {prose(t.why)}"]
    if c.property_tolerance:
        out.append("")
    if c.expression is not None or c.laws or chk.proofs:
        out += ["## Declared math", ""]
    if c.expression is not None:
        out += ["As computed (sympy, the default variants; the reference is checked against it):", "",
                display(latex(c.expression))]
        for k, e in c.variant_expressions.items():
            out += [f"Variant `{k}`, in its own units:", "", display(latex(e))]
    if c.laws:
        out += ["Laws (proven where there is an expression, checked on every target):", ""]
        for law in c.laws:
            at = ", ".join(f"{latex(sympy.Symbol(k))} = {latex(e)}" for k, e in law.at.items())
            name = U.markdown(law.name, f"{c.id}: law {law.name!r}")
            out.append(f"- *{name}*: " + math(f"{latex(law.of)} = {latex(law.equals)}"
                                              + (rf"\quad\text{{at }} {at}" if at else "")))
        out.append("")
    if chk.proofs:
        derived = c.expression is not None and (c.laws or c.variant_expressions)
        out += ["### Proved with sympy", "", "Each claim below is a sympy expression that `genspec conform` simplifies "
                f"to 0 (`conformance/checks/{fam}.py`" + (", and those derived from the declared expression "
                                                         "above" if derived else "") + "):",
                "", '<div class="proofs" markdown>', ""]
        out += [f"- {U.markdown(p.name, f'{c.id}: proof {p.name!r}')}" + (f": {prose(p.statement)}" if p.statement
                                                                           else "") for p in chk.proofs]
        out += ["", "</div>", ""]
    more = [p for p in chk.properties if p.name not in {law.name for law in c.laws}]
    if more:
        out += ["Properties checked on every target:", ""]
        out += [f"- {U.markdown(p.name, f'{c.id}: property {p.name!r}')}" + (f": {prose(p.description)}"
                                                                            if p.description else "") for p in more]
        out.append("")
    if figures:
        out += ["## Pictures", ""]
        out += [f"![{prose(cap)}](../img/{f})\n\n*{prose(cap)}*\n" for f, cap in figures]
    if example is not None:
        out.append(_example_md(c.id, example))
    ref = reference_function(c.id)
    if ref is not None:
        out += ["## Reference code", "", f"`reference.{fam}.{ref.__name__}` (float64 NumPy), each block beside the "
                "math it computes:", "", annotated(c, ref)]
        for h in private_helpers(inspect.unwrap(ref)):
            out += [f"which calls `{h.__module__}.{h.__name__}`:", "", annotated(c, h)]
    acc = accelerated_function(c.id)
    if acc is not None:
        out += ["## Accelerated code", "", f"`accelerated.{fam}.{acc.__name__}` (PyTorch, any device, "
                "dtype-preserving):", "", "```python", textwrap.dedent(inspect.getsource(inspect.unwrap(acc))).rstrip(),
                "```", ""]
    if c.function is not None:
        out.append(call_md(c))
    out.append(peers_md(c, matrix))
    return "\n".join(out)


def peers_md(c: Clause, matrix: P.Matrix | None) -> str:
    out = ["## Peers: the libraries on this clause", ""]
    if matrix is None:
        return "\n".join(out + ["No recorded matrix was found (README.md's `<!-- matrix -->` block, or "
                                "`genspec docs build --matrix DIR`).", ""])
    rows = matrix.rows_of(c.id)
    if not rows:
        out += [f"No adapter binds `{c.id}` ({', '.join(matrix.libraries)} were run; source: {matrix.source}).", ""]
    else:
        out += [f"From {matrix.source}: ✓ passed, ✗ failed, n/i not implemented, — not bound; the number is the "
                "worst error / tolerance over every check.", "",
                table(["row"] + matrix.columns, [[code_span(r)] + cells for r, cells in rows.items()])]
    for lib, e in P.reasons(c.id):
        out += [f"!!! note \"{lib}: `{e.clause}` ({', '.join(e.dtypes)}) — a recorded difference\"",
                "    " + prose(e.why), "", "    Measured: " + prose(e.measured), ""]
    return "\n".join(out)

