"""The Target API for real libraries (supports, time, precision), the adapters, expected outcomes, genspec matrix.

The library-free tests bind the reference itself through each declaration: every declaration must let an honest
implementation pass (no false failure) and must still catch the slip it is about (each has a planted-bug twin).
The adapter tests run where the library is installed (CI installs all three) and skip cleanly otherwise.
"""
from __future__ import annotations

import json
import sys
from types import SimpleNamespace

import numpy as np
import pytest

from genspec.conformance import Target
from genspec.conformance.adapters import expected as E
from genspec.conformance.harness import api
from genspec.conformance.harness.matrix import markdown
from genspec.conformance.harness.registry import checks_for
from genspec.reference import family as R
from genspec.spec.errors import TargetError

FAMILY = ["family.affine", "family.vp_schedule", "family.ve_schedule", "family.interpolate", "family.target",
          "family.loss", "family.recover", "family.convert"]


def check(target, clauses, dtype="float64"):
    return api.check(target, clauses, dtype=dtype, target_independent=False, shrink=False)


# ---- time: the reference written on the reversed clock (t' = 1 − t, noise at t' = 0), by hand ---------------
def _neg(y, target):
    return -y if target == "velocity" else y


def reversed_reference() -> dict:
    """Each family function as a library with noise at t' = 0 would write it: its velocity is dx/dt' = −dx/dt."""
    def affine(t, path, target, schedule):
        a, b, c, d = R.coefficients(1.0 - t, path, target, schedule)
        return a, b, _neg(c, target), _neg(d, target)
    return {
        "family.affine": affine,
        "family.vp_schedule": lambda t, schedule: R.vp_alpha_bar(1.0 - t, schedule),
        "family.ve_schedule": lambda t: R.ve_sigma(1.0 - t),
        "family.interpolate": lambda x, z, t, path, schedule: R.affine_interpolate(x, z, 1.0 - t, path, schedule),
        "family.target": lambda x, z, t, path, target, schedule: _neg(
            R.affine_target(x, z, 1.0 - t, path, target, schedule), target),
        "family.loss": lambda f, x, z, t, path, target, schedule: R.affine_loss(
            _neg(f, target), x, z, 1.0 - t, path, target, schedule),
        "family.recover": lambda x_t, y, t, path, target, schedule: R.recover(
            x_t, _neg(y, target), 1.0 - t, path, target, schedule),
        "family.convert": lambda x_t, y, t, from_target, to_target, path, schedule: _neg(R.convert(
            x_t, _neg(y, from_target), 1.0 - t, from_target, to_target, path, schedule), to_target),
    }


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_reference_on_the_reversed_clock_passes_every_family_clause(dtype):
    """float32: t' = 1 − t is rounded once, as the target sees it, and the reference is evaluated at 1 − t'."""
    tgt = Target(name="reversed", bindings=reversed_reference(), time={"family": "noise_at_0"})
    res = check(tgt, FAMILY, dtype)
    assert {c: r.status for c, r in res.items()} == dict.fromkeys(FAMILY, "passed"), \
        {c: r.failures[:1] for c, r in res.items() if r.failures}


def test_reversed_clock_undeclared_fails():
    """The same functions without time= are wrong in the spec's clock: the declaration is what makes them pass."""
    res = check(Target(name="undeclared", bindings=reversed_reference()), ["family.interpolate", "family.target"])
    assert {r.status for r in res.values()} == {"failed"}


def test_velocity_sign_is_part_of_the_clock():
    """t mapped but the velocity not negated (the slip a hand-written remap makes) fails family.target."""
    b = reversed_reference()
    b["family.target"] = lambda x, z, t, path, target, schedule: R.affine_target(x, z, 1.0 - t, path, target, schedule)
    res = check(Target(name="unsigned", bindings=b, time={"family.*": "noise_at_0"}), ["family.target"])
    assert res["family.target"].status == "failed"


# ---- supports: partial support is "not implemented", never "failed" -------------------------------------------
def _rf_only(x, z, t, path, schedule):
    if path != "rf":
        raise NotImplementedError(path)   # a library without the path: without `supports` this is a failure
    return R.affine_interpolate(x, z, t, path, schedule)


def test_partial_support_passes_on_the_subset_and_lists_the_rest():
    res = check(Target(name="rf", bindings={"family.interpolate": _rf_only},
                       supports={"family.interpolate": {"path": ("rf",)}}), ["family.interpolate"])
    r = res["family.interpolate"]
    assert r.status == "passed" and not r.failures
    assert {"path='vp'", "path='ve'"} <= set(r.unsupported) and all(u.startswith("path=") for u in r.unsupported)
    assert [c for c, _ in r.not_implemented] == ["property:x_0 = x (rf, vp), x_1 = z (rf, vp-cosine)"]


def _rf_only_keyerror(x, z, t, path, schedule):
    if path != "rf":
        raise KeyError(path)               # the library's own way of refusing: a failure unless declared
    return R.affine_interpolate(x, z, t, path, schedule)


def test_undeclared_partial_support_fails():
    res = check(Target(name="rf", bindings={"family.interpolate": _rf_only_keyerror}), ["family.interpolate"])
    assert res["family.interpolate"].status == "failed"


def test_not_implemented_error_is_outside_support_with_its_message():
    """A target raising NotImplementedError declines the input: outside support (its message shown), never failed."""
    r = check(Target(name="rf", bindings={"family.interpolate": _rf_only}), ["family.interpolate"])
    r = r["family.interpolate"]
    assert r.status == "passed" and not r.failures
    assert "declined by the target (NotImplementedError: vp)" in r.unsupported


def test_a_declared_exception_type_is_outside_support():
    r = check(Target(name="rf", bindings={"family.interpolate": _rf_only_keyerror},
                     unsupported_errors={"family.interpolate": KeyError}), ["family.interpolate"])["family.interpolate"]
    assert r.status == "passed" and any(u.startswith("declined by the target (KeyError") for u in r.unsupported)


def test_nothing_inside_the_support_is_not_implemented():
    """(ve, none) is never drawn (ve's schedule is geometric): nothing can be checked, nothing fails."""
    tgt = Target(name="none", bindings={"family.interpolate": _rf_only},
                 supports={"family.interpolate": {"path": ("ve",), "schedule": ("none",)}})
    assert check(tgt, ["family.interpolate"])["family.interpolate"].status == "not implemented"


def test_supports_are_validated():
    b = {"family.interpolate": _rf_only}
    with pytest.raises(TargetError, match=r"no clause has a parameter value \[\"paths='rf'\"\]"):
        Target(name="x", bindings=b, supports={"family.interpolate": {"paths": ("rf",)}})
    with pytest.raises(TargetError, match=r"no clause has a parameter value \[\"path='rff'\"\]"):
        Target(name="x", bindings=b, supports={"family.interpolate": {"path": ("rff",)}})
    with pytest.raises(TargetError, match="non-empty tuples"):
        Target(name="x", bindings=b, supports={"family.interpolate": {"path": "rf"}})
    with pytest.raises(TargetError, match="names no clause it applies to"):
        Target(name="x", bindings=b, supports={"family.interpolate": {"target": ("x",)}})   # it has no target
    with pytest.raises(TargetError, match="names no clause it applies to"):
        Target(name="x", bindings=b, supports={"nosuch.*": {"path": ("rf",)}})
    with pytest.raises(TargetError, match="time= takes"):
        Target(name="x", bindings=b, time={"family.interpolate": "backwards"})
    with pytest.raises(TargetError, match="names no clause it applies to"):
        Target(name="x", bindings=b, time={"gan.adain": "noise_at_0"})
    with pytest.raises(TargetError, match="precision"):
        Target(name="x", bindings=b, precision={"family.*": "float16"})


# ---- precision: a schedule held in float32, samples in float64 -----------------------------------------------
def _vp_in_float32(t, schedule):
    return R.vp_alpha_bar(np.asarray(t, dtype=np.float32).astype(np.float64), schedule).astype(np.float32)


def test_declared_precision_compares_at_the_declared_tolerance():
    res = check(Target(name="f32", bindings={"family.vp_schedule": _vp_in_float32},
                       precision={"family.vp_schedule": "float32"}), ["family.vp_schedule"])
    r = res["family.vp_schedule"]
    assert r.status == "passed" and r.tolerance_dtype == "float32"


def test_undeclared_precision_fails_at_float64():
    res = check(Target(name="f32", bindings={"family.vp_schedule": _vp_in_float32}), ["family.vp_schedule"])
    assert res["family.vp_schedule"].status == "failed" and res["family.vp_schedule"].tolerance_dtype == "float64"


def test_declared_precision_does_not_hide_a_wrong_schedule():
    wrong = lambda t, schedule: _vp_in_float32(t, "cosine" if schedule == "linear" else "linear")
    res = check(Target(name="wrong", bindings={"family.vp_schedule": wrong},
                       precision={"family.vp_schedule": "float32"}), ["family.vp_schedule"])
    assert res["family.vp_schedule"].status == "failed"


# ---- expected outcomes -----------------------------------------------------------------------------------
def _result(status, *failed_checks):
    return SimpleNamespace(status=status, failures=[(c, "a message") for c in failed_checks])


def test_expected_failure_that_passes_warns_and_unexpected_failure_is_listed():
    exp = {("a.b", "float64"): E.Expected("a.b", ("float64",), ("target_matches_reference",), "1e-3 = 5x", "a reason")}
    unexpected, warnings = E.verdicts("lib", {("a.b", "float64"): _result("passed"),
                                              ("c.d", "float32"): _result("failed", "target_matches_reference")}, exp)
    assert unexpected == ["lib: c.d failed at float32 (not an expected outcome)"]
    assert len(warnings) == 1 and "a.b was expected to fail at float64" in warnings[0] and "remove it" in warnings[0]
    assert E.verdicts("lib", {("a.b", "float64"): _result("failed", "target_matches_reference")}, exp) == ([], [])
    some = {("a.b", "float64"): E.Expected("a.b", ("float64",), ("target_matches_reference",), "3x on some inputs",
                                           "a reason", input_dependent=True)}
    assert E.verdicts("lib", {("a.b", "float64"): _result("passed")}, some) == ([], [])   # other inputs: no evidence


def test_a_failure_in_a_check_its_entry_does_not_name_is_unexpected():
    """An expected failure of the value check does not hide a new failure of a property of the same clause."""
    exp = {("a.b", "float64"): E.Expected("a.b", ("float64",), ("target_matches_reference",), "5x", "a reason")}
    unexpected, _ = E.verdicts("lib", {("a.b", "float64"): _result("failed", "target_matches_reference",
                                                                     "property:new")}, exp)
    assert unexpected == ["lib: a.b failed at float64 in property:new, which its expected entry does not name "
                          "(only target_matches_reference)"]


def test_matrix_warns_when_the_records_were_measured_with_another_version(monkeypatch):
    pytest.importorskip("torchcfm")
    from genspec.conformance.harness import matrix
    monkeypatch.setattr(E, "recorded_for", lambda lib: "torchcfm==0.0.1")
    warnings = matrix.run(["torchcfm"], dtypes=("float64",))["libraries"]["torchcfm"]["warnings"]
    assert any("measured with torchcfm==0.0.1" in w and "re-measure" in w for w in warnings), warnings


@pytest.mark.parametrize("lib", ["diffusers", "flow_matching"])
def test_expected_outcome_files_name_real_clauses_with_measurements(lib):
    from genspec import spec
    entries = E.load(lib)
    assert entries
    for (row, dtype), e in entries.items():
        spec.get(row.split(" ")[0])
        assert dtype in ("float32", "float64") and e.measured and len(e.why) > 40 and e.checks
        names = {"target_matches_reference"} | {f"property:{p.name}" for p in checks_for(row.split(" ")[0]).properties}
        assert set(e.checks) <= names, (row, set(e.checks) - names)                     # real check names


# ---- the adapters ----------------------------------------------------------------------------------------
def test_adapter_without_its_library_names_the_pip_command(monkeypatch):
    from genspec.conformance import adapters
    monkeypatch.setitem(sys.modules, "torchcfm", None)   # import torchcfm now raises ImportError
    with pytest.raises(TargetError, match=r"torchcfm==1\.0\.7.*peers-constraints\.txt"):
        adapters.load("torchcfm")


BOUND = {  # every clause each adapter binds
    "torchcfm": ["rf.interpolation", "rf.velocity", "fm.convention", "family.interpolate", "family.target"],
    "flow_matching": ["family.affine", "family.vp_schedule", "family.interpolate", "family.target", "family.recover",
                      "family.convert", "sampler.euler", "rf.interpolation", "rf.velocity", "fm.convention"],
    "diffusers": ["gan.adain", "rf.interpolation", "ddpm.beta_schedule", "ddpm.alpha_bar", "ddpm.forward",
                  "ddpm.ancestral_step", "ddpm.ddim_step", "ddpm.ddim_eta_step", "family.interpolate", "schedule.shift",
                  "sampler.euler", "cfg.combine", "cfg.rescale", "dit.timestep_embedding", "schedule.shift_exponential",
                  "schedule.karras", "family.edm_precond", "family.edm_denoise", "cfg.apg"],
}
DTYPES = {"torchcfm": ("float32", "float64"), "flow_matching": ("float32", "float64"), "diffusers": ("float32",)}


@pytest.mark.parametrize("lib", list(BOUND))
def test_adapter_passes_except_its_expected_outcomes(lib):
    pytest.importorskip(lib)
    from genspec.conformance import adapters
    tgt = adapters.load(lib)
    assert sorted(tgt.bindings) == sorted(BOUND[lib])
    exp = E.load(lib)
    for dtype in DTYPES[lib]:
        res = check(tgt, BOUND[lib], dtype)
        unexpected, warnings = E.verdicts(lib, {(c, dtype): r for c, r in res.items()}, exp)
        assert not unexpected and not warnings, (unexpected, warnings)


def test_diffusers_declares_its_variants_in_one_target():
    """diffusers implements three beta schedules and three DDIM prediction types: one target declares them all
    (``variants=``), each is a run of its own, reported as its own row."""
    pytest.importorskip("diffusers")
    from genspec.conformance import adapters
    tgt = adapters.load("diffusers")
    assert adapters.variants("diffusers") == []
    assert tgt.variant_runs() == 3
    assert tgt.variant_combinations("ddpm.ddim_eta_step") == [
        {"prediction_type": "epsilon"}, {"prediction_type": "v_prediction"}, {"prediction_type": "sample"}]
    assert tgt.in_run(2).conventions_for("ddpm.ddim_eta_step")["prediction_type"] == "sample"
    assert sorted(tgt.in_run(1).bindings) == ["ddpm.beta_schedule", "ddpm.ddim_eta_step"]


def test_matrix_writes_markdown_and_json(tmp_path):
    pytest.importorskip("torchcfm")
    from argparse import Namespace

    from genspec.conformance.harness.matrix import main
    readme = tmp_path / "README.md"
    readme.write_text("intro\n<!-- matrix -->\nold\n<!-- /matrix -->\nrest\n")
    code = main(Namespace(adapter=["torchcfm"], dtype=["float64"], profile="ci", out=str(tmp_path),
                          readme=str(readme)))
    assert code == 0
    m = json.loads((tmp_path / "matrix.json").read_text())
    cells = m["libraries"]["torchcfm"]["clauses"]
    assert set(cells) == set(BOUND["torchcfm"]) and cells["rf.velocity"]["float64"]["status"] == "passed"
    md = (tmp_path / "matrix.md").read_text()
    assert md == markdown(m) and "| `rf.velocity` | ✓" in md and "torchcfm 1.0.7 float64" in md
    assert readme.read_text() == f"intro\n<!-- matrix -->\n{md}<!-- /matrix -->\nrest\n"


def test_matrix_without_the_libraries_says_what_to_install(monkeypatch, capsys):
    from argparse import Namespace

    from genspec.conformance import adapters
    from genspec.conformance.harness.matrix import main
    monkeypatch.setattr(adapters, "installed", lambda lib: False)
    assert main(Namespace(adapter=None, dtype=None, profile="ci", out=None, readme=None)) == 5
    out, err = capsys.readouterr()
    assert "Not installed, not run: diffusers (`pip install diffusers==0.42.1`)" in out
    assert "no adapter's library is installed" in err


def test_matrix_shows_progress_per_library(capsys):
    """`genspec matrix` takes minutes: each library says when it starts and what it found, on stderr."""
    pytest.importorskip("vector_quantize_pytorch")
    from genspec.conformance.harness.cli import main
    main(["matrix", "--adapter", "vector_quantize_pytorch", "--dtype", "float64"])
    err = capsys.readouterr().err.splitlines()
    assert any(x.startswith("genspec: matrix [1/1] vector_quantize_pytorch ") and "checking at float64" in x
               for x in err), err
    assert any(x.startswith("genspec: matrix [1/1] vector_quantize_pytorch: ") and " rows in " in x
               for x in err), err
