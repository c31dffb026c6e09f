"""Latent diffusion's sizes, exact integer arithmetic (spec/ldm.py; 00, 03)."""
from __future__ import annotations

from spec import validate as V
from spec.errors import SpecInputError

MAX_SIZE = 2**20  # sizes beyond a million pixels (or frames) a side are input errors, not overflows


def latent_shapes(H, W, C, f, c, p=2, steps=50):
    """h = H/f, w = W/f; values HWC and hwc, their ratio f²C/c, spatial ratio f², tokens hw/p², work S·values."""
    cl = "ldm.shapes"
    H, W, C, f, c, p, steps = (V.scalar(cl, n, v, 1, MAX_SIZE, integer=True) for n, v in
                               (("H", H), ("W", W), ("C", C), ("f", f), ("c", c), ("p", p), ("steps", steps)))
    if H % (f * p) or W % (f * p):
        raise SpecInputError(cl, "H/W", f"multiples of f·p = {f * p}", f"H = {H}, W = {W}")
    h, w = H // f, W // f
    return {"latent": (h, w, c), "pixel_values": H * W * C, "latent_values": h * w * c,
            "value_ratio": (H * W * C) / (h * w * c), "spatial_ratio": (H * W) / (h * w),
            "tokens": (h // p) * (w // p), "pixel_work": steps * H * W * C, "latent_work": steps * h * w * c}
