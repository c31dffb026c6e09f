"""The documentation pages' Markdown (conformance/book/), without a browser or MkDocs: every clause page carries what
its record declares, worked examples run (and a failing one fails the build), the peers' rows come from the recorded
matrix with the recorded reasons. The site in a browser: tests/test_docs.py."""
from __future__ import annotations

import json

import numpy as np
import pytest

from genspec import spec
from genspec.conformance.adapters import expected as E
from genspec.conformance.book import clause_page as C
from genspec.conformance.book import peers as P
from genspec.conformance.book.text import prose, split_parts
from genspec.conformance.harness.declare import ClauseChecks


@pytest.fixture(scope="module")
def matrix():
    return P.load()


def test_every_clause_page_carries_its_record(matrix):
    """Each page names every symbol, variant, provenance source and tolerance of its clause, and runs its example."""
    for cid, c in spec.CLAUSES.items():
        md = C.page(c, matrix, [], C.run_example(cid))
        assert md.startswith(f"# `{cid}`"), cid
        for s in c.symbols:
            assert f"`{s.name}`" in md, (cid, s.name)
        for cv in c.conventions:
            for v in cv.variants:
                assert f"`{v.name}`" in md, (cid, v.name)
        for p in c.provenance:
            assert p.source.removeprefix("external:").strip()[:2] in md, (cid, p.source)
        assert f"{c.tolerance.float32.rtol:.1e}" in md, cid
        if C.checks_for(cid).example is not None and c.function is not None:
            assert "## Worked example" in md, cid
        if C.accelerated_function(cid) is not None:
            assert "## Accelerated code" in md and f"def {c.function}(" in md, cid


def test_the_worked_example_runs_in_both_implementations():
    r = C.run_example("cfg.combine")
    ex = r["inputs"]
    v_y, v_null, w = ex["v_y"], ex["v_null"], ex["w"]
    np.testing.assert_allclose(r["reference"], (1 + w) * v_y - w * v_null, rtol=1e-15)  # the clause, by hand
    assert r["accelerated"] is not None and r["max_abs_diff"] < 1e-12


def test_a_failing_example_fails_the_build(monkeypatch):
    bad = ClauseChecks(clause="cfg.combine", example=lambda: {"v_y": np.zeros((1, 2)), "v_null": np.zeros((1, 3)),
                                                              "w": 1.0})
    monkeypatch.setattr(C, "checks_for", lambda cid: bad)
    with pytest.raises(C.ExampleFailed, match="worked example of cfg.combine failed"):
        C.run_example("cfg.combine")


def test_peers_rows_and_reasons_come_from_the_records(matrix):
    if matrix is None:
        pytest.skip("README.md is not beside the package (an installed copy)")
    rows = matrix.rows_of("ddpm.forward")
    assert rows and any("✗" in cell and "expected" in cell for cells in rows.values() for cell in cells)
    md = C.peers_md(spec.get("ddpm.forward"), matrix)
    why = E.load("diffusers")[("ddpm.forward", "float32")].why
    assert prose(why)[:60] in md
    assert "No adapter binds `gan.value`" in C.peers_md(spec.get("gan.value"), matrix)


def test_a_matrix_run_replaces_the_recorded_one(tmp_path):
    run = {"spec_version": "0.1.0", "profile": "ci", "dtypes": ["float32"], "libraries": {
        "torchcfm": {"installed": True, "version": "9.9", "clauses": {"rf.velocity": {"float32": {
            "status": "failed", "partial": False, "max_error_over_tolerance": 3.0, "expected": None}}}},
        "diffusers": {"installed": False, "install": "diffusers==0.42.1"}}}
    (tmp_path / "matrix.json").write_text(json.dumps(run))
    m = P.load(str(tmp_path))
    assert m.columns == ["torchcfm 9.9 float32"] and m.rows_of("rf.velocity") == {"rf.velocity": ["✗ 3.0e+00"]}


def test_prose_keeps_math_and_code_and_escapes_the_rest():
    assert prose(r"s = 1 + w,\ w = s - 1. Guidance off at s = 1.") == r"$s = 1 + w,\ w = s - 1$. Guidance off at s = 1."
    assert prose("the notes write $x_t$ as `x_t` or x_t*") == r"the notes write $x_t$ as `x_t` or x\_t\*"
    assert prose(r"$\|x\|$ and a|b", table=True) == r"$\Vert x\Vert $ and a\|b"


def test_docs_command_line_errors_are_one_line(capsys):
    from genspec.conformance.harness.cli import main
    assert main(["docs", "runs", "nosuchjob"]) == 2
    assert main(["docs", "build"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["genspec: error: genspec docs runs: unknown job(s) nosuchjob; jobs: ar, distill, t2i, t2v",
                   "genspec: error: genspec docs build: give one output folder DIR"]


def test_docs_build_never_empties_a_folder_that_is_not_a_site(tmp_path, capsys):
    pytest.importorskip("mkdocs", reason="genspec docs needs the docs extra: pip install -e '.[docs]'")
    from genspec.conformance.harness.cli import main
    (tmp_path / "mine.txt").write_text("keep me")
    assert main(["docs", "build", str(tmp_path), "--quick"]) == 2
    assert (tmp_path / "mine.txt").read_text() == "keep me"
    assert "is not empty and holds no earlier site" in capsys.readouterr().err


def test_a_job_page_takes_whatever_its_run_directory_holds(tmp_path):
    from genspec.conformance.book import stack
    run = tmp_path / "runs" / "t2v"
    (run / "samples").mkdir(parents=True)
    (run / "samples" / "strip.png").write_bytes(b"\x89PNG\r\n\x1a\n")
    (run / "metrics.json").write_text(json.dumps({"adherence_vs_w": {"0.0": 0.25, "2.0": 0.5}, "steps": 3}))
    img = tmp_path / "img"
    img.mkdir()
    md = stack.page("t2v", str(tmp_path / "runs"), str(img))
    assert "usage: genspec train t2v" in md and "## What it trains" in md
    assert "![samples/strip.png](../img/run_t2v_samples_strip.png)" in md
    assert (img / "run_t2v_samples_strip.png").exists()
    assert "| 0.0 | 0.25 |" in md and "| steps | 3 |" in md
    assert "genspec docs runs t2v" in stack.page("t2v", str(tmp_path / "none"), str(img))


def test_a_statement_of_several_parts_is_split_at_depth_zero_only():
    assert split_parts(r"a = 1;\quad b = \{x,\quad y\},\quad c") == ["a = 1;", r"b = \{x,\quad y\},", "c"]
    assert split_parts(r"f_{a;\quad b} = 1") == [r"f_{a;\quad b} = 1"]
    assert split_parts(r"x;\quadrant") == [r"x;\quadrant"]


def test_unicode_math_of_the_checks_becomes_latex():
    """The converter of the checks' Unicode math (proof, law and property names): each case written by hand."""
    from genspec.conformance.book.unimath import to_latex
    assert to_latex("ᾱ_t") == r"\bar{\alpha}_{t}"
    assert to_latex("√(1 − ᾱ_{t−1})") == r"\sqrt{1 - \bar{\alpha}_{t-1}}"
    assert to_latex("√α_t") == r"\sqrt{\alpha_{t}}"
    assert to_latex("σ_max²") == r"\sigma_{\mathrm{max}}^{2}"
    assert to_latex("x̂_0 + ṽ") == r"\hat{x}_{0} + \tilde{v}"
    assert to_latex("L*(t*²)") == r"L^{*}(t^{*2})"                          # one superscript, not two
    assert to_latex("Σ⁻¹ 2q̂q̂ᵀ") == r"\Sigma^{-1} 2\hat{q}\hat{q}^{\top}"
    assert to_latex("E[x | x_t] ≤ ∇log p") == r"\mathbb{E}[x | x_{t}] \le \nabla \log p"
    assert to_latex("N(μ, σ²)") == r"\mathcal{N}(\mu , \sigma^{2})"
    assert to_latex("39,321,600 ≈ 12×") == r"39{,}321{,}600 \approx 12\times"
    assert to_latex("mse_all_elements = shift_s(t)") == r"\texttt{mse_all_elements} = \operatorname{shift}_{s}(t)"
    assert to_latex("Φ(u) = ½ erfc(x0)") == r"\Phi (u) = \tfrac{1}{2} \operatorname{erfc}(x_{0})"
    assert to_latex("Δ⊥ ⟂ v_∅") == r"\Delta_{\perp} \perp v_{\varnothing}"


def test_a_name_keeps_its_words_and_typesets_its_math():
    from genspec.conformance.book.unimath import markdown
    assert markdown("guidance off at w = 0 (s = 1)") == r"guidance off at $w = 0\quad (s = 1)$"   # an aside
    assert markdown("a masked key (m = 0) is a deleted key") == "a masked key $(m = 0)$ is a deleted key"
    assert markdown("σ(0) = σ_min, σ(1) = σ_max") == r"$\sigma (0) = \sigma_{\mathrm{min}}$, $\sigma (1) = " \
                                                     r"\sigma_{\mathrm{max}}$"            # a line may wrap at ', '
    assert markdown("a E[x|x_t] + b = x_t for a 50-step grid (03's 'w=7.5')") == \
        r"$a \mathbb{E}[x|x_{t}] + b = x_{t}$ for a 50-step grid (03's 'w=7.5')"
    assert markdown("clip_sample: where |x̂_0| ≤ 1 (ddpm.ddim_step's)") == \
        r"`clip_sample`: where $|\hat{x}_{0}| \le 1$ (`ddpm.ddim_step`'s)"              # code names and clause ids


def test_math_that_cannot_be_typeset_fails_the_build():
    from genspec.conformance.book.unimath import check
    from genspec.spec.errors import GenspecError
    with pytest.raises(GenspecError, match=r"x.y: the math .* \(Unicode left: ∮\)"):
        check(r"\alpha ∮", "x.y")
    with pytest.raises(GenspecError, match="braces or scripts"):
        check(r"x_{t", "x.y")
    with pytest.raises(GenspecError, match="braces or scripts"):
        check(r"x^{2}^{3}", "x.y")


def test_every_proof_law_and_property_name_is_typeset():
    """Every name the pages list converts (the build fails otherwise: C.page calls the same check), and no math sign
    is left in the words between the math (a quoted literal such as 'w=7.5' and a code name stay as written)."""
    import re

    from genspec.conformance.book.unimath import pieces
    signs = set("=²√∇∂∫≤≥≠≈→⇒∞‖_^∘·×⁻ᵀ")
    names = {n for cid in spec.CLAUSES for n in [p.name for p in C.checks_for(cid).proofs]
             + [p.name for p in C.checks_for(cid).properties]}
    assert len(names) > 300
    for name in names:
        for kind, text in pieces(name):
            if kind == "text":
                words = re.sub(r"(?<!\w)'[^']*'|\w+(?:[._]\w+)+", "", text)
                assert not signs & set(words), (name, text)
