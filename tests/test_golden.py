"""Golden vectors (conformance/golden/): deterministic export, hash and staleness refusal, conform-like reports, and
the worked C example in examples/golden_c/ (passes; its planted bug fails exactly schedule.shift)."""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess

import numpy as np
import pytest

from genspec import spec
from genspec.conformance import Target
from genspec.conformance.golden import check, export, load_manifest
from genspec.conformance.golden.cases import draw, golden_cases, unwritable, value_clauses, variants
from genspec.conformance.golden.check import write_results
from genspec.conformance.golden.codec import GoldenError, decode, float_of
from genspec.conformance.golden.fields import LinearField, linear_field
from genspec.conformance.harness.cli import main
from genspec.conformance.harness.target import load

HERE = os.path.dirname(os.path.abspath(__file__))
C_SOURCE = os.path.join(HERE, "..", "examples", "golden_c", "golden.c")
C_CLAUSES = ["cfg.combine", "rf.interpolation", "schedule.shift", "vae.kl"]
CASES = 4  # drawn cases per variant (plus the worked example and the edges): enough here, and quick
SUBSET = C_CLAUSES + ["fm.convention", "cfg.dropout", "sampler.euler"]  # a tuple output, integer output, a field


@pytest.fixture(scope="module")
def goldens(tmp_path_factory):
    d = str(tmp_path_factory.mktemp("golden") / "g")
    export(d, SUBSET, n=CASES)
    return d


def _files(d):
    out = {}
    for root, _, names in os.walk(d):
        for n in names:
            p = os.path.join(root, n)
            with open(p, "rb") as f:
                out[os.path.relpath(p, d)] = f.read()
    return out


def test_export_is_byte_identical_in_a_fresh_process(goldens, tmp_path):
    """`genspec golden export` run again, in another process, writes the same bytes (NPZ included)."""
    d = str(tmp_path / "cli")
    env = {**os.environ, "PYTHONPATH": os.path.join(HERE, "..")}
    argv = ["python", "-m", "genspec.conformance.harness.cli", "golden", "export", d, "--cases", str(CASES)]
    argv += [a for c in SUBSET for a in ("--clause", c)]
    out = subprocess.run(argv, env=env, capture_output=True, text=True, check=True).stdout
    assert f"{len(SUBSET)} clauses with goldens" in out
    a, b = _files(goldens), _files(d)
    assert sorted(a) == sorted(b) and len(a) > 50
    assert [k for k in a if a[k] != b[k]] == []


def test_draws_do_not_depend_on_the_modules_imported_before(monkeypatch):
    """hypothesis also draws literals of the local modules imported so far (a pytest run imports every test module):
    the goldens are drawn without them, so the same in every process."""
    from hypothesis.internal.conjecture import providers
    seen = []
    real = providers._get_local_constants
    monkeypatch.setattr(providers, "_get_local_constants", lambda: seen.append(1) or real())
    assert draw("schedule.shift", {}, 3) and seen == []


def test_manifest_lists_every_file_with_its_hash_tolerances_and_conventions(goldens):
    m = load_manifest(goldens)
    assert m["spec_version"] == spec.SPEC_VERSION and set(m["clauses"]) == set(SUBSET)
    on_disk = set(_files(goldens)) - {"manifest.json"}
    assert on_disk == {f for e in m["clauses"].values() for f in e["files"]}
    e = m["clauses"]["cfg.combine"]
    assert e["conventions"]["form"]["variants"] == ["one_plus_w", "conditional_offset", "scale"]
    assert e["tolerance"]["float32"] == {"rtol": spec.get("cfg.combine").tolerance.float32.rtol,
                                         "atol": spec.get("cfg.combine").tolerance.float32.atol}
    assert len(e["files"]) == 3 * 3 * 3  # 3 forms × 3 dtypes × (json, npz, txt)
    assert all(e["exportable"] for e in m["clauses"].values())
    with open(os.path.join(goldens, "sampler.euler", "float32", "time=reversed_time+grid=uniform.json")) as f:
        f_arg = json.load(f)["cases"][0]["inputs"]["f"]
    assert f_arg["type"] == "field" and f_arg["kind"] == "linear"     # the callable, as a linear field


def test_json_npz_and_txt_hold_the_same_exact_values(goldens):
    stem = os.path.join(goldens, "fm.convention", "bfloat16", "default")
    with open(stem + ".json") as f:
        doc = json.load(f)
    npz = np.load(stem + ".npz")
    with open(stem + ".txt") as f:
        txt = f.read().split()
    for case in doc["cases"]:
        for name, enc in case["inputs"].items():
            np.testing.assert_array_equal(npz[f"{case['id']}.in.{name}"], decode(enc))
        for i, item in enumerate(decode(case["expected"])):
            np.testing.assert_array_equal(npz[f"{case['id']}.out.{i}"], item)
            assert [float_of(x) for x in case["expected"]["items"][i]["hex"]] == list(item.ravel())
    x0 = decode(doc["cases"][1]["inputs"]["x0"])
    assert np.all(x0 == x0.astype(np.float32))  # rounded to bfloat16 (exact in float32) before the reference ran
    assert txt[:2] == ["genspec-golden-txt", "1"]
    from_txt = _read_txt(txt)
    assert len(from_txt) == len(doc["cases"])
    for got, case in zip(from_txt, doc["cases"], strict=True):
        want = {**{k: decode(v) for k, v in case["inputs"].items()},
                **{f"out.{i}": a for i, a in enumerate(decode(case["expected"]))}}
        assert list(got) == list(want)
        for k in want:
            np.testing.assert_array_equal(got[k], want[k])


def _read_txt(tokens):
    """A reader of the flat text format as a foreign program would write it (floats, ndim, dims, values)."""
    cases, i = [], tokens.index("cases") + 2
    while i < len(tokens):
        assert tokens[i] == "case"
        case, i = {}, i + 2
        while tokens[i] != "end":
            _, name, typ, ndim = tokens[i:i + 4]
            dims = [int(x) for x in tokens[i + 4:i + 4 + int(ndim)]]
            size, i = int(np.prod(dims)), i + 4 + int(ndim)
            vals = [float.fromhex(x) for x in tokens[i:i + size]]
            case[name], i = (np.array(vals).reshape(dims) if typ == "f" else None), i + size
        cases.append(case)
        i += 1
    return cases


def test_every_value_clause_has_goldens():
    """Every value clause with a function gives cases (callables become linear fields), unless an input is of a
    kind no file can carry (then the manifest gives that reason)."""
    assert len(value_clauses()) >= 58
    for cid in value_clauses():
        conv = variants(cid)[-1]
        drawn = draw(cid, conv, 2)
        assert drawn, cid
        if unwritable(cid, drawn[0]):
            continue
        for dtype in ("float64", "bfloat16"):
            cases, error = golden_cases(cid, conv, dtype, drawn)
            assert cases, (cid, dtype, error)


def test_conditional_field_tells_the_two_null_labels_apart():
    f = linear_field("cfg.cost", 0, "f", D=2, classes=3)
    x, t = np.ones((2, 2)), np.array([0.5, 0.5])
    assert f.A.shape == (5, 2, 2)
    assert not np.allclose(f(x, np.array([3, 3]), t), f(x, np.array([-1, -1]), t))   # y_∅ = C vs y_∅ = −1
    np.testing.assert_array_equal(f(x, np.array([-1, 0]), t)[0], x[0] @ f.A[4] + 0.5 * f.b[4])
    g = LinearField(np.eye(2), np.zeros(2))
    np.testing.assert_array_equal(g.torch(__import__("torch").ones(2, 2), np.zeros(2)).numpy(), np.ones((2, 2)))


def test_a_sampler_bug_fails_against_the_field_goldens(goldens, tmp_path):
    def euler_late(f, x1, T, time="data_at_0"):   # evaluates f at the end of each step, not its start
        x = np.array(x1, dtype=np.float64)
        for k in range(T):
            x = x - f(x, np.full(x.shape[0], 1 - (k + 1) / T)) / T
        return x

    res = str(tmp_path / "res")
    write_results(goldens, res, Target(name="late", bindings={"sampler.euler": euler_late}), "float64")
    rep = check(goldens, res, "float64")
    assert [(r["id"], r["status"]) for r in rep["clauses"] if r["status"] != "not implemented"] == \
        [("sampler.euler", "failed")]


def test_golden_check_prints_the_failing_cases(goldens, tmp_path, capsys):
    def off(v_y, v_null, w):
        return v_y + 1.0

    res = str(tmp_path / "res")
    write_results(goldens, res, Target(name="off", bindings={"cfg.combine": off}), "float64")
    capsys.readouterr()
    assert main(["golden", "check", goldens, res, "--clause", "cfg.combine"]) == 1
    out = capsys.readouterr().out
    failed = out.split("FAILED ", 1)[1]
    assert out.splitlines()[0].startswith("genspec ") and failed.startswith("cfg.combine"), out
    assert re.search(r"case \S+ of \S+\.json: ", failed) and "\n  expected: 'out': " in failed, out
    assert "\n  got: 'out': " in failed and "reproduce: genspec golden check" in failed, out


def test_accelerated_passes_and_unbound_clauses_are_not_implemented(goldens, tmp_path):
    res = str(tmp_path / "res")
    assert write_results(goldens, res, load("accelerated"), "float32") == len(SUBSET)
    os.remove(os.path.join(res, "float32", "cfg.dropout.json"))
    rep = check(goldens, res, "float32")
    status = {r["id"]: r["status"] for r in rep["clauses"]}
    assert status == {**{c: "passed" for c in SUBSET}, "cfg.dropout": "not implemented"}
    assert rep["summary"]["passed"] == 6 and rep["dtype"] == "float32"


def test_tampered_or_stale_goldens_are_refused(goldens, tmp_path, capsys):
    bad = str(tmp_path / "bad")
    shutil.copytree(goldens, bad)
    res = str(tmp_path / "res")
    os.makedirs(os.path.join(res, "float64"))
    p = os.path.join(bad, "schedule.shift", "float64", "default.json")
    with open(p) as f:
        text = f.read()
    with open(p, "w") as f:
        f.write(text.replace('"0x1.0000000000000p-2"', '"0x1.0000000000001p-2"', 1))
    assert main(["golden", "check", bad, res]) == 2
    assert "schedule.shift/float64/default.json was changed after export" in capsys.readouterr().err
    with open(p, "w") as f:
        f.write(text)
    m = os.path.join(bad, "manifest.json")
    with open(m) as f:
        man = json.load(f)
    man["clauses"]["vae.kl"]["digest"] = "0" * 64                  # the clause changed since the export
    with open(m, "w") as f:
        json.dump(man, f)
    assert main(["golden", "check", bad, res]) == 2
    assert "stale goldens: clause vae.kl (its statement, tolerance or reference) changed" in capsys.readouterr().err
    man["spec_version"] = "0.0.9"
    with open(m, "w") as f:
        json.dump(man, f)
    assert main(["golden", "check", bad, res]) == 2
    assert "exported from spec 0.0.9" in capsys.readouterr().err
    with pytest.raises(GoldenError, match="holds no manifest"):
        check(str(tmp_path), res)


def test_bad_results_are_one_line_errors(goldens, tmp_path, capsys):
    res = tmp_path / "res"
    (res / "float64").mkdir(parents=True)
    assert main(["golden", "check", goldens, str(res)]) == 2       # nothing to check
    (res / "float64" / "cfg.combine.json").write_text(json.dumps({"conventions": {"form": "sclae"}, "outputs": {}}))
    assert main(["golden", "check", goldens, str(res)]) == 2
    err = capsys.readouterr().err
    assert "no result file for any selected clause" in err and "convention 'form' has no variant 'sclae'" in err
    assert main(["golden", "check", goldens, str(res), "--dtype", "float32"]) == 2   # no float32/ folder
    assert main(["golden", "export", str(res)]) == 2                                 # not empty, not goldens
    assert "holds no golden manifest" in capsys.readouterr().err


def _build(tmp_path, *flags):
    exe = str(tmp_path / ("golden_bug" if flags else "golden"))
    subprocess.run(["cc", "-std=c99", "-O2", "-Wall", "-Werror", *flags, "-o", exe, C_SOURCE, "-lm"], check=True)
    return exe


@pytest.mark.skipif(shutil.which("cc") is None, reason="no C compiler (cc)")
def test_c_example_passes_and_its_planted_bug_fails_exactly_schedule_shift(goldens, tmp_path, capsys):
    ok, bug = str(tmp_path / "ok"), str(tmp_path / "bug")
    subprocess.run([_build(tmp_path), goldens, ok], check=True)
    subprocess.run([_build(tmp_path, "-DPLANTED_BUG"), goldens, bug], check=True)
    junit = str(tmp_path / "j.xml")
    for dtype in ("float64", "float32", "bfloat16"):
        assert main(["golden", "check", goldens, ok, "--dtype", dtype, "--junit", junit]) == 0
        rep = check(goldens, ok, dtype)
        assert {r["id"] for r in rep["clauses"] if r["status"] == "passed"} == set(C_CLAUSES)
        rep = check(goldens, bug, dtype)
        assert {r["id"] for r in rep["clauses"] if r["status"] == "failed"} == {"schedule.shift"}, dtype
    out = capsys.readouterr().out
    assert "4 passed, 0 failed, 3 not implemented of 7 clauses" in out
    assert main(["golden", "check", goldens, bug, "--clause", "schedule.shift", "--junit", junit]) == 1
    with open(junit) as f:
        xml = f.read()
    assert 'failures="1"' in xml and 'classname="schedule.shift"' in xml and "reproduce: genspec golden check" in xml
