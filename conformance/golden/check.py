"""``genspec golden check DIR RESULTS``: a foreign implementation's outputs against the goldens, reported like conform.

RESULTS layout: ``RESULTS/<dtype>/<clause>.json`` =
``{"conventions": {"<name>": "<variant>", ...}, "outputs": {"<case id>": <value>, ...}}``. A value is a number, a
string (C99 hex '0x1.8p+1' as printf's %a writes it, a decimal, 'nan', 'inf'), a list (flat in C order, or nested),
or codec.py's encoding; a clause returning several arrays gives a list with one entry per array, one returning
named quantities an object with one entry per name. Conventions left
out are the defaults. A clause without a results file is `not implemented`. Comparisons are conform's: the clause's
tolerance for the dtype, or its ClauseChecks.compare where it has one.
"""
from __future__ import annotations

import contextlib
import json
import os
import time
from types import SimpleNamespace
from xml.sax.saxutils import quoteattr

import numpy as np

from genspec import spec

from ..harness import report
from ..harness.context import Context
from ..harness.registry import checks_for, select
from ..harness.run import _show
from ..harness.target import Target
from .cases import variant_key
from .codec import GoldenError, decode, encode, float_of, sha256
from .export import FORMAT, clause_digest
from .fields import LinearField


def load_manifest(directory: str) -> dict:
    """The manifest of an export, after refusing stale or tampered goldens (GoldenError names the file)."""
    path = os.path.join(directory, "manifest.json")
    if not os.path.isfile(path):
        raise GoldenError(f"{directory} holds no manifest.json; write goldens with `genspec golden export {directory}`")
    try:
        with open(path) as f:
            m = json.load(f)
    except (OSError, ValueError) as e:
        raise GoldenError(f"{path} is not valid JSON ({e})") from None
    if not isinstance(m, dict) or m.get("format") != FORMAT:
        raise GoldenError(f"{path} is not a {FORMAT} manifest")
    if m.get("spec_version") != spec.SPEC_VERSION:
        raise GoldenError(f"stale goldens: {directory} was exported from spec {m.get('spec_version')}, this is spec "
                          f"{spec.SPEC_VERSION}; re-export with `genspec golden export`")
    for cid, entry in m["clauses"].items():
        if cid not in spec.CLAUSES or entry.get("digest") != clause_digest(cid):
            raise GoldenError(f"stale goldens: clause {cid} (its statement, tolerance or reference) changed, or went, "
                              f"since {directory} was exported; re-export with `genspec golden export`")
        for rel, meta in entry["files"].items():
            fp = os.path.join(directory, rel)
            try:
                with open(fp, "rb") as f:
                    digest = sha256(f.read())
            except OSError:
                raise GoldenError(f"golden file {rel} listed in the manifest is missing from {directory}") from None
            if digest != meta["sha256"]:
                raise GoldenError(f"golden file {rel} was changed after export (sha256 {digest[:12]}…, manifest "
                                  f"{meta['sha256'][:12]}…); refusing it: re-export with `genspec golden export`")
    return m


class ResultsTarget:
    """The foreign implementation as the report sees it: a clause is bound when RESULTS has its file."""

    backend = "files"

    def __init__(self, name: str, bound: set[str]):
        self.name, self.bound = name, bound

    def binding(self, clause_id: str):
        return (lambda **_: None) if clause_id in self.bound else None

    def time_of(self, clause_id: str) -> str:
        return "noise_at_1"               # goldens are written in the spec's time (t = 1 noise)

    def precision_of(self, clause_id: str) -> str | None:
        return None


def _as_got(obj, expected):
    """A results value shaped like the expected one (a flat list takes the expected shape)."""
    if isinstance(expected, dict):
        if isinstance(obj, dict) and obj.get("type") == "dict":
            obj = obj["items"]
        if not isinstance(obj, dict) or set(obj) != set(expected):
            return obj  # the comparison reports the structure mismatch
        return {k: _as_got(obj[k], e) for k, e in expected.items()}
    if isinstance(expected, tuple):
        if isinstance(obj, dict) and obj.get("type") == "tuple":
            obj = obj["items"]
        if not isinstance(obj, list) or len(obj) != len(expected):
            return obj  # the comparison reports the structure mismatch
        return tuple(_as_got(o, e) for o, e in zip(obj, expected, strict=True))
    if isinstance(obj, dict):
        return decode(obj)
    a = np.array(_floats(obj), dtype=np.float64)
    e = np.asarray(expected)
    if a.shape != e.shape and a.size == e.size and a.ndim <= 1:
        a = a.reshape(e.shape)
    return a


def _floats(obj):
    if isinstance(obj, list):
        return [_floats(x) for x in obj]
    return float_of(obj)


def _results_file(results: str, dtype: str, cid: str) -> dict | None:
    path = os.path.join(results, dtype, cid + ".json")
    if not os.path.isfile(path):
        return None
    try:
        with open(path) as f:
            r = json.load(f)
    except (OSError, ValueError) as e:
        raise GoldenError(f"{path} is not valid JSON ({e})") from None
    if not isinstance(r, dict) or not isinstance(r.get("outputs"), dict):
        raise GoldenError(f"{path}: expected {{\"conventions\": {{...}}, \"outputs\": {{case id: value}}}}")
    return r


def _conventions(cid: str, entry: dict, declared, path: str) -> dict[str, str]:
    declared = declared or {}
    if not isinstance(declared, dict):
        raise GoldenError(f"{path}: \"conventions\" must be an object")
    conv = {}
    for name, c in entry["conventions"].items():
        v = declared.get(name, c["default"])
        if v not in c["variants"]:
            raise GoldenError(f"{path}: {cid} convention {name!r} has no variant {v!r}; one of {c['variants']}")
        conv[name] = v
    unknown = set(declared) - set(entry["conventions"])
    if unknown:
        raise GoldenError(f"{path}: {cid} has no convention {sorted(unknown)[0]!r}; "
                          f"it has {list(entry['conventions'])}")
    return conv


def _check_clause(ctx, directory, cid, dtype, conv, outputs, path) -> dict:
    """One outcome: every golden case of the declared variant, compared as conform compares."""
    stem = f"{cid}/{dtype}/{variant_key(conv)}"
    with open(os.path.join(directory, stem + ".json")) as f:
        golden = json.load(f)
    ids = [c["id"] for c in golden["cases"]]
    unknown = sorted(set(outputs) - set(ids))
    if unknown:
        raise GoldenError(f"{path}: outputs for case ids {unknown[:3]} that {stem}.json does not have; "
                          f"were these results made from other goldens?")
    chk = checks_for(cid)
    name = f"golden:{variant_key(conv)}"
    failures = []
    checking = ctx.checking(cid, name) if hasattr(ctx, "checking") else contextlib.nullcontext()
    with checking:  # the harness records errors per check where it can
        for case in golden["cases"]:
            rec = ctx.records.setdefault(cid, _record())
            rec.examples += 1
            if case["id"] not in outputs:
                failures.append(f"case {case['id']}: no output")
                continue
            inputs = {k: decode(v) for k, v in case["inputs"].items()}
            expected = decode(case["expected"])
            got = None
            try:
                got = _as_got(outputs[case["id"]], expected)
                if chk.compare is not None:
                    chk.compare(ctx, got, expected, inputs)
                else:
                    ctx.assert_close(cid, got, expected)
            except (AssertionError, GoldenError) as e:
                shown = _show({"out": got})[1:-1] if got is not None else repr(outputs[case["id"]])
                failures.append(f"case {case['id']} of {stem}.json: {e}\n  input: {_show(inputs)}\n"
                                f"  expected: {_show({'out': expected})[1:-1]}\n  got: {shown}")
    compared = len(outputs)  # the implementation's outputs stand for its calls (report.py: spec-only otherwise)
    if not failures:
        return {"check": name, "outcome": "passed", "message": "", "target_calls": compared}
    more = f"\n  {len(failures) - 1} more of {len(ids)} cases fail" if len(failures) > 1 else ""
    reproduce = f"\n  reproduce: genspec golden check {directory} {os.path.dirname(os.path.dirname(path))} " \
                f"--clause {cid} --dtype {dtype}"
    return {"check": name, "outcome": "failed", "message": failures[0] + more + reproduce, "target_calls": compared}


def _record():
    from ..harness.context import ClauseRecord
    return ClauseRecord()


def check(directory: str, results: str, dtype: str = "float64", clauses: list[str] | None = None) -> dict:
    """Compare RESULTS with the goldens in DIR; returns conform's report dict (conformance/report.py)."""
    t0 = time.perf_counter()
    m = load_manifest(directory)
    if dtype not in m["dtypes"]:
        raise GoldenError(f"{directory} has no {dtype} goldens (it has {m['dtypes']})")
    if not os.path.isdir(results):
        raise GoldenError(f"results folder {results} does not exist")
    if not os.path.isdir(os.path.join(results, dtype)):
        raise GoldenError(f"{results} has no {dtype}/ folder: results go in RESULTS/<dtype>/<clause>.json")
    for fname in sorted(os.listdir(os.path.join(results, dtype))):
        if fname.endswith(".json") and fname[:-5] not in m["clauses"]:
            raise GoldenError(f"{os.path.join(results, dtype, fname)}: {fname[:-5]} is not a clause of these goldens")
    ids = [c for c in select(clauses) if c in m["clauses"]] if clauses else list(m["clauses"])
    loaded, convs, bound = {}, {}, set()
    for cid in ids:
        entry = m["clauses"][cid]
        if not entry["exportable"]:
            bound.add(cid)  # reported "no checks" with the reason, never "not implemented" or "passed"
            continue
        r = _results_file(results, dtype, cid)
        if r is not None:
            path = os.path.join(results, dtype, cid + ".json")
            convs[cid] = _conventions(cid, entry, r.get("conventions"), path)
            loaded[cid] = (r["outputs"], path)
            bound.add(cid)
    if not loaded:
        raise GoldenError(f"{os.path.join(results, dtype)} has no result file for any selected clause "
                          f"(<clause>.json); nothing to check")
    target = Target(name=results, bindings={}, conventions=convs)
    ctx = Context(target=target, dtype=dtype, device="files")
    outcomes: dict[str, list[dict]] = {cid: [] for cid in ids}
    for cid in ids:
        entry = m["clauses"][cid]
        if not entry["exportable"]:
            outcomes[cid].append({"check": "golden", "outcome": "skipped", "message": "not exportable: "
                                  + entry["reason"]})
        elif cid in loaded:
            outputs, path = loaded[cid]
            outcomes[cid].append(_check_clause(ctx, directory, cid, dtype, convs[cid], outputs, path))
    st = SimpleNamespace(clauses=ids, outcomes=outcomes, ctx=ctx, target=ResultsTarget(results, bound),
                         target_spec=results, profile="golden")
    return report.build(st, time.perf_counter() - t0)


def junit(rep: dict) -> str:
    """JUnit XML of a report: one testcase per clause and check; not implemented clauses are skipped testcases."""
    cases = []
    for r in rep["clauses"]:
        checks = r["checks"] or [{"check": "golden", "outcome": "skipped", "message": r["status"]}]
        for o in checks:
            body = ""
            if o["outcome"] == "failed":
                body = f"<failure message={quoteattr(o['message'][:2000])}/>"
            elif o["outcome"] == "skipped":
                body = f"<skipped message={quoteattr(o['message'] or r['status'])}/>"
            cases.append(f'    <testcase classname={quoteattr(r["id"])} name={quoteattr(o["check"])}>{body}'
                         f'</testcase>')
    n_fail = sum("<failure" in c for c in cases)
    n_skip = sum("<skipped" in c for c in cases)
    return ("<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<testsuites>\n"
            f"  <testsuite name=\"genspec-golden\" tests=\"{len(cases)}\" failures=\"{n_fail}\" skipped=\"{n_skip}\" "
            f"errors=\"0\" time=\"{rep['duration_s']}\">\n" + "\n".join(cases) + "\n  </testsuite>\n</testsuites>\n")


def write_results(directory: str, results: str, target: Target, dtype: str, clauses: list[str] | None = None) -> int:
    """Run a Python target on the goldens' inputs and write RESULTS/<dtype>/<clause>.json (what a foreign
    implementation writes); returns the number of result files. Used by the tests (the accelerated target must pass)."""
    m = load_manifest(directory)
    ctx = Context(target=target, dtype=dtype)
    os.makedirs(os.path.join(results, dtype), exist_ok=True)
    n = 0
    for cid, entry in m["clauses"].items():
        fn = target.binding(cid)
        if not entry["exportable"] or fn is None or (clauses is not None and cid not in clauses):
            continue
        conv = target.conventions_for(cid)
        with open(os.path.join(directory, f"{cid}/{dtype}/{variant_key(conv)}.json")) as f:
            golden = json.load(f)
        outputs = {}
        for case in golden["cases"]:
            inputs = {k: decode(v) for k, v in case["inputs"].items()}
            got = ctx.call(cid, fn, {k: v.dual() if isinstance(v, LinearField) else v for k, v in inputs.items()})
            outputs[case["id"]] = encode(_tuple(got))
        with open(os.path.join(results, dtype, cid + ".json"), "w") as f:
            json.dump({"conventions": conv, "outputs": outputs}, f)
        n += 1
    return n


def _tuple(v):
    if isinstance(v, dict):
        return {k: _tuple(x) for k, x in v.items()}
    return tuple(_tuple(x) for x in v) if isinstance(v, (tuple, list)) else v
