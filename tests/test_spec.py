"""The spec itself: valid, unique, traceable to the notes, mirrored by reference and accelerated."""
import importlib
import json
import os
import pathlib
import re
import subprocess
import sys

import pytest
import sympy
from pydantic import ValidationError

from genspec import spec
from genspec.conformance.harness.registry import all_checks, checks_for
from genspec.spec.expression import symbols
from genspec.spec.schema import SOURCES, Clause, Convention, Law, Provenance, Variant

SEEDS = pathlib.Path(os.environ.get("GENSPEC_SEEDS_DIR")
                     or pathlib.Path(__file__).resolve().parents[2] / "shared" / "seeds")
NOT_VERIFIED = "provenance quotes not verified"  # tests/conftest.py summarises these skips in one line


def _norm(s: str) -> str:
    return re.sub(r"\s+", " ", s).strip()


def test_every_family_declares_clauses():
    for fam in spec.FAMILIES:
        mod = importlib.import_module(f"genspec.spec.{fam}")
        assert mod.CLAUSES, f"spec/{fam}.py declares no clause"


@pytest.mark.parametrize("cid", list(spec.CLAUSES))
def test_provenance_quotes_are_verbatim(cid):
    if not SEEDS.is_dir():
        why = f"the source notes ({SEEDS}) are not beside this checkout"
        if os.environ.get("CI", "").lower() in ("true", "1", "yes"):
            pytest.fail(f"{why}: under CI the quotes must be verified")
        pytest.skip(f"{NOT_VERIFIED}: {why}")
    for p in spec.get(cid).provenance:
        if p.source.startswith("external:"):
            continue
        text = _norm((SEEDS / SOURCES[p.source]).read_text(encoding="utf-8"))
        assert _norm(p.quote) in text, f"{cid}: quote not found in {p.file}: {p.quote!r}"


@pytest.mark.parametrize("cid", [c.id for c in spec.CLAUSES.values() if c.function])
def test_reference_and_accelerated_mirror_each_clause(cid):
    c = spec.get(cid)
    m = spec.module_of(cid)
    ref = importlib.import_module(f"genspec.reference.{m}")
    acc = importlib.import_module(f"genspec.accelerated.{m}")
    assert callable(getattr(ref, c.function, None)), f"reference/{m}.py lacks {c.function}"
    assert callable(getattr(acc, c.function, None)), f"accelerated/{m}.py lacks {c.function}"


@pytest.mark.parametrize("cid", list(spec.CLAUSES))
def test_every_clause_has_a_check_that_can_fail(cid):
    c, chk = spec.get(cid), checks_for(cid)
    assert c.function is not None or chk.properties or chk.proofs, f"{cid} has nothing to check"
    if c.function is not None:
        assert chk.value_cases() is not None, f"{cid} binds a function but has no input cases"
    if "identity" in c.kind:
        assert chk.proofs, f"{cid} claims an identity but has no sympy proof"
    if "property" in c.kind:
        assert chk.properties, f"{cid} claims properties but checks none"


def test_checks_name_only_known_clauses():
    assert set(all_checks()) <= set(spec.CLAUSES)


def test_export_round_trips_through_the_schema(tmp_path):
    data = json.loads(json.dumps(spec.export()))
    assert data["spec_version"] == spec.SPEC_VERSION
    assert [c["id"] for c in data["clauses"]] == list(spec.CLAUSES)
    for raw in data["clauses"]:
        assert Clause.model_validate(raw) == spec.get(raw["id"])
    schema = spec.json_schema()
    assert schema["title"] == "Clause" and "provenance" in schema["required"]


def test_schema_rejects_malformed_clauses():
    ok = dict(id="x.y", title="t", statement="s", kind=("value",),
              provenance=(Provenance(source="00", quote="abc"),))
    Clause(**ok)
    with pytest.raises(ValidationError):
        Clause(**{**ok, "id": "NoDot"})
    with pytest.raises(ValidationError):
        Clause(**{**ok, "provenance": ()})
    with pytest.raises(ValidationError):
        Provenance(source="99", quote="abc")
    with pytest.raises(ValidationError):
        Convention(name="c", description="d", default="missing",
                   variants=(Variant(name="a", statement="s", mapping="m"),))


def test_variant_arguments_convert_units_and_are_validated():
    """Variant.arguments: the scale form takes s = 1 + w, zero_based indexing k = t − 1 (t_prev too where the clause
    has it); sympy expressions of the clause's own inputs only (a string would need eval), never on the default."""
    assert spec.get("cfg.combine").in_variant({"w": 6.5, "v_y": 1.0}, {"form": "scale"}) == {"w": 7.5, "v_y": 1.0}
    assert spec.get("cfg.combine").in_variant({"w": 6.5}, {}) == {"w": 6.5}
    got = spec.get("ddpm.ddim_step").in_variant({"t": 3, "t_prev": 0}, {"indexing": "zero_based"})
    assert got == {"t": 2, "t_prev": -1}
    assert spec.get("cfg.classifier_guidance").in_variant({"s": 3.0}, {"scale": "w"}) == {"s": 2.0}
    for bad in ("1 + w", "__import__('os')", [1], None):
        with pytest.raises(ValidationError, match="not a sympy expression"):
            Variant(name="a", statement="s", mapping="m", arguments={"w": bad})
    w, z = symbols("w z")
    ws = spec.schema.Symbol(name="w", description="d", domain=spec.schema.Domain(), role="parameter")
    ok = dict(id="x.y", title="t", statement="s", kind=("value",), provenance=(Provenance(source="00", quote="abc"),),
              symbols=(ws,))

    def conv(default_args, other_args):
        return Convention(name="c", description="d", default="a",
                          variants=(Variant(name="a", statement="s", mapping="m", arguments=default_args),
                                    Variant(name="b", statement="s", mapping="m", arguments=other_args)))
    Clause(**ok, conventions=(conv({}, {"w": 2 * w}),))
    with pytest.raises(ValidationError, match="only a non-default variant"):
        Clause(**ok, conventions=(conv({"w": w}, {}),))
    with pytest.raises(ValidationError, match="only a non-default variant"):
        Clause(**ok, conventions=(conv({}, {"w": w + z}),))


def test_declared_math_reads_only_the_clause_inputs_and_round_trips():
    """expression, variant_expressions, laws and error_scale name only the clause's inputs (a law also out and base),
    variant_expressions only its variants; the JSON export reads back without eval (an expression tree)."""
    from genspec.spec.expression import OUT
    w, z = symbols("w z")
    ws = spec.schema.Symbol(name="w", description="d", domain=spec.schema.Domain(low=-1, high=1), role="parameter")
    ok = dict(id="x.y", title="t", statement="s", kind=("value",), provenance=(Provenance(source="00", quote="abc"),),
              symbols=(ws,))
    c = Clause(**ok, expression=2 * w, laws=(Law(name="zero", at={w: 0}, of=OUT, equals=0),), error_scale=1 + abs(w))
    assert Clause.model_validate(json.loads(c.model_dump_json())) == c
    for bad in ({"expression": w + z}, {"error_scale": z}, {"laws": (Law(name="l", at={z: 0}, equals=0),)},
                {"laws": (Law(name="l", equals=z),)}, {"variant_expressions": {"nope": w}}):
        with pytest.raises(ValidationError, match="x.y"):
            Clause(**ok, **bad)
    with pytest.raises(ValidationError, match="need the default's `expression`"):
        Clause(**ok, variant_expressions={"b": w})
    with pytest.raises(ValidationError, match="declare its symbols real"):
        Clause(**ok, expression=2 * sympy.Symbol("w"))
    with pytest.raises(ValidationError, match="exported expression tree"):
        Clause.model_validate({**json.loads(c.model_dump_json()), "expression": {"tree": {"eval": ["w"]}}})


def test_unknown_clause_is_a_clear_error():
    with pytest.raises(spec.UnknownClauseError, match="gan.optimal_discriminatr"):
        spec.get("gan.optimal_discriminatr")


def test_tolerances_are_ordered_by_precision():
    """A tolerance never gets tighter as the dtype gets coarser."""
    for c in spec.CLAUSES.values():
        t = c.tolerance
        assert t.float64.rtol <= t.float32.rtol <= t.bfloat16.rtol, c.id
        assert t.float64.atol <= t.float32.atol <= t.bfloat16.atol, c.id
        assert t.why, f"{c.id}: tolerance without a justification"


@pytest.mark.parametrize("proof", [(c, p) for c in spec.CLAUSES for p in checks_for(c).proofs],
                         ids=lambda cp: f"{cp[0]}:{cp[1].name[:50]}")
def test_every_symbolic_claim_holds(proof):
    """Each sympy derivation of the spec, run once here (genspec conform runs them too)."""
    from genspec.conformance.harness.run import check_proof
    check_proof(*proof)


def test_importing_the_spec_builds_no_sympy_and_reading_an_expression_gives_sympy():
    """`import genspec.spec` imports neither sympy nor NumPy (start-up of `genspec list`, `--version`): the spec's
    math is recorded (spec/expression.py, Math) and built with sympy when a field is read, to the expression that
    writing the declaration with sympy's own real symbols gives."""
    code = ("import sys\nimport genspec.spec as spec\n"
            "print(sorted(m for m in ('sympy', 'numpy', 'scipy', 'hypothesis', 'torch') if m in sys.modules))\n"
            "c = spec.get('cfg.combine')\n"
            "import sympy as sp\n"
            "w, v_y, v_null = sp.symbols('w v_y v_null', real=True)\n"
            "assert isinstance(c.expression, sp.Expr) and c.expression == (1 + w) * v_y - w * v_null\n"
            "assert c.variant_expressions['scale'] == v_null + w * (v_y - v_null)\n"
            "assert c.laws[0].at == {'w': 0} and c.laws[0].equals == v_y\n"
            "assert c.conventions[0].variants[2].arguments == {'w': 1 + w}\n"
            "assert str(c.error_scale) == str((1 + abs(w) + abs(1 + w)) * (abs(v_y) + abs(v_null)) + 1)\n"
            "print('ok')")
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert p.returncode == 0 and p.stdout.split("\n")[:2] == ["[]", "ok"], p.stdout + p.stderr
