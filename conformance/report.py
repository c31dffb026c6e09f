"""The per-clause report: JSON data and a readable table."""
from __future__ import annotations

import spec

STATUS_ORDER = ("failed", "not implemented", "no checks", "passed")


def clause_status(clause_id: str, target, outcomes: list[dict]) -> str:
    if any(o["outcome"] == "failed" for o in outcomes):
        return "failed"
    if spec.get(clause_id).function is not None and target.binding(clause_id) is None:
        return "not implemented"
    if any(o["outcome"] == "passed" for o in outcomes):
        return "passed"
    return "no checks"


def build(st, duration: float) -> dict:
    rows = []
    for cid in st.clauses:
        outs = st.outcomes.get(cid, [])
        rec = st.ctx.records.get(cid)
        clause = spec.get(cid)
        rows.append({
            "id": cid,
            "title": clause.title,
            "status": clause_status(cid, st.target, outs),
            "checks": outs,
            "max_abs_error": rec.max_abs if rec else None,
            "max_error_over_tolerance": rec.max_ratio if rec else None,
            "tolerance": (rec.tol if rec and rec.tol else _tol(clause, st.ctx.dtype)),
            "examples": rec.examples if rec else 0,
            "target_calls": rec.evaluations if rec else 0,
        })
    summary = {s: sum(r["status"] == s for r in rows) for s in STATUS_ORDER}
    summary["total"] = len(rows)
    return {
        "spec_version": spec.SPEC_VERSION,
        "target": st.target_spec,
        "backend": st.target.backend,
        "dtype": st.ctx.dtype,
        "device": st.ctx.device,
        "profile": st.profile,
        "duration_s": round(duration, 3),
        "summary": summary,
        "clauses": rows,
    }


def _tol(clause, dtype):
    t = clause.tolerance.for_dtype(dtype)
    return f"rtol={t.rtol:.0e} atol={t.atol:.0e}"


def table(rep: dict) -> list[str]:
    head = ("clause", "status", "checks", "max |err|", "err/tol", "tolerance")
    rows = []
    for r in rep["clauses"]:
        n_pass = sum(o["outcome"] == "passed" for o in r["checks"])
        err = "" if r["max_abs_error"] is None else f"{r['max_abs_error']:.2e}"
        ratio = "" if r["max_error_over_tolerance"] is None else f"{r['max_error_over_tolerance']:.3f}"
        rows.append((r["id"], r["status"], f"{n_pass}/{len(r['checks'])}", err, ratio, r["tolerance"]))
    w = [max(len(str(x[i])) for x in rows + [head]) for i in range(len(head))]
    fmt = lambda row: "  ".join(str(c).ljust(w[i]) for i, c in enumerate(row)).rstrip()
    s = rep["summary"]
    out = [f"genspec {rep['spec_version']} conformance: target={rep['target']} ({rep['backend']}) "
           f"dtype={rep['dtype']} device={rep['device']} profile={rep['profile']}",
           fmt(head), fmt(tuple("-" * x for x in w))]
    out += [fmt(r) for r in rows]
    out.append(f"{s['passed']} passed, {s['failed']} failed, {s['not implemented']} not implemented"
               f" of {s['total']} clauses in {rep['duration_s']:.1f}s")
    return out
