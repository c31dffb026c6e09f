"""Checks derived from a clause's declared math (conformance/harness/derive.py): each can fail, and says what."""
import numpy as np
import pytest

from genspec import spec
from genspec.conformance.harness.declare import ClauseChecks
from genspec.conformance.harness.derive import forms, with_derived
from genspec.conformance.harness.run import proof_holds
from genspec.spec.cfg import v_null, v_y, w
from genspec.spec.expression import BASE, OUT
from genspec.spec.schema import Law

COMBINE = spec.get("cfg.combine")


def _derived(**changes):
    return with_derived(ClauseChecks(clause="cfg.combine"), clause=COMBINE.model_copy(update=changes))


def test_the_declared_forms_are_one_function_and_a_wrong_form_is_refuted():
    """scale: v_∅ + s (v_y − v_∅) with s = 1 + w is the default; v_y + s (v_y − v_∅) (s in the wrong place) is not."""
    assert set(forms(COMBINE)) == {"default", "conditional_offset", "scale"}
    assert all(proof_holds(p.claim) for p in _derived().proofs)
    wrong = _derived(variant_expressions={"scale": v_y + w * (v_y - v_null)})
    assert not proof_holds(wrong.proofs[0].claim)


@pytest.mark.parametrize("law, holds", [
    (Law(name="off", at={w: 0}, equals=v_y), True),
    (Law(name="off, wrongly v_∅", at={w: 0}, equals=v_null), False),
    (Law(name="linear in (v_y, v_∅)", at={v_y: 2 * v_y, v_null: 2 * v_null}, of=OUT / 2, equals=BASE), True),
    (Law(name="affine in w, wrongly homogeneous", at={w: 2 * w}, of=OUT / 2, equals=BASE), False),
])
def test_a_law_is_proven_in_every_variant_or_refuted(law, holds):
    proofs = {p.name: p for p in _derived(laws=(law,)).proofs}
    assert proof_holds(proofs[law.name].claim) is holds


def test_a_law_checks_the_target_and_scales_by_the_error_scale():
    """The property calls the function at the law's arguments; a function wrong there fails, naming the law's
    arguments; the comparison divides by error_scale, so a float32-sized error at |w| = 999 passes."""
    chk = _derived()
    prop = next(p for p in chk.properties if p.name == COMBINE.laws[0].name)

    class Ctx:
        def __init__(self):
            self.seen = []

        def assert_close(self, clause, got, want, what):
            self.seen.append(what)
            np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-6)

    inp = {"v_y": np.array([[1.0, -2.0]]), "v_null": np.array([[0.5, 3.0]])}
    ctx = Ctx()
    prop.check(ctx, lambda v_y, v_null, w: (1 + w) * v_y - w * v_null, inp)
    assert "at w = 0" in ctx.seen[0] and "error_scale" in ctx.seen[0]
    with pytest.raises(AssertionError):
        prop.check(Ctx(), lambda v_y, v_null, w: v_null, inp)
    big = {"v_y": inp["v_y"], "v_null": inp["v_y"], "w": 999.0}                # cancels to v_y exactly
    expected = inp["v_y"]
    m = 1 + (1 + 999 + 1000) * 2 * np.abs(inp["v_y"])                        # M = error_scale at w = 999
    chk.compare(Ctx(), expected + 1e-7 * m, expected, big)                    # 1e-7 of M: within 1e-6
    with pytest.raises(AssertionError):
        chk.compare(Ctx(), expected + 1e-5 * m, expected, big)
    assert np.all(1e-7 * m > 1e-6 + 1e-6 * np.abs(expected))                 # unscaled, it would fail
