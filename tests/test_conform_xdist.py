"""`genspec conform -n N` (pytest-xdist): the verdicts, the JSON and JUnit reports and the table are those of the serial
run, on a target that passes a clause, fails one and leaves one unbound, and declares two variants of the failing one
(one passes): each combination is its own row, in the serial run's order."""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from genspec_inprocess import genspec_serial_or_sharded

TARGET = '''
import numpy as np
from genspec.conformance import Target


def d_star(p_data, p_g):
    s = p_data + p_g
    return np.where(s == 0, 0.5, p_data / np.where(s == 0, 1.0, s))


def combine(v_y, v_null, w, form):
    if form == "conditional_offset":                      # right: v_y + w (v_y - v_null)
        return v_y + w * (v_y - v_null)
    return (1 + w) * v_y - w * v_null * (1 + 1e-3)        # wrong: the null term is off by 0.1 %


target = Target(name="halfright", backend="numpy",
                bindings={"gan.optimal_discriminator": d_star, "cfg.combine": combine},
                variants={"cfg.combine": {"form": ("one_plus_w", "conditional_offset")}})
'''


def _conform(tmp_path: Path, tag: str, *extra: str):
    args = ["conform", "--target", "halfright", "--clause", "gan.optimal_discriminator", "--clause", "cfg.combine",
            "--clause", "gan.value", "--report-json", f"{tag}.json",
            "--junit", f"{tag}.xml", *extra]
    p = genspec_serial_or_sharded(args, cwd=tmp_path)
    report = json.loads((tmp_path / f"{tag}.json").read_text())
    report.pop("duration_s")
    junit = re.sub(r' (time|timestamp|hostname)="[^"]*"', "", (tmp_path / f"{tag}.xml").read_text())
    junit = re.sub(r"0x[0-9a-f]+", "0x", junit)             # object addresses in the tracebacks' locals
    table = re.sub(r" in [0-9.]+s$", "", p.stdout.strip(), flags=re.M)
    return p.returncode, report, junit, table


def test_two_workers_give_the_serial_run(tmp_path):
    pytest.importorskip("xdist")
    (tmp_path / "halfright.py").write_text(TARGET)
    serial = _conform(tmp_path, "serial")
    sharded = _conform(tmp_path, "sharded", "-n", "2")
    status = {r["id"]: r["status"] for r in serial[1]["clauses"]}
    assert serial[0] == 1 and status["cfg.combine"] == "failed" and status["gan.optimal_discriminator"] == "passed"
    assert status["gan.value"] == "not implemented" and status["cfg.combine (form=conditional_offset)"] == "passed"
    rows = [r["id"] for r in serial[1]["clauses"]]
    assert rows == ["gan.optimal_discriminator", "cfg.combine", "cfg.combine (form=conditional_offset)", "gan.value"]
    assert "genspec_xdist" not in sharded[2]                 # the workers' records stay out of the JUnit file
    assert sharded[0] == serial[0]
    assert sharded[1] == serial[1]                           # every verdict, error figure and check, in order
    assert sharded[2] == serial[2]                           # JUnit, times aside
    assert sharded[3] == serial[3]                           # failures, table and summary line, duration aside


def test_bad_worker_count_is_one_error_line(capsys):
    from genspec.conformance.harness.cli import main
    with pytest.raises(SystemExit) as e:
        main(["conform", "-n", "two"])
    assert e.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "argument -n: a number of worker processes >= 0, got 'two'" in err[0], err
