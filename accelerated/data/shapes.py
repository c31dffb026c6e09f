"""A captioned synthetic image set made in code: one coloured shape on a black background, captioned
"<colour> <shape>" (e.g. "red circle"), and the caption-adherence metric that reads colour and shape back by exact
statistics of the pixels.

    image ∈ [−1, 1]^{3×size×size}: background −1 (black); the shape's pixels take the colour's RGB in {−1, 1}³.
    shapes: circle (fills π/4 of its bounding box), square (fills 1), triangle (upright, apex at the top: fills 1/2).

Adherence: foreground = pixels whose brightest channel is > 0; colour = the palette entry nearest the foreground's
mean RGB; shape = the shape whose fill ratio (foreground area / bounding-box area) is nearest. On the data itself
this recovers every caption (tested), so it measures the generator, not the metric.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch

COLORS: dict[str, tuple[float, float, float]] = {
    "red": (1.0, -1.0, -1.0),
    "green": (-1.0, 1.0, -1.0),
    "blue": (-1.0, -1.0, 1.0),
    "yellow": (1.0, 1.0, -1.0),
}
SHAPES: dict[str, float] = {"circle": math.pi / 4, "square": 1.0, "triangle": 0.5}   # shape → fill ratio of its box
CAPTIONS: list[str] = [f"{c} {s}" for c in COLORS for s in SHAPES]
_PALETTE = torch.tensor(list(COLORS.values()))
_FILL = torch.tensor(list(SHAPES.values()))


@dataclass
class ShapesData:
    images: torch.Tensor        # (n, 3, size, size) float32 in [−1, 1]
    captions: list[str]         # "<colour> <shape>"
    color: torch.Tensor         # (n,) long: index into COLORS
    shape: torch.Tensor         # (n,) long: index into SHAPES

    def __len__(self) -> int:
        return len(self.captions)


def caption_index(caption: str) -> int:
    """Index of a caption in CAPTIONS (= colour · |SHAPES| + shape)."""
    return CAPTIONS.index(caption)


def shape_mask(kind: int, cy: torch.Tensor, cx: torch.Tensor, r: torch.Tensor, size: int) -> torch.Tensor:
    """Boolean masks (n, size, size) of shape ``kind`` centred at pixel (cy, cx) with half-width r (pixel units).

    Pixel (i, j) has centre (i + ½, j + ½). circle: ‖p − c‖ < r; square: |p − c|_∞ < r; triangle: inside the box and
    below the two edges from the apex (cy − r, cx) to the base corners (cy + r, cx ± r), i.e. |x − cx| < (y − cy + r)/2.
    """
    ii = torch.arange(size, dtype=torch.float32) + 0.5
    y = ii[None, :, None] - cy[:, None, None]
    x = ii[None, None, :] - cx[:, None, None]
    r = r[:, None, None]
    if kind == 0:
        return y.square() + x.square() < r.square()
    box = (y.abs() < r) & (x.abs() < r)
    if kind == 1:
        return box
    return box & (x.abs() < (y + r) / 2)


def shapes_dataset(n: int, size: int = 32, seed: int = 0) -> ShapesData:
    """n images (3, size, size) in [−1, 1], one shape each: colour and shape uniform over COLORS × SHAPES, half-width
    r ~ U[size/6, size/3], centre uniform such that the shape lies inside the image. Deterministic from seed."""
    if not (isinstance(n, int) and n >= 1 and isinstance(size, int) and size >= 8):
        raise ValueError(f"shapes_dataset: need n ≥ 1 and size ≥ 8 integers; got n={n!r}, size={size!r}")
    g = torch.Generator().manual_seed(seed)
    color = torch.randint(len(COLORS), (n,), generator=g)
    shape = torch.randint(len(SHAPES), (n,), generator=g)
    r = size / 6 + torch.rand(n, generator=g) * (size / 6)
    cy = r + torch.rand(n, generator=g) * (size - 2 * r)
    cx = r + torch.rand(n, generator=g) * (size - 2 * r)
    mask = torch.zeros(n, size, size, dtype=torch.bool)
    for k in range(len(SHAPES)):
        sel = shape == k
        if sel.any():
            mask[sel] = shape_mask(k, cy[sel], cx[sel], r[sel], size)
    rgb = _PALETTE[color][:, :, None, None]                            # (n, 3, 1, 1)
    images = torch.where(mask[:, None], rgb, torch.full_like(rgb, -1.0)).float()
    names_c, names_s = list(COLORS), list(SHAPES)
    captions = [f"{names_c[c]} {names_s[s]}" for c, s in zip(color.tolist(), shape.tolist(), strict=True)]
    return ShapesData(images, captions, color, shape)


@torch.no_grad()
def read_caption(images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(colour index, shape index) per image by the statistics in the module docstring; −1 where no pixel is
    foreground. images: (n, 3, H, W) in [−1, 1]."""
    x = images.detach().float().cpu().clamp(-1, 1)
    fg = x.amax(dim=1) > 0                                              # (n, H, W)
    area = fg.flatten(1).sum(1)
    mean = (x * fg[:, None]).flatten(2).sum(2) / area.clamp(min=1)[:, None]
    color = torch.cdist(mean, _PALETTE).argmin(1)
    rows, cols = fg.any(2), fg.any(1)                                   # (n, H), (n, W)
    idx_h = torch.arange(fg.shape[1])
    idx_w = torch.arange(fg.shape[2])
    big = 10**6
    h = torch.where(rows, idx_h, -big).amax(1) - torch.where(rows, idx_h, big).amin(1) + 1
    w = torch.where(cols, idx_w, -big).amax(1) - torch.where(cols, idx_w, big).amin(1) + 1
    fill = area / (h * w).clamp(min=1)
    shape = (fill[:, None] - _FILL[None]).abs().argmin(1)
    none = area == 0
    return torch.where(none, -1, color), torch.where(none, -1, shape)


def caption_scores(images: torch.Tensor, captions: list[str]) -> dict[str, float]:
    """Fractions of images whose colour AND shape ("joint"), colour, and shape, read back by `read_caption`, match
    their caption."""
    if images.ndim != 4 or images.shape[1] != 3 or images.shape[0] != len(captions):
        raise ValueError(f"caption_adherence: need images (n, 3, H, W) and n captions; got {tuple(images.shape)} and "
                         f"{len(captions)} captions")
    if not captions:
        return dict.fromkeys(("joint", "colour", "shape"), float("nan"))
    color, shape = read_caption(images)
    want = torch.tensor([caption_index(c) for c in captions])
    hit_c, hit_s = color == want // len(SHAPES), shape == want % len(SHAPES)
    return {"joint": float((hit_c & hit_s).float().mean()), "colour": float(hit_c.float().mean()),
            "shape": float(hit_s.float().mean())}


def caption_adherence(images: torch.Tensor, captions: list[str]) -> float:
    """Fraction of images whose colour AND shape, read back by `read_caption`, match their caption."""
    return caption_scores(images, captions)["joint"]
