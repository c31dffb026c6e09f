"""The per-clause report: JSON data and a readable table.

A clause's status is one of :data:`STATUS_ORDER`. ``spec-only`` marks a clause none of whose checks called the
target (a statement about the spec, e.g. a sympy identity): it is reported apart and never counts as the target's pass.
"""
from __future__ import annotations

from genspec import spec

STATUS_ORDER = ("failed", "not implemented", "no checks", "not run", "spec-only", "passed")
TARGET_STATUSES = ("passed", "failed")
"""the statuses that are verdicts on the target; a run with none of them checked nothing of the target."""


def not_supported(o: dict) -> bool:
    """A check not run because every input it needs lies outside the target's declared support."""
    return o["outcome"] == "not implemented" or bool(o.get("outside_support"))


def summary_key(status: str) -> str:
    """The JSON summary's key for a status: an identifier ("not implemented" -> "not_implemented")."""
    return status.replace(" ", "_").replace("-", "_")


def clause_status(clause_id: str, target, outcomes: list[dict]) -> str:
    if any(o["outcome"] == "failed" for o in outcomes):
        return "failed"
    if spec.get(clause_id).function is not None and target.binding(clause_id) is None:
        return "not implemented"
    if not outcomes:
        return "not run"  # the run stopped (-x, an interrupt) before any check of the clause
    if not any(o["outcome"] == "passed" and o.get("target_calls", 0) for o in outcomes) and \
            any(not_supported(o) for o in outcomes):
        return "not implemented"  # bound, but nothing inside the declared support could be checked
    if not any(o["outcome"] == "passed" for o in outcomes):
        return "no checks"
    if sum(o.get("target_calls", 0) for o in outcomes) == 0:
        return "spec-only"
    return "passed"


def build(st, duration: float) -> dict:
    rows = []
    ctxs = getattr(st, "ctxs", [st.ctx])    # one per declared variant combination (plugin.State); one otherwise
    for row, cid, i in getattr(st, "rows", [(c, c, 0) for c in st.clauses]):
        outs = [dict(o) for o in st.outcomes.get(row, [])]
        ctx = ctxs[i]
        tgt = ctx.target if len(ctxs) > 1 else st.target
        rec = ctx.records.get(cid)
        for o in outs:
            c = rec.checks.get(o["check"]) if rec else None
            o["scope"] = "target" if o.get("target_calls", 0) else "spec"
            o["max_abs_error"] = c.max_abs if c else None
            o["abs_error_at_worst_ratio"] = c.abs_at_worst if c else None
            o["max_error_over_tolerance"] = c.max_ratio if c else None
            o["tolerance"] = c.tol if c else None
        clause = spec.get(cid)
        worst = rec.worst_check if rec else None
        tdt = ctx.tolerance_dtype(cid)
        rows.append({
            "id": row,
            "title": clause.title,
            "status": clause_status(cid, tgt, outs),
            "checks": outs,
            "worst_check": worst,
            "max_abs_error": rec.max_abs if worst else None,
            "abs_error_at_worst_ratio": rec.checks[worst].abs_at_worst if worst else None,
            "max_error_over_tolerance": rec.max_ratio if worst else None,
            "tolerance": rec.tol if worst else _tol(clause, tdt),
            "examples": rec.examples if rec else 0,
            "target_calls": sum(o.get("target_calls", 0) for o in outs),
            # the Target API's declarations, where they shaped this clause's verdict
            "unsupported": sorted(rec.unsupported) if rec else [],
            "support": tgt.support_text(cid) if hasattr(tgt, "support_text") else "",
            "not_implemented_checks": [o["check"] for o in outs if not_supported(o)],
            "tolerance_dtype": tdt,
            "time": tgt.time_of(cid),
        })
        if row != cid:     # a declared variant combination: api.check's row name, and what it is made of
            rows[-1] |= {"clause": cid, "variant": tgt.variant_label(cid)}
    summary = {summary_key(s): sum(r["status"] == s for r in rows) for s in STATUS_ORDER}
    summary["total"] = len(rows)
    return {
        "spec_version": spec.SPEC_VERSION,
        "target": st.target_spec,
        "backend": st.target.backend,
        "dtype": st.ctx.dtype,
        "device": st.ctx.device,
        "profile": st.profile,
        "seed": st.ctx.seed,
        "duration_s": round(duration, 3),
        "summary": summary,
        "clauses": rows,
    }


def partial(r: dict) -> bool:
    """A clause checked on the target's declared subset only: some inputs or checks lay outside it."""
    return r["status"] == "passed" and bool(r.get("unsupported") or r.get("not_implemented_checks"))


def _tol(clause, dtype):
    t = clause.tolerance.for_dtype(dtype)
    return f"rtol={t.rtol:.1e} atol={t.atol:.1e}"


def _sci(x) -> str:
    return "" if x is None else f"{x:.2e}"


def table(rep: dict) -> list[str]:
    """The terminal table: the target's clauses, then the spec-only ones apart; every figure in scientific notation."""
    head = ("clause", "status", "checks", "|err|", "err/tol", "tolerance", "worst check")

    def row(r):
        n_pass = sum(o["outcome"] == "passed" for o in r["checks"])
        checks = "not run" if r["status"] in ("not implemented", "not run") else f"{n_pass}/{len(r['checks'])}"
        status = r["status"] + (" (partial)" if partial(r) else "")
        tol = r["tolerance"] or ""
        if r.get("tolerance_dtype") not in (None, rep["dtype"]):
            tol += f" [{r['tolerance_dtype']}: declared precision]"
        err = r.get("abs_error_at_worst_ratio", r["max_abs_error"])
        return (r["id"], status, checks, _sci(err),
                _sci(r["max_error_over_tolerance"]), tol, r["worst_check"] or "")

    main = [row(r) for r in rep["clauses"] if r["status"] != "spec-only"]
    apart = [row(r) for r in rep["clauses"] if r["status"] == "spec-only"]
    w = [max(len(str(x[i])) for x in main + apart + [head]) for i in range(len(head))]
    fmt = lambda cells: "  ".join(str(c).ljust(w[i]) for i, c in enumerate(cells)).rstrip()
    out = [f"genspec {rep['spec_version']} conformance: target={rep['target']} ({rep['backend']}) "
           f"dtype={rep['dtype']} device={rep['device']} profile={rep['profile']}"
           + (f" seed={rep['seed']} (--seed {rep['seed']} replays it)" if rep.get("seed") is not None else ""),
           fmt(head), fmt(tuple("-" * x for x in w))]
    out += [fmt(r) for r in main]
    out += ["", "|err|: max |target - reference| on the input with the largest err/tol (an error relative to the "
                "tolerance at that input: atol + rtol |reference|); the JSON has the largest |err| over all inputs too"]
    if apart:
        out += ["", f"spec-only (no check calls the target; statements about the spec, not verdicts on "
                    f"{rep['target']}):"]
        out += [fmt(r) for r in apart]
    notes = [f"  {r['id']}: " + (f"declared {r['support']}; " if r.get("support") else "")
             + f"outside the declared support: {_few(r['unsupported'] or r['not_implemented_checks'])}"
             for r in rep["clauses"] if partial(r) or (r["status"] == "not implemented" and r.get("unsupported"))]
    if notes:
        out += ["", f"declared partial support of {rep['target']} (not run, never failed):"] + notes
    out.append(summary_line(rep))
    return out


def terminal(rep: dict, quiet: bool = False) -> list[str]:
    """What a command prints: the run's header line, each failure (``FAILED ...`` with its message), then the table,
    or with ``quiet`` the summary line only."""
    lines = table(rep)
    out = [lines[0]]
    for r in rep["clauses"]:
        for o in r["checks"]:
            if o["outcome"] == "failed":
                named = o["message"].startswith(r["id"])
                out += [f"FAILED {o['message'] if named else r['id'] + ' [' + o['check'] + ']: ' + o['message']}", ""]
    return out + ([summary_line(rep)] if quiet else lines[1:])


def _few(items: list[str], n: int = 6) -> str:
    """At most ``n`` items on a line, then how many more (a continuous parameter must not list hundreds)."""
    return "; ".join(items[:n]) + (f"; … {len(items) - n} more" if len(items) > n else "")


def summary_line(rep: dict) -> str:
    s = rep["summary"]
    n_partial = sum(partial(r) for r in rep["clauses"])
    line = (f"{s['passed']} passed" + (f" ({n_partial} on a declared subset)" if n_partial else "")
            + f", {s['failed']} failed, {s['not_implemented']} not implemented")
    for k in ("spec-only", "no checks", "not run"):
        if s.get(summary_key(k)):
            line += f", {s[summary_key(k)]} {k}"
    return line + f" of {plural(s['total'], 'clause')} in {rep['duration_s']:.1f}s"


def plural(n: int, noun: str, nouns: str | None = None) -> str:
    """'1 clause', '2 clauses', '0 proofs', '1 property' / '3 properties' (``nouns`` where not noun + 's')."""
    return f"{n} {noun}" if n == 1 else f"{n} {nouns or noun + 's'}"


def nothing_checked(rep: dict) -> str | None:
    """One line when the target implements none of the selected clauses (no verdict on it), else None."""
    s = rep["summary"]
    if any(s.get(k) for k in TARGET_STATUSES):
        return None
    return (f"target {rep['target']!r} implements none of the {plural(s['total'], 'selected clause')} "
            f"({s['not_implemented']} not implemented, {s.get('spec_only', 0)} spec-only): nothing of it was checked")
