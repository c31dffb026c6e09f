"""Conformance checks of latent diffusion's sizes (ldm.shapes): the arithmetic, and the notes' configurations with
03's two ⚠ claims corrected."""
from __future__ import annotations

import sympy as sp
from hypothesis import strategies as st

from ..harness.declare import ClauseChecks, Proof, Property


@st.composite
def _cases(draw):
    f, p = draw(st.sampled_from([1, 2, 4, 8])), draw(st.sampled_from([1, 2]))
    return {"H": f * p * draw(st.integers(1, 8)), "W": f * p * draw(st.integers(1, 8)),
            "C": draw(st.sampled_from([1, 3])), "f": f, "c": draw(st.sampled_from([4, 16])), "p": p,
            "steps": draw(st.sampled_from([1, 50]))}


def _require_sizes(ctx, got, want, config):
    for k, v in want.items():
        g = got[k]
        ok = tuple(int(x) for x in g) == v if isinstance(v, tuple) else float(g) == float(v)
        ctx.require("ldm.shapes", ok, f"{config}: {k} = {g}, expected {v}")


def _notes_configs(ctx, fn, inp):
    """00/03: 256²×3 → 32×32×16 (12× fewer values, 64× fewer positions, not '48×'); 512²×3 = 786,432 values,
    50 steps × 786,432 = 39,321,600 (03's '39 million'); 03's SDXL row 1024² → 128×128×4, 4,096 tokens at patch 2."""
    _require_sizes(ctx, fn(H=256, W=256, C=3, f=8, c=16, p=2, steps=50),
                   {"latent": (32, 32, 16), "pixel_values": 196_608, "latent_values": 16_384, "value_ratio": 12.0,
                    "spatial_ratio": 64.0, "tokens": 256}, "256×256×3, f = 8, c = 16")
    _require_sizes(ctx, fn(H=512, W=512, C=3, f=8, c=16, p=2, steps=50),
                   {"pixel_values": 786_432, "pixel_work": 39_321_600, "latent_values": 65_536, "value_ratio": 12.0},
                   "512×512×3, f = 8, c = 16, 50 steps")
    _require_sizes(ctx, fn(H=1024, W=1024, C=3, f=8, c=4, p=2, steps=50),
                   {"latent": (128, 128, 4), "tokens": 4096}, "1024×1024×3, f = 8, c = 4, patch 2")


def _ratios(ctx, fn, inp):
    """value_ratio = f²C/c and spatial_ratio = f² for every configuration (the ratios do not depend on H, W)."""
    got = fn(**inp)
    f, C, c = inp["f"], inp["C"], inp["c"]
    ctx.require("ldm.shapes", float(got["value_ratio"]) == f * f * C / c, f"value_ratio {got['value_ratio']} ≠ f²C/c")
    ctx.require("ldm.shapes", float(got["spatial_ratio"]) == f * f, f"spatial_ratio {got['spatial_ratio']} ≠ f²")


H_, W_, C_, c_ = sp.symbols("H W C c", positive=True)
f_ = sp.symbols("f", positive=True, integer=True)

CHECKS = [
    ClauseChecks(
        clause="ldm.shapes",
        cases=_cases(),
        proofs=(Proof("HWC / ((H/f)(W/f)c) = f²C/c", lambda: sp.simplify(H_ * W_ * C_ / ((H_ / f_) * (W_ / f_) * c_)
                                                                            - f_**2 * C_ / c_)),
                Proof("256·256·3 = 196,608 → 32·32·16 = 16,384: 12× in values, 64× in positions", lambda: [
                    sp.Integer(256 * 256 * 3) - 196_608, sp.Integer(32 * 32 * 16) - 16_384,
                    sp.Rational(196_608, 16_384) - 12, sp.Rational(256 * 256, 32 * 32) - 64]),
                Proof("⚠ 03's 48 = 786,432 / 16,384, and 786,432 = 512·512·3 (a 512² image, not the 256² one)",
                      lambda: [sp.Rational(786_432, 16_384) - 48, sp.Integer(512 * 512 * 3) - 786_432]),
                Proof("50 steps × 786,432 = 39,321,600 ≈ 39.3M (03's '39 million')",
                      lambda: sp.Integer(50 * 786_432) - 39_321_600)),
        properties=(Property("the notes' configurations (03's 48× corrected to 12× values / 64× positions)",
                             _notes_configs, cases=st.just({})),
                    Property("value ratio f²C/c, spatial ratio f²", _ratios)),
        example=lambda: {"H": 256, "W": 256, "C": 3, "f": 8, "c": 16, "p": 2, "steps": 50},
    ),
]
