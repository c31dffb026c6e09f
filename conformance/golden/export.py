"""``genspec golden export DIR``: the goldens of every value clause, per dtype and convention variant, and a manifest.

Layout (all paths relative to DIR)::

    manifest.json                               spec version, per clause: arguments, conventions, tolerances,
                                                comparison, clause digest, files with their sha256
    <clause>/<dtype>/<variant>.json             the cases: inputs and expected output (codec.py's encoding)
    <clause>/<dtype>/<variant>.npz              the same arrays for NumPy/JAX users: c00.in.<arg>, c00.out[.i]
    <clause>/<dtype>/<variant>.txt              the same as flat text for readers without JSON (examples/golden_c)

<variant> is ``default`` for a clause without conventions, else ``name=value+name=value``.
"""
from __future__ import annotations

import functools
import hashlib
import importlib
import inspect
import os
import shutil
import sys
from typing import Any

import hypothesis
import numpy as np

from genspec import spec
from genspec.spec.schema import DTYPES

from ..harness.registry import checks_for
from .cases import arguments, draw, golden_cases, unwritable, value_clauses, variant_key, variants
from .codec import GoldenError, decode, dumps, dumps_cases, npz_arrays, npz_bytes, sha256, txt_value

FORMAT = "genspec-golden/1"


def clause_digest(clause_id: str) -> str:
    """sha256 of the clause as exported JSON and of the source of its reference (its module and the reference/ and
    spec/ modules that one uses): goldens made from another statement, tolerance or reference are stale."""
    h = hashlib.sha256(spec.get(clause_id).model_dump_json().encode())
    h.update(_sources_digest(spec.module_of(clause_id)).encode())
    return h.hexdigest()


@functools.cache
def _sources_digest(fam: str) -> str:
    h = hashlib.sha256()
    for name in sorted(_closure(importlib.import_module(f"genspec.reference.{fam}"), {f"genspec.spec.{fam}"})):
        h.update(name.removeprefix("genspec.").encode() + b"\0" + inspect.getsource(sys.modules[name]).encode())
    return h.hexdigest()


def _closure(mod, seen: set[str] | None = None) -> set[str]:
    """The reference/ and spec/ modules ``mod`` depends on through its globals, itself included."""
    seen = set() if seen is None else seen
    seen.add(mod.__name__)
    for v in vars(mod).values():
        name = v.__name__ if inspect.ismodule(v) else getattr(v, "__module__", None)
        if (isinstance(name, str) and name.removeprefix("genspec.").split(".")[0] in ("reference", "spec")
                and name not in seen):
            _closure(sys.modules[name], seen)
    return seen


def _comparison(clause_id: str) -> str:
    cmp = checks_for(clause_id).compare
    if cmp is None:
        return "elementwise: |got - expected| <= atol + rtol |expected|"
    doc = (getattr(cmp, "__doc__", None) or "").strip().splitlines()
    return ("scaled by the inputs' conditioning (conformance/" + spec.module_of(clause_id) + ".py"
            + (": " + doc[0] if doc else "") + "); `genspec golden check` applies it")


def _files(clause_id, conv, dtype, cases):
    """The three files of one (clause, variant, dtype) as bytes."""
    head = {"format": FORMAT, "spec_version": spec.SPEC_VERSION, "clause": clause_id, "dtype": dtype,
            "conventions": conv, "arguments": arguments(clause_id)}
    arrays: dict[str, np.ndarray] = {}
    lines = ["genspec-golden-txt 1", f"clause {clause_id}", f"dtype {dtype}",
             "conventions " + (" ".join(f"{k}={v}" for k, v in conv.items()) or "-"), f"cases {len(cases)}"]
    for case in cases:
        lines.append(f"case {case['id']}")
        for name, enc in case["inputs"].items():
            v = decode(enc)
            npz_arrays(f"{case['id']}.in.{name}", v, arrays)
            lines += txt_value("in", name, v)
        out = decode(case["expected"])
        npz_arrays(f"{case['id']}.out", out, arrays)
        lines += txt_value("out", "out", out)
        lines.append("end")
    return {".json": dumps_cases(head, cases).encode(), ".npz": npz_bytes(arrays),
            ".txt": ("\n".join(lines) + "\n").encode()}


def _clause_files(cid: str, n: int | None, dtypes) -> dict:
    """{stem: (conventions, number of cases, {ext: bytes})} of one clause; GoldenError when it cannot be exported."""
    out, errors = {}, []
    for conv in variants(cid):
        drawn = draw(cid, conv) if n is None else draw(cid, conv, n)
        for raw in drawn:
            reason = unwritable(cid, raw)
            if reason:
                raise GoldenError(reason)
        for dtype in dtypes:
            cases, error = golden_cases(cid, conv, dtype, drawn)
            errors.append(error)
            out[f"{cid}/{dtype}/{variant_key(conv)}"] = (conv, len(cases), _files(cid, conv, dtype, cases))
    if all(n_cases == 0 for _, n_cases, _ in out.values()):
        raise GoldenError("no drawn case could be evaluated by the reference and written"
                          + (f" ({next(e for e in errors if e)})" if any(errors) else ""))
    return out


def export(directory: str, clauses: list[str] | None = None, n: int | None = None,
           dtypes: tuple[str, ...] = DTYPES) -> dict:
    """Write the goldens of the selected value clauses (default: all) under ``directory``; returns the manifest.

    DIR must be empty, missing, or a previous export (it is replaced).
    """
    if os.path.exists(directory):
        if not os.path.isdir(directory):
            raise GoldenError(f"{directory} exists and is not a directory")
        if os.listdir(directory) and not os.path.exists(os.path.join(directory, "manifest.json")):
            raise GoldenError(f"{directory} is not empty and holds no golden manifest; give an empty or new directory")
        shutil.rmtree(directory)
    os.makedirs(directory)
    wanted = value_clauses() if clauses is None else [c for c in value_clauses() if c in clauses]
    entries = {}
    for cid in wanted:
        c = spec.get(cid)
        entry: dict[str, Any] = {
            "title": c.title,
            "function": c.function,
            "digest": clause_digest(cid),
            "arguments": [{"name": s.name, "role": s.role, "kind": s.domain.kind, "shape": list(s.domain.shape),
                           "domain": s.domain.describe()} for s in c.inputs],
            "conventions": {cv.name: {"default": cv.default, "variants": [v.name for v in cv.variants]}
                            for cv in c.conventions},
            "tolerance": {d: {"rtol": c.tolerance.for_dtype(d).rtol, "atol": c.tolerance.for_dtype(d).atol}
                          for d in DTYPES},
            "tolerance_why": c.tolerance.why,
            "comparison": _comparison(cid),
        }
        try:
            written = _clause_files(cid, n, dtypes)
        except GoldenError as e:
            entries[cid] = {**entry, "exportable": False, "reason": str(e), "files": {}}
            continue
        files = {}
        for stem, (conv, n_cases, data) in written.items():
            os.makedirs(os.path.dirname(os.path.join(directory, stem)), exist_ok=True)
            for ext, body in data.items():
                with open(os.path.join(directory, stem + ext), "wb") as f:
                    f.write(body)
                files[stem + ext] = {"sha256": sha256(body), "bytes": len(body)}
            files[stem + ".json"].update(cases=n_cases, conventions=conv)
        entries[cid] = {**entry, "exportable": True, "files": files}
    manifest = {"format": FORMAT, "spec_version": spec.SPEC_VERSION, "dtypes": list(dtypes),
                "drawn_with": {"hypothesis": hypothesis.__version__, "numpy": np.__version__},
                "results_layout": "RESULTS/<dtype>/<clause>.json: {\"conventions\": {...}, "
                                  "\"outputs\": {\"<case id>\": <value>}} (docs/golden.md)",
                "clauses": entries}
    with open(os.path.join(directory, "manifest.json"), "wb") as f:
        f.write(dumps(manifest).encode())
    return manifest
