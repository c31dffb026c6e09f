"""`genspec matrix -n N` (pytest-xdist): the cells (library, variant, dtype) in worker processes give the serial run's
table, JSON (durations aside), exit status and progress lines."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from genspec_inprocess import genspec_serial_or_sharded


def _matrix(tmp_path: Path, tag: str, *extra: str):
    out = tmp_path / tag
    args = ["matrix", "--adapter", "torchcfm", "--out", str(out), *extra]
    p = genspec_serial_or_sharded(args)
    m = json.loads((out / "matrix.json").read_text())
    for lib in m["libraries"].values():
        assert lib.pop("duration_s") >= 0                      # wall time: the one field that differs
    progress = sorted(x.split(" rows in ")[0] + (" " + x.split(" s, ")[1] if " s, " in x else "")
                      for x in p.stderr.splitlines() if x.startswith("genspec: matrix ["))
    return p.returncode, (out / "matrix.md").read_text(), m, progress, p.stdout


def test_two_workers_give_the_serial_matrix(tmp_path):
    pytest.importorskip("xdist")
    from genspec.conformance import adapters
    if not adapters.installed("torchcfm"):
        pytest.skip("needs torchcfm: pip install \"genspec[peers]\"")
    serial = _matrix(tmp_path, "serial")
    sharded = _matrix(tmp_path, "sharded", "-n", "2")
    # one library at two dtypes: two cells, one per worker
    assert serial[0] == 0 and set(serial[2]["libraries"]) == {"torchcfm"}
    assert {serial[2]["libraries"]["torchcfm"]["clauses"]["rf.velocity"][d]["status"]
            for d in ("float32", "float64")} == {"passed"}
    assert len(serial[3]) == 2, serial[3]                     # the library starts, then its rows and failures
    assert sharded[0] == serial[0]
    assert sharded[1] == serial[1]                            # matrix.md, byte for byte
    assert json.dumps(sharded[2]) == json.dumps(serial[2])    # matrix.json: every cell, in the serial order
    assert sharded[3] == serial[3]
    assert sharded[4] == serial[4]                            # the table printed


def test_bad_matrix_worker_count_is_one_error_line(capsys):
    from genspec.conformance.harness.cli import main
    with pytest.raises(SystemExit) as e:
        main(["matrix", "-n", "-1"])
    assert e.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "argument -n: a number of worker processes >= 0, got '-1'" in err[0], err
