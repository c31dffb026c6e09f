"""Latent diffusion's sizes, exact integer arithmetic (spec/ldm.py; 00, 03). Sizes are integers in [1, 2²⁰]
(spec.bind): beyond a million pixels (or frames) a side they are input errors, not overflows."""
from __future__ import annotations

from genspec.spec.bind import implements
from genspec.spec.errors import SpecInputError


@implements("ldm.shapes")
def latent_shapes(H, W, C, f, c, p=2, steps=50):
    """h = H/f, w = W/f; values HWC and hwc, their ratio f²C/c, spatial ratio f², tokens hw/p², work S·values."""
    if H % (f * p) or W % (f * p):
        raise SpecInputError("ldm.shapes", "H/W", f"multiples of f·p = {f * p}", f"H = {H}, W = {W}")
    h, w = H // f, W // f
    return {"latent": (h, w, c), "pixel_values": H * W * C, "latent_values": h * w * c,
            "value_ratio": (H * W * C) / (h * w * c), "spatial_ratio": (H * W) / (h * w),
            "tokens": (h // p) * (w // p), "pixel_work": steps * H * W * C, "latent_work": steps * h * w * c}
