"""The conformance harness: targets, failure isolation, not-implemented reporting, the CLI and its reports."""
import json
import os
import subprocess
import sys
import time
import xml.etree.ElementTree as ET

import numpy as np
import pytest

import reference.gan as R
import spec
from conformance import Target
from conformance.api import check
from conformance.target import load
from spec import TargetError, UnknownClauseError

GENSPEC = [sys.executable, "-m", "conformance.cli"]


def _run(args, env=None, cwd=None):
    return subprocess.run(GENSPEC + args, capture_output=True, text=True, env={**os.environ, **(env or {})},
                          cwd=cwd, timeout=300)


def test_a_raising_target_fails_that_clause_only():
    def boom(d_real, d_fake):
        raise RuntimeError("kaboom")

    t = Target(name="t", bindings={"gan.value": boom, "gan.optimal_discriminator": R.optimal_discriminator})
    res = check(t, ["gan"], target_independent=False)
    assert res["gan.value"].status == "failed"
    assert "target raised RuntimeError: kaboom" in res["gan.value"].failures[0][1]
    assert res["gan.optimal_discriminator"].status == "passed"
    assert res["gan.adain"].status == "not implemented"


def test_a_hanging_target_fails_that_clause_only_and_quickly():
    def hang(d_real, d_fake):
        while True:
            pass

    t = Target(name="t", bindings={"gan.value": hang, "gan.optimal_discriminator": R.optimal_discriminator})
    t0 = time.perf_counter()
    res = check(t, ["gan.value", "gan.optimal_discriminator"], timeout=0.5, target_independent=False)
    assert time.perf_counter() - t0 < 30
    assert res["gan.value"].status == "failed" and "ran past 0.5s" in res["gan.value"].failures[0][1]
    assert res["gan.optimal_discriminator"].status == "passed"


def test_unbound_clauses_are_never_reported_passed():
    res = check(Target(name="empty", bindings={}), ["gan"])
    assert {r.status for r in res.values()} == {"not implemented"}


def test_a_wrong_number_is_reported_with_its_error_and_a_reproduction():
    t = Target(name="t", bindings={"gan.optimal_discriminator": lambda p_data, p_g: R.optimal_discriminator(p_data, p_g)
                                   * (1 + 1e-9)})
    res = check(t, ["gan.optimal_discriminator"], target_independent=False)
    msg = res["gan.optimal_discriminator"].failures[0][1]
    assert "differs from the reference" in msg and "× the tolerance" in msg
    assert "input: {'p_data': np.array(" in msg
    assert "reproduce: genspec conform --target t --clause gan.optimal_discriminator --dtype float64" in msg


def test_target_validation_names_the_problem():
    with pytest.raises(UnknownClauseError, match="gan.nope"):
        Target(name="t", bindings={"gan.nope": R.value})
    with pytest.raises(TargetError, match="not callable"):
        Target(name="t", bindings={"gan.value": 3})
    with pytest.raises(TargetError, match="no variant 'sideways'"):
        Target(name="t", bindings={}, conventions={"gan.latent_interpolation": {"endpoint": "sideways"}})
    with pytest.raises(TargetError, match="no convention"):
        Target(name="t", bindings={}, conventions={"gan.value": {"nope": "x"}})
    with pytest.raises(TargetError, match="spec 9.0"):
        Target(name="t", bindings={}, spec_version="9.0.0")
    with pytest.raises(TargetError, match="backend"):
        Target(name="t", bindings={}, backend="jax")
    with pytest.raises(TargetError, match="cannot import"):
        load("no_such_module_anywhere")
    with pytest.raises(TargetError, match="defines none of"):
        load("json")


def test_builtin_targets_bind_every_clause_with_a_function():
    want = {c.id for c in spec.CLAUSES.values() if c.function}
    assert set(load("reference").bindings) == want
    assert set(load("accelerated").bindings) == want


def test_cli_reports_json_and_junit(tmp_path):
    rj, ju = tmp_path / "r.json", tmp_path / "j.xml"
    p = _run(["conform", "--target", "reference", "--clause", "gan.optimal_discriminator", "--clause", "gan.value",
              "--report-json", str(rj), "--junit", str(ju)])
    assert p.returncode == 0, p.stdout + p.stderr
    assert "gan.optimal_discriminator" in p.stdout and "2 passed, 0 failed" in p.stdout
    rep = json.loads(rj.read_text())
    assert rep["target"] == "reference" and rep["summary"]["passed"] == 2 and rep["summary"]["total"] == 2
    assert [r["id"] for r in rep["clauses"]] == ["gan.optimal_discriminator", "gan.value"]
    assert all(r["status"] == "passed" and r["max_error_over_tolerance"] <= 1.0 for r in rep["clauses"])
    cases = ET.parse(ju).getroot().iter("testcase")
    assert any("gan.optimal_discriminator" in c.get("name") for c in cases)


def test_cli_exit_code_and_env_target(tmp_path):
    mod = tmp_path / "badlib.py"
    mod.write_text("from conformance import Target\n"
                   "target = Target(name='badlib', bindings={'gan.optimal_discriminator': "
                   "lambda p_data, p_g: p_g / (p_data + p_g + 1e-300)})\n")
    rj = tmp_path / "r.json"
    p = _run(["conform", "--clause", "gan", "--report-json", str(rj)], env={"GENSPEC_TARGET": "badlib"}, cwd=tmp_path)
    assert p.returncode == 1, p.stdout + p.stderr
    rep = json.loads(rj.read_text())
    status = {r["id"]: r["status"] for r in rep["clauses"]}
    assert status.pop("gan.optimal_discriminator") == "failed"
    assert set(status.values()) == {"not implemented"}
    assert "reproduce: genspec conform --target badlib --clause gan.optimal_discriminator" in p.stdout


def test_cli_bad_arguments_are_one_clear_line():
    p = _run(["conform", "--clause", "gan.optimal_discriminatr"])
    assert p.returncode == 2 and "unknown clause id 'gan.optimal_discriminatr'" in p.stderr
    p = _run(["conform", "--target", "no_such_module_x"])
    assert p.returncode == 2 and "cannot import target module" in p.stderr
    p = _run(["conform", "--target", "reference", "--dtype", "bfloat16"])
    assert p.returncode == 2 and "no bfloat16" in p.stderr
    p = _run(["explain", "nope.nope"])
    assert p.returncode == 2 and "unknown clause id" in p.stderr


def test_float32_run_against_the_numpy_reference():
    res = check("reference", ["gan"], dtype="float32", target_independent=False)
    assert {r.status for r in res.values()} == {"passed"}


def test_float_inputs_are_rounded_before_the_reference_sees_them():
    """The reference is evaluated on exactly the values the target received."""
    from conformance.context import Context
    ctx = Context(target=load("accelerated"), dtype="float32")
    x = np.array([0.1])
    assert ctx.round({"x": x})["x"][0] == np.float32(0.1)
    assert ctx.to_target(x).dtype.__str__() == "torch.float32"
