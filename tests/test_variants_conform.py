"""`genspec conform` on a target declaring several variant combinations (``Target(variants=...)``): every combination
is checked and reported as its own row, named as api.check names it, in the table, the JSON and the JUnit report
(issue 21, item 4)."""
from __future__ import annotations

import importlib
import json
import re
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from genspec_inprocess import genspec

from genspec.conformance.harness.api import check

TARGET = '''
import numpy as np
from genspec.conformance import Target


def d_star(p_data, p_g):
    s = p_data + p_g
    return np.where(s == 0, 0.5, p_data / np.where(s == 0, 1.0, s))


def combine(v_y, v_null, w, form):
    if form == "conditional_offset":          # wrong: the published form is v_y + w (v_y - v_null)
        return v_y + w * (v_null - v_y)
    return (1 + w) * v_y - w * v_null


target = Target(name="twoforms", backend="numpy",
                bindings={"gan.optimal_discriminator": d_star, "cfg.combine": combine},
                variants={"cfg.combine": {"form": ("one_plus_w", "conditional_offset")}})
'''
SECOND = "cfg.combine (form=conditional_offset)"


def _conform(tmp_path: Path, tag: str, *extra: str):
    args = ["conform", "--target", "twoforms", "--clause", "cfg.combine", "--report-json", f"{tag}.json",
            "--junit", f"{tag}.xml", *extra]
    p = genspec(args, cwd=tmp_path)
    assert (tmp_path / f"{tag}.json").exists(), p.stdout + p.stderr
    return p, json.loads((tmp_path / f"{tag}.json").read_text()), ET.parse(tmp_path / f"{tag}.xml")


@pytest.fixture
def twoforms(tmp_path, monkeypatch):
    (tmp_path / "twoforms.py").write_text(TARGET)
    monkeypatch.syspath_prepend(str(tmp_path))
    sys.modules.pop("twoforms", None)
    return importlib.import_module("twoforms").target


def test_conform_checks_every_declared_combination_reported_as_api_check_does(tmp_path, twoforms):
    p, rep, junit = _conform(tmp_path, "serial")
    status = {r["id"]: r["status"] for r in rep["clauses"]}
    assert p.returncode == 1, p.stdout + p.stderr       # only the second combination is wrong
    assert status == {"cfg.combine": "passed", SECOND: "failed"}
    # the rows and verdicts are api.check's
    api = check(twoforms, ["cfg.combine"])
    assert {k: r.status for k, r in api.items()} == status
    second = next(r for r in rep["clauses"] if r["id"] == SECOND)
    assert second["clause"] == "cfg.combine" and second["variant"] == {"form": "conditional_offset"}
    assert {o["check"] for o in second["checks"] if o["outcome"] == "passed"} == set(api[SECOND].passed)
    assert {o["check"] for o in second["checks"] if o["outcome"] == "failed"} == {f for f, _ in api[SECOND].failures}
    # the table: a row per combination; the failure named by its row, its reproduce lines pass the variant
    assert re.search(r"^cfg\.combine \(form=conditional_offset\)\s+failed", p.stdout, re.M), p.stdout
    assert re.search(r"^cfg\.combine\s+passed", p.stdout, re.M), p.stdout
    assert f"FAILED {SECOND}" in p.stdout and "form='conditional_offset')" in p.stdout
    # JUnit: each combination's testcases carry its row and its row's status
    cases: dict[str, set] = {}
    for case in junit.getroot().iter("testcase"):
        props = {q.get("name"): q.get("value") for q in case.iter("property")}
        cases.setdefault(props["clause"], set()).add(props["genspec_status"])
    assert cases == {"cfg.combine": {"passed"}, SECOND: {"failed"}}
    assert any(c.get("name") == f"test_target_matches_reference[{SECOND}]" for c in junit.getroot().iter("testcase"))
    # under pytest-xdist (-n 2) the same rows in the same order: tests/test_conform_xdist.py, whose target declares
    # two variants as this one does
