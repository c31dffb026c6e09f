"""Latent diffusion's sizes (spec/ldm.py): shape arithmetic for sizing latents, exact Python integers."""
from __future__ import annotations

from spec import validate as V
from spec.errors import SpecInputError

MAX_SIZE = 2**20  # sizes beyond a million pixels (or frames) a side are input errors, not overflows


def latent_shapes(H, W, C, f, c, p=2, steps=50):
    """h = H/f, w = W/f; values HWC → hwc (ratio f²C/c), spatial ratio f², tokens hw/p², work S·values."""
    cl = "ldm.shapes"
    H, W, C, f, c, p, steps = (V.scalar(cl, n, v, 1, MAX_SIZE, integer=True) for n, v in
                               (("H", H), ("W", W), ("C", C), ("f", f), ("c", c), ("p", p), ("steps", steps)))
    if H % (f * p) or W % (f * p):
        raise SpecInputError(cl, "H/W", f"multiples of f·p = {f * p}", f"H = {H}, W = {W}")
    h, w = H // f, W // f
    pixels, latents = H * W * C, h * w * c
    return {"latent": (h, w, c), "pixel_values": pixels, "latent_values": latents,
            "value_ratio": pixels / latents, "spatial_ratio": f * f * 1.0, "tokens": (h // p) * (w // p),
            "pixel_work": steps * pixels, "latent_work": steps * latents}
