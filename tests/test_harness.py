"""The conformance harness: targets, failure isolation, not-implemented reporting, the CLI and its reports."""
import ast
import json
import os
import pathlib
import re
import subprocess
import sys
import textwrap
import xml.etree.ElementTree as ET

import numpy as np
import pytest
from genspec_inprocess import genspec

import genspec.reference.gan as R
from genspec import spec
from genspec.conformance import Target
from genspec.conformance.harness import report, run
from genspec.conformance.harness.api import check
from genspec.conformance.harness.context import Context, Mismatch
from genspec.conformance.harness.target import load
from genspec.spec import TargetError, UnknownClauseError
from genspec.spec.schema import Tolerance

GENSPEC = [sys.executable, "-m", "genspec.conformance"]


def _process(args, env=None, cwd=None):
    return subprocess.run(GENSPEC + args, capture_output=True, text=True, env={**os.environ, **(env or {})},
                          cwd=cwd, timeout=300)


_run = genspec    # the command line in this process (tests/genspec_inprocess.py); _process where the exit status of
                  # the installed command itself is tested


def test_a_raising_target_fails_that_clause_only():
    def boom(d_real, d_fake):
        raise RuntimeError("kaboom")

    t = Target(name="t", bindings={"gan.value": boom, "gan.optimal_discriminator": R.optimal_discriminator})
    res = check(t, ["gan"], target_independent=False)
    assert res["gan.value"].status == "failed"
    assert "target raised RuntimeError: kaboom" in res["gan.value"].failures[0][1]
    assert res["gan.optimal_discriminator"].status == "passed"
    assert res["gan.adain"].status == "not implemented"


def test_a_hanging_target_fails_that_clause_only():
    def hang(d_real, d_fake):
        while True:
            pass

    t = Target(name="t", bindings={"gan.value": hang, "gan.optimal_discriminator": R.optimal_discriminator})
    res = check(t, ["gan.value", "gan.optimal_discriminator"], timeout=0.5, target_independent=False)
    msg = res["gan.value"].failures[0][1]
    assert res["gan.value"].status == "failed" and "ran past 0.5s" in msg
    assert msg.count("ran past") == 1 and msg.count("reproduce:") == 1, msg   # said once, not again after it
    assert re.search(r"reproduce: genspec conform .* --timeout 0\.5\n", msg), msg
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
    # one table and one summary line: no pytest progress dots, no second (pytest) summary
    lines = p.stdout.splitlines()
    assert sum(" clauses in " in x for x in lines) == 1 and lines[-1].startswith("2 passed, 0 failed")
    assert not any(re.fullmatch(r"[.sFE]+(\s+\[\s*\d+%\])?", x.strip()) for x in lines if x.strip()), p.stdout
    assert not re.search(r"\d+ passed in \d", p.stdout), p.stdout
    assert sum(x.startswith("clause ") for x in lines) == 1
    rep = json.loads(rj.read_text())
    assert rep["target"] == "reference" and rep["summary"]["passed"] == 2 and rep["summary"]["total"] == 2
    assert [r["id"] for r in rep["clauses"]] == ["gan.optimal_discriminator", "gan.value"]
    assert all(r["status"] == "passed" and r["max_error_over_tolerance"] <= 1.0 for r in rep["clauses"])
    for r in rep["clauses"]:  # the figures name the check they belong to
        assert r["worst_check"] in [o["check"] for o in r["checks"]], r
        spec_side = [o["check"].startswith("proof:") or o["check"] == "reference_matches_derivation"
                     for o in r["checks"]]
        assert [o["scope"] == "spec" for o in r["checks"]] == spec_side, r
    cases = ET.parse(ju).getroot().iter("testcase")
    assert any("gan.optimal_discriminator" in c.get("name") for c in cases)


def test_cli_exit_code_and_env_target(tmp_path):
    mod = tmp_path / "badlib.py"
    mod.write_text("from genspec.conformance import Target\n"
                   "target = Target(name='badlib', bindings={'gan.optimal_discriminator': "
                   "lambda p_data, p_g: p_g / (p_data + p_g + 1e-300)})\n")
    rj = tmp_path / "r.json"
    # -v: pytest's own long tracebacks, where hypothesis would add its blob
    p = _run(["conform", "--clause", "gan", "--report-json", str(rj), "-v"],
             env={"GENSPEC_TARGET": "badlib", "GENSPEC_HYPOTHESIS_DIR": str(tmp_path / "hyp")}, cwd=tmp_path)
    assert p.returncode == 1, p.stdout + p.stderr
    assert "@reproduce_failure" not in p.stdout + p.stderr  # genspec's own reproduce: line is enough
    assert not (tmp_path / ".hypothesis").exists()  # nothing in the user's cwd
    rep = json.loads(rj.read_text())
    status = {r["id"]: r["status"] for r in rep["clauses"]}
    assert status.pop("gan.optimal_discriminator") == "failed"
    assert set(status.values()) == {"not implemented"}
    assert "reproduce: genspec conform --target badlib --clause gan.optimal_discriminator" in p.stdout
    od = next(r for r in rep["clauses"] if r["id"] == "gan.optimal_discriminator")
    assert od["worst_check"] and od["max_error_over_tolerance"] > 1 and od["max_abs_error"] > 0


def test_hypothesis_storage_follows_genspec_hypothesis_dir(tmp_path, monkeypatch):
    """hypothesis' storage (example database, caches) goes where GENSPEC_HYPOTHESIS_DIR says, never the user's cwd."""
    from hypothesis.configuration import storage_directory

    from genspec.conformance.harness import run
    monkeypatch.setenv("GENSPEC_HYPOTHESIS_DIR", str(tmp_path / "hyp"))
    before = storage_directory("x", intent_to_write=False).home_directory
    try:
        run.keep_hypothesis_out_of_cwd()
        assert storage_directory("x", intent_to_write=False).path == tmp_path / "hyp" / "x"
    finally:
        from hypothesis.configuration import set_hypothesis_home_dir
        set_hypothesis_home_dir(before)


def test_cli_bad_arguments_are_one_clear_line(capsys):
    p = _process(["conform", "--clause", "gan.optimal_discriminatr"])   # the installed command's exit status
    assert p.returncode == 2 and "unknown clause id 'gan.optimal_discriminatr'" in p.stderr
    from genspec.conformance.harness.cli import main  # the rest in this process: same main()
    for argv, says in ((["conform", "--target", "no_such_module_x"], "cannot import target module"),
                       (["conform", "--target", "reference", "--dtype", "bfloat16"], "no bfloat16"),
                       (["explain", "nope.nope"], "unknown clause id")):
        code, err = main(argv), capsys.readouterr().err
        assert code == 2 and says in err and err.count("\n") == 1, (argv, err)


def test_float32_run_against_the_numpy_reference():
    res = check("reference", ["gan"], dtype="float32", target_independent=False)
    assert {r.status for r in res.values()} == {"passed"}


def test_float_inputs_are_rounded_before_the_reference_sees_them():
    """The reference is evaluated on exactly the values the target received."""
    from genspec.conformance.harness.context import Context
    ctx = Context(target=load("accelerated"), dtype="float32")
    x = np.array([0.1])
    assert ctx.round({"x": x})["x"][0] == np.float32(0.1)
    assert ctx.to_target(x).dtype.__str__() == "torch.float32"


# ---- false passes: checks that never call the target ------------------------------------------------------------
SPEC_ONLY = ["optimal.hardest_mid_t", "family.equivalence", "cfg.concentration"]


def test_clauses_whose_checks_never_call_the_target_are_spec_only():
    """Found generically (target calls are counted per check), never reported as the target's passes."""
    res = check(Target(name="empty", bindings={}), SPEC_ONLY + ["gan.value"], target_independent=False)
    assert {cid: r.status for cid, r in res.items()} == {**dict.fromkeys(SPEC_ONLY, "spec-only"),
                                                        "gan.value": "not implemented"}
    assert all(res[c].passed and res[c].target_calls == 0 for c in SPEC_ONLY)
    bound = check("reference", ["gan.value"], target_independent=False)["gan.value"]
    assert bound.status == "passed" and bound.target_calls > 0


def test_a_target_that_implements_nothing_exits_non_zero_with_one_line(tmp_path):
    (tmp_path / "emptylib.py").write_text("from genspec.conformance import Target\n"
                                          "target = Target(name='empty', bindings={})\n")
    rj, ju = tmp_path / "r.json", tmp_path / "j.xml"
    p = _run(["conform", "--target", "emptylib", "--clause", "optimal.hardest_mid_t", "--clause", "gan.value", "-q",
              "--report-json", str(rj), "--junit", str(ju)], cwd=tmp_path)
    assert p.returncode == 5, p.stdout + p.stderr
    assert p.stderr.strip().count("\n") == 0 and "implements none of the 2 selected clauses" in p.stderr
    assert "clause " not in p.stdout and "1 spec-only" in p.stdout  # -q: no table, the summary line only
    rep = json.loads(rj.read_text())
    assert {r["id"]: r["status"] for r in rep["clauses"]} == {"optimal.hardest_mid_t": "spec-only",
                                                              "gan.value": "not implemented"}
    assert rep["summary"]["passed"] == 0 and rep["summary"]["spec_only"] == 1
    suites = {s.get("name"): s for s in ET.parse(ju).getroot().iter("testsuite")}
    assert set(suites) == {"genspec.target", "genspec.spec-only"}
    assert all("optimal.hardest_mid_t" in c.get("name") for c in suites["genspec.spec-only"].iter("testcase"))
    assert int(suites["genspec.spec-only"].get("tests")) == 4 and int(suites["genspec.target"].get("tests")) == 1


def test_the_table_puts_spec_only_clauses_apart_in_scientific_notation():
    rows = [{"id": "a.b", "status": "failed", "checks": [{"check": "property:p", "outcome": "failed"}],
             "worst_check": "property:p", "max_abs_error": 4304508921920.55, "max_error_over_tolerance": 4.99e291,
             "tolerance": "rtol=0.0e+00 atol=1.2e-38"},
            {"id": "c.d", "status": "spec-only", "checks": [{"check": "proof:x", "outcome": "passed"}],
             "worst_check": None, "max_abs_error": None, "max_error_over_tolerance": None, "tolerance": "rtol=1e-12"}]
    rep = {"spec_version": "0.1.0", "target": "t", "backend": "numpy", "dtype": "float32", "device": "cpu",
           "profile": "ci", "duration_s": 1.0, "clauses": rows,
           "summary": {"passed": 0, "failed": 1, "not_implemented": 0, "no_checks": 0, "spec_only": 1, "total": 2}}
    text = "\n".join(report.table(rep))
    assert "4.30e+12" in text and "4.99e+291" in text and "4304508921920" not in text
    assert text.index("spec-only (") < text.index("c.d") and text.index("a.b") < text.index("spec-only (")
    assert text.splitlines()[-1] == "0 passed, 1 failed, 0 not implemented, 1 spec-only of 2 clauses in 1.0s"


# ---- messages: the tolerance used, a floor on atol, the check each figure belongs to --------------------------
def test_a_failing_comparison_prints_the_tolerance_it_used_and_names_its_check():
    ctx = Context(target=load("reference"))
    with ctx.checking("gan.value", "property:p"), pytest.raises(Mismatch) as e:
        ctx.assert_close("gan.value", np.array([1.1]), np.array([1.0]), what="w", tol=Tolerance(rtol=1e-3, atol=0.0))
    msg = str(e.value)
    assert "gan.value [property:p]: w differs" in msg and "rtol=1.0e-03" in msg and "rtol=1.0e-12" not in msg
    rec = ctx.records["gan.value"]
    assert rec.worst_check == "property:p" and rec.checks["property:p"].max_abs == pytest.approx(0.1)


def test_atol_is_floored_at_the_dtypes_smallest_normal():
    ctx = Context(target=load("reference"), dtype="float32")
    tiny = Tolerance(rtol=0.0, atol=1e-300)
    with pytest.raises(Mismatch) as e:
        ctx.assert_close("gan.value", np.array([1e-9]), np.array([0.0]), tol=tiny)
    assert e.value.ratio == pytest.approx(1e-9 / np.finfo(np.float32).tiny) and "atol=1.2e-38" in str(e.value)
    assert ctx.assert_close("gan.value", np.array([1e-40]), np.array([0.0]), tol=tiny) < 1  # below float32's normals
    exact = Context(target=load("reference"))
    assert np.isfinite(exact.assert_close("gan.value", np.array([0.0]), np.array([0.0]), tol=Tolerance(rtol=0, atol=0)))


def test_a_custom_comparison_records_its_error():
    """ddpm.ddim_step compares through its own scaled comparison: the error is recorded, never 0 while failing."""
    import genspec.reference.ddpm as D

    def ddim(x_t, eps_pred, t, t_prev, betas):
        return D.ddim_step(x_t, eps_pred, t, t_prev, betas) * 1.001

    r = check(Target(name="t", bindings={"ddpm.ddim_step": ddim}), ["ddpm.ddim_step"], target_independent=False,
              shrink=False)["ddpm.ddim_step"]
    assert r.status == "failed" and r.max_abs_error > 0 and r.max_error_over_tolerance > 1
    assert r.worst_check in {c for c, _ in r.failures}
    assert all(f"[{c}]" in m for c, m in r.failures if "differs" in m)


def test_the_cli_hides_hypothesis_blob_advice():
    assert run.hypothesis_settings("ci").print_blob is run.PRINT_BLOB
    old = run.PRINT_BLOB
    try:
        run.PRINT_BLOB = False  # what conformance/harness/plugin.py sets under genspec conform
        assert run.hypothesis_settings("dev").print_blob is False
    finally:
        run.PRINT_BLOB = old


def test_target_independent_checks_run_in_a_forked_worker(monkeypatch):
    """harness/background.py: proofs run on a second core; a failing one reports its message, like inline."""
    import sympy as sp

    from genspec.conformance.harness import background
    from genspec.conformance.harness.declare import ClauseChecks, Proof
    monkeypatch.setenv("GENSPEC_WORKERS", "1")
    monkeypatch.setattr(background, "checks_for", lambda cid: ClauseChecks(clause=cid, proofs=(
        Proof("holds", lambda: sp.Integer(0)), Proof("false", lambda: sp.Integer(1)))))
    bg = background.Background([("proof", "gan.value", 0), ("proof", "gan.value", 1)], "ci")
    try:
        assert bg.pool is not None
        assert bg.result(("proof", "gan.value", 0)) == (True, None)
        done, msg = bg.result(("proof", "gan.value", 1))
        assert done and "symbolic claim 'false' does not simplify to 0" in msg
        assert bg.result(("proof", "gan.value", 2)) == (False, None)  # not submitted: the caller runs it inline
    finally:
        bg.close()
    monkeypatch.setenv("GENSPEC_WORKERS", "0")
    assert background.Background([("proof", "gan.value", 0)], "ci").pool is None


def test_spec_only_properties_run_in_the_worker_and_fail_there(monkeypatch):
    """A property of a clause with nothing to bind never calls the target: the worker runs it (issue 15, the second
    core), and its failure comes back as the check's message."""
    from genspec.conformance.harness import background
    from genspec.conformance.harness.declare import ClauseChecks, Property

    def false_claim(ctx, fn, inp):
        ctx.require("cfg.concentration", False, "the planted claim is false")

    monkeypatch.setenv("GENSPEC_WORKERS", "1")
    fake = ClauseChecks(clause="cfg.concentration", properties=(Property("false", false_claim, cases=None),))
    monkeypatch.setattr(background, "checks_for", lambda cid: fake)
    import genspec.conformance.harness.run as run
    monkeypatch.setattr(run, "checks_for", lambda cid: fake)
    bg = background.Background([("property", "cfg.concentration", 0)], "ci")
    try:
        done, msg = bg.result(("property", "cfg.concentration", 0))
        assert done and "the planted claim is false" in msg
    finally:
        bg.close()


# ---- the project's own test suite: parallel, quiet, and never judged by the clock --------------------------------
def test_the_readme_test_command_runs_in_parallel_workers():
    import tomllib
    root = pathlib.Path(__file__).resolve().parents[1]
    assert "python -m pytest -q " in (root / "README.md").read_text()
    cfg = tomllib.loads((root / "pyproject.toml").read_text())
    addopts = cfg["tool"]["pytest"]["ini_options"]["addopts"].split()
    assert "-n" in addopts and addopts[addopts.index("--dist") + 1] == "loadgroup", addopts
    assert any(d.replace(" ", "").startswith("pytest-xdist") for d in cfg["project"]["dependencies"])


def test_a_module_scoped_fixture_is_built_once_across_workers(tmp_path):
    """tests/conftest.py groups the tests sharing a module-scoped fixture onto one xdist worker."""
    root = pathlib.Path(__file__).resolve().parents[1]
    (tmp_path / "conftest.py").write_text((root / "tests" / "conftest.py").read_text())
    log = tmp_path / "built.log"
    (tmp_path / "test_shared.py").write_text(textwrap.dedent(f"""
        import os, pytest
        @pytest.fixture(scope="module")
        def model():
            with open({str(log)!r}, "a") as f:
                f.write(os.environ.get("PYTEST_XDIST_WORKER", "main") + "\\n")
            return 1
        @pytest.mark.parametrize("i", range(8))
        def test_uses(model, i):
            assert model == 1
        @pytest.mark.parametrize("i", range(8))
        def test_alone(i):
            pass
        """))
    p = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-n", "2", "--dist",
                        "loadgroup", "-p", "no:benchmark", str(tmp_path)], cwd=tmp_path, capture_output=True,
                       text=True, timeout=300, env={k: v for k, v in os.environ.items() if "XDIST" not in k})
    assert p.returncode == 0 and "16 passed" in p.stdout, p.stdout + p.stderr
    assert len(log.read_text().split()) == 1, log.read_text()


def _test_sources():
    here = pathlib.Path(__file__).resolve().parent
    return [(f.name, ast.parse(f.read_text())) for f in sorted(here.glob("*.py"))]


def test_no_test_reads_the_clock_or_prints_past_capture():
    """Wall time depends on the machine's load: timings belong in benchmarks/ as ratios. A diagnostic print goes
    through pytest's capture (shown when the test fails), never around it (capsys.disabled)."""
    found = []
    for name, tree in _test_sources():
        for node in ast.walk(tree):
            if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and (
                    (node.value.id == "time" and node.attr in ("time", "perf_counter", "monotonic", "process_time"))
                    or (node.value.id == "capsys" and node.attr == "disabled")):
                found.append(f"{name}:{node.lineno} {node.value.id}.{node.attr}")
            if isinstance(node, ast.ImportFrom) and node.module == "time":
                found.append(f"{name}:{node.lineno} from time import ...")
    assert not found, found



# ---- failure messages a library author can act on ---------------------------------------------------------------
def _d_star(p_data, p_g):
    return p_data / (p_data + p_g)


def _fails(fn, clause="gan.optimal_discriminator", **kw) -> str:
    res = check(Target(name="t", bindings={clause: fn}, **kw), [clause], target_independent=False, shrink=False)
    assert res[clause].status == "failed"
    return res[clause].failures[0][1]


def test_a_failure_names_its_root_cause():
    def nan(p_data, p_g):
        return _d_star(p_data, p_g) * np.nan

    def narrow(p_data, p_g):
        return (_d_star(p_data, p_g) + 1e-3).astype(np.float32)

    def in_place(p_data, p_g):
        p_data += 1.0
        return _d_star(p_data, p_g)

    scope: dict = {}   # compiled here, not by pytest (which would rewrite the assert and give it a message)
    exec(compile("def asserts(p_data, p_g):\n    assert p_data.sum() < 0\n", "mylib.py", "exec"), scope)
    asserts = scope["asserts"]

    msg = _fails(nan)
    assert re.search(r"cause: output contains \d+ NaN \(of \d+ entries\)", msg), msg
    assert "cause: output has dtype float32; the run hands the target float64" in _fails(narrow)
    assert "cause: the target modified its argument 'p_data' in place" in _fails(in_place)
    msg = _fails(asserts)
    assert "target raised AssertionError: (no message) (at mylib.py:2 in asserts)" in msg, msg


def test_a_variant_target_sees_its_own_units_and_the_raw_error():
    def scale_form(v_y, v_null, w):      # the scale form, s = 1 + w, with a 10% error in the guidance term
        return v_null + 1.1 * w * (v_y - v_null)

    msg = _fails(scale_form, "cfg.combine", conventions={"cfg.combine": {"form": "scale"}})
    called = re.search(r"target called with: (.*?)   \(", msg).group(1)
    drawn = re.search(r"drawn input: (.*)", msg).group(1)
    w_called, w_drawn = (float(re.search(r"'w': ([-\d.e+]+)", x).group(1)) for x in (called, drawn))
    assert w_called == w_drawn + 1.0, msg                                 # the target got s = 1 + w
    assert "raw max |target - reference| on this input" in msg, msg     # and the unscaled error, named as such


def test_a_harness_error_carries_the_input_and_a_reproduce_line():
    from hypothesis import strategies as hst

    class Broken:
        name = "broken"
        cases = hst.fixed_dictionaries({"p_data": hst.just(np.array([0.5])), "p_g": hst.just(np.array([0.5]))})

        def check(self, ctx, fn, inputs):
            fn(**inputs)
            return np.array([])[-1]

    ctx = Context(target=Target(name="t", bindings={"gan.optimal_discriminator": _d_star}))
    with pytest.raises(AssertionError) as e:
        run.check_property(ctx, "gan.optimal_discriminator", Broken(), "ci")
    msg = str(e.value)
    assert "the check itself raised IndexError" in msg and "input: {'p_data'" in msg and "reproduce: genspec" in msg


def test_reproduce_prints_python_that_calls_the_target_on_the_input(tmp_path, monkeypatch):
    (tmp_path / "offlib.py").write_text("import torch\nfrom genspec.conformance import Target\n"
                                        "target = Target(name='off', backend='torch', bindings={"
                                        "'gan.optimal_discriminator': lambda p_data, p_g: p_g / (p_data + p_g + 1)})\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    res = check("offlib", ["gan.optimal_discriminator"], target_independent=False, shrink=False)
    msg = res["gan.optimal_discriminator"].failures[0][1]
    code = msg.split("  in Python:\n", 1)[1]
    assert "torch.tensor(" in code and "dtype=torch.float64" in code, code
    scope: dict = {}
    exec(textwrap.dedent(code), scope)                     # noqa: S102 - the lines the message tells a user to paste
    got = scope["out"]
    p, q = (float(x) for x in re.findall(r"torch\.tensor\(\[([-\d.e+]+)\]", code)[:2])
    assert float(got) == pytest.approx(q / (p + q + 1))              # the target's own (wrong) value on that input


def test_the_dev_profile_prints_its_seed_and_seed_replays_it(tmp_path):
    args = ["conform", "--target", "reference", "--clause", "gan.optimal_discriminator", "--profile", "dev", "-q",
            "--report-json", str(tmp_path / "r.json")]
    p = _run(args, env={"GENSPEC_HYPOTHESIS_DIR": str(tmp_path / "hyp")})
    assert p.returncode == 0, p.stdout + p.stderr
    seed = json.loads((tmp_path / "r.json").read_text())["seed"]
    assert isinstance(seed, int) and f"seed={seed} (--seed {seed} replays it)" in p.stdout.splitlines()[0]
    p = _run(args + ["--seed", "1234"], env={"GENSPEC_HYPOTHESIS_DIR": str(tmp_path / "hyp")})
    assert "seed=1234" in p.stdout and json.loads((tmp_path / "r.json").read_text())["seed"] == 1234


def test_the_table_reads_not_run_singular_and_the_error_at_the_worst_ratio():
    rows = [{"id": "a.b", "status": "passed", "checks": [{"check": "c", "outcome": "passed"}], "worst_check": "c",
             "max_abs_error": 4.5e15, "abs_error_at_worst_ratio": 2.0e-3, "max_error_over_tolerance": 5e-3,
             "tolerance": "rtol=1.0e-12 atol=1.0e-12"},
            {"id": "e.f", "status": "not implemented", "checks": [{"check": "proof:x", "outcome": "passed"}] * 5,
             "worst_check": None, "max_abs_error": None, "max_error_over_tolerance": None, "tolerance": ""},
            {"id": "g.h", "status": "not run", "checks": [], "worst_check": None, "max_abs_error": None,
             "max_error_over_tolerance": None, "tolerance": ""}]
    rep = {"spec_version": "0.1.0", "target": "t", "backend": "numpy", "dtype": "float64", "device": "cpu",
           "profile": "ci", "duration_s": 1.0, "clauses": rows,
           "summary": {"passed": 1, "failed": 0, "not_implemented": 1, "no_checks": 0, "not_run": 1, "spec_only": 0,
                       "total": 3}}
    bound = Target(name="t", bindings={"gan.value": R.value})
    assert report.clause_status("gan.value", bound, []) == "not run"            # -x stopped before it
    assert report.clause_status("gan.adain", bound, []) == "not implemented"
    lines = report.table(rep)
    row = {ln.split()[0]: ln for ln in lines if ln.split() and ln.split()[0] in ("a.b", "e.f", "g.h")}
    assert "2.00e-03" in row["a.b"] and "4.50e+15" not in row["a.b"]
    assert "not run" in row["e.f"] and "5/5" not in row["e.f"] and "not run" in row["g.h"]
    assert lines[-1] == "1 passed, 0 failed, 1 not implemented, 1 not run of 3 clauses in 1.0s"
    assert report.summary_line({**rep, "summary": {**rep["summary"], "total": 1}}).endswith("of 1 clause in 1.0s")
    assert all(" " not in k for k in rep["summary"]) and "not_implemented" in [report.summary_key(s) for s in
                                                                               report.STATUS_ORDER]


def test_failures_print_after_the_header_and_junit_is_genspecs(tmp_path):
    (tmp_path / "offlib2.py").write_text("from genspec.conformance import Target\n"
                                         "target = Target(name='off', bindings={'gan.optimal_discriminator': "
                                         "lambda p_data, p_g: p_g / (p_data + p_g)})\n")
    ju = tmp_path / "j.xml"
    p = _run(["conform", "--target", "offlib2", "--clause", "gan.optimal_discriminator", "--junit", str(ju)],
             cwd=tmp_path)
    assert p.returncode == 1, p.stdout + p.stderr
    lines = p.stdout.splitlines()
    assert lines[0].startswith("genspec ") and "target=offlib2" in lines[0] and lines[1].startswith("FAILED "), lines
    root = ET.parse(ju).getroot()
    assert root.tag == "testsuites" and root.get("name") == "genspec"
    bodies = [f.text or "" for f in root.iter("failure")]
    assert bodies and all("reproduce: genspec" in b and "def " not in b and ".py:" not in b for b in bodies), bodies


def test_ci_prints_each_phase_duration():
    text = (pathlib.Path(__file__).resolve().parents[1] / ".ci" / "run").read_text()
    fn = re.search(r"^phase\(\) \{.*?^\}", text, re.S | re.M).group(0)
    p = subprocess.run(["bash", "-c", f"{fn}\nphase ok true\nphase bad false || echo rc=$?"], capture_output=True,
                       text=True, timeout=60)
    assert p.stdout.splitlines() == ["ci: ok took 0 s", "ci: bad took 0 s (failed, exit 1)", "rc=1"], p.stdout
    for cmd in ("ruff check .", "python tools/typecheck.py", "genspec conform", "genspec matrix",
                "python -m pytest -q"):
        assert re.search(rf"^phase \S+ {re.escape(cmd)}", text, re.M), cmd


def test_a_check_draws_alike_after_the_users_own_hypothesis_tests(tmp_path, monkeypatch):
    """Hypothesis mixes literals scraped from the source of loaded local modules into its draws. A check run inside
    a test suite, after the suite's own @given tests filled that pool from its modules, draws what `genspec conform`
    draws in a fresh process (run._without_local_constants empties the pool)."""
    from hypothesis import given, settings
    from hypothesis import strategies as st
    from hypothesis.internal.conjecture import providers
    before = check("reference", ["cfg.combine"], target_independent=False)["cfg.combine"]
    (tmp_path / "users_literals.py").write_text("A = (0.123456789, 7.25, -3.5e-7, 1e300, 2.0**-1074)\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    import users_literals  # noqa: F401    a local module hypothesis has not scanned yet

    @settings(max_examples=3, database=None)
    @given(st.floats(0, 1))
    def users_own_test(x):
        providers._get_local_constants()      # what a draw that picks from the pool does: scan the new modules
    users_own_test()
    assert len(providers._local_constants) > 0
    after = check("reference", ["cfg.combine"], target_independent=False)["cfg.combine"]
    assert (after.max_error_over_tolerance, after.max_abs_error, after.passed) == \
        (before.max_error_over_tolerance, before.max_abs_error, before.passed)
