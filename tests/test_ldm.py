"""Latent diffusion's sizes (spec/ldm.py): the notes' numbers by hand, 03's ⚠ corrected, planted bugs, bad input."""
import pytest

import genspec.accelerated.ldm as A
import genspec.reference.ldm as R
from genspec.conformance import Target
from genspec.conformance.harness.api import check, failing
from genspec.conformance.harness.cli import explain_text
from genspec.spec import SpecInputError


def test_the_notes_numbers_by_hand():
    s = R.latent_shapes(256, 256, 3, 8, 16)
    assert s["latent"] == (32, 32, 16) and s["latent_values"] == 32 * 32 * 16 == 16_384
    assert s["pixel_values"] == 256 * 256 * 3 == 196_608
    assert s["value_ratio"] == 12.0 and s["spatial_ratio"] == 64.0      # ⚠ not 03's "48×"
    big = R.latent_shapes(512, 512, 3, 8, 16, steps=50)
    assert big["pixel_values"] == 786_432 and big["pixel_work"] == 39_321_600 and big["value_ratio"] == 12.0
    assert 786_432 / 16_384 == 48                                       # 03's 48 mixes a 512² image with a 256² latent
    assert R.latent_shapes(1024, 1024, 3, 8, 4)["latent"] == (128, 128, 4)
    assert R.latent_shapes(1024, 1024, 3, 8, 16, p=2)["tokens"] == 64 * 64


def test_accelerated_equals_reference_on_the_notes_configs():
    for args in ((256, 256, 3, 8, 16), (512, 512, 3, 8, 16), (1024, 1024, 3, 8, 4, 2, 50), (64, 32, 3, 4, 4, 1, 1)):
        assert A.latent_shapes(*args) == R.latent_shapes(*args)


def _three_048(H, W, C, f, c, p=2, steps=50):
    """03's arithmetic: the pixels of an image twice the size over this image's latent."""
    out = dict(A.latent_shapes(H, W, C, f, c, p, steps))
    out["value_ratio"] = (2 * H) * (2 * W) * C / out["latent_values"]
    return out


def test_planted_48x_fails_ldm_shapes():
    tgt = Target(name="planted", backend="torch", bindings={"ldm.shapes": _three_048})
    res = check(tgt, ["ldm"], target_independent=False, shrink=False)
    assert failing(res) == {"ldm.shapes"}
    assert any("value_ratio" in m for _, m in res["ldm.shapes"].failures)


def test_explain_renders_the_correction():
    text = explain_text("ldm.shapes")
    assert "12×" in text and "786,432" in text and "Worked example" in text


@pytest.mark.parametrize("call, arg", [
    (lambda: R.latent_shapes(250, 256, 3, 8, 16), "H/W"),
    (lambda: R.latent_shapes(256, 256, 3, 0, 16), "f"),
    (lambda: A.latent_shapes(256, 256, 3, 8, 16.5), "c"),
    (lambda: A.latent_shapes(256, 256, 3, 8, 16, p=3), "H/W"),
])
def test_bad_input_names_clause_and_argument(call, arg):
    with pytest.raises(SpecInputError) as e:
        call()
    assert e.value.clause == "ldm.shapes" and e.value.argument == arg
