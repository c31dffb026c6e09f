"""Latent diffusion's sizes (spec/ldm.py): shape arithmetic for sizing latents, exact Python integers; the function,
name and arguments of reference/ldm.py."""
from __future__ import annotations

from genspec.spec.bind import implements
from genspec.spec.errors import SpecInputError


@implements("ldm.shapes")
def latent_shapes(H, W, C, f, c, p=2, steps=50):
    """h = H/f, w = W/f; values HWC → hwc (ratio f²C/c), spatial ratio f², tokens hw/p², work S·values."""
    if H % (f * p) or W % (f * p):
        raise SpecInputError("ldm.shapes", "H/W", f"multiples of f·p = {f * p}", f"H = {H}, W = {W}")
    h, w = H // f, W // f
    pixels, latents = H * W * C, h * w * c
    return {"latent": (h, w, c), "pixel_values": pixels, "latent_values": latents,
            "value_ratio": pixels / latents, "spatial_ratio": f * f * 1.0, "tokens": (h // p) * (w // p),
            "pixel_work": steps * pixels, "latent_work": steps * latents}
