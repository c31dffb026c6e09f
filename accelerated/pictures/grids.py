"""Labelled image grids (matplotlib) and images written as images (Pillow).

`image_grid` draws a rows × columns grid of samples as one figure: a title (the caption, the sampler), a label per row
(a guidance weight, a caption, a method) and per column (a sample, a frame index), and writes it as PNG. `save_image`
and `save_gif` write pixels as they are (a video as an animated GIF); `read_image` reads a PNG back for tests.

matplotlib and Pillow are the `[viz]` extra (`pip install 'genspec[viz]'`); `available()` says whether they are
installed, and the jobs skip their pictures, saying so, when they are not.
"""
from __future__ import annotations

import importlib.util
from collections.abc import Sequence

import numpy as np
import torch

VIZ_HINT = "pictures need matplotlib and Pillow: pip install 'genspec[viz]'"


def available() -> bool:
    """Whether matplotlib and Pillow can be imported (the `[viz]` extra)."""
    return all(importlib.util.find_spec(m) is not None for m in ("matplotlib", "PIL"))


def to_uint8(images: torch.Tensor) -> np.ndarray:
    """(N, 3, H, W) in [−1, 1] → (N, H, W, 3) uint8."""
    x = ((images.detach().float().cpu().clamp(-1, 1) + 1) * 127.5).round()
    return x.permute(0, 2, 3, 1).numpy().astype(np.uint8)


def tile(images: torch.Tensor, rows: int, pad: int = 2) -> np.ndarray:
    """(rows · cols, 3, H, W) in [−1, 1] → one (rows·(H+pad)+pad, cols·(W+pad)+pad, 3) uint8 array, grey between
    cells, row-major."""
    x = to_uint8(images)
    n, h, w, _ = x.shape
    cols = -(-n // rows)
    out = np.full((rows * (h + pad) + pad, cols * (w + pad) + pad, 3), 128, dtype=np.uint8)
    for k in range(n):
        r, c = divmod(k, cols)
        out[pad + r * (h + pad): pad + r * (h + pad) + h, pad + c * (w + pad): pad + c * (w + pad) + w] = x[k]
    return out


def figure(width: float, height: float):
    """A matplotlib Figure (object API, no pyplot state, Agg canvas), constrained layout."""
    from matplotlib.figure import Figure
    return Figure(figsize=(width, height), dpi=100, layout="constrained")


def image_grid(path: str, images: torch.Tensor, row_labels: Sequence[str], col_labels: Sequence[str] | None = None,
               title: str = "", row_title: str = "", col_title: str = "", cell: float = 0.62) -> None:
    """Write a labelled grid: images (rows · cols, 3, H, W) in [−1, 1], row-major, len(row_labels) rows; each row
    labelled on the left, each column on top (col_labels, e.g. frame indices), `row_title` / `col_title` naming
    what varies, `title` above. `cell`: inches per image."""
    rows = len(row_labels)
    pad = 2
    arr = tile(images, rows, pad)
    h, w = images.shape[-2:]
    cols = -(-images.shape[0] // rows)
    label_w = 0.09 * max(len(s) for s in row_labels) + 0.5
    title_w = 0.08 * max((len(line) for line in title.split("\n")), default=0) + 0.4   # the title is never cut
    fig = figure(max(cols * cell + label_w + 0.3, title_w), rows * cell + 0.9 + 0.18 * title.count("\n"))
    ax = fig.add_subplot()
    ax.imshow(arr, interpolation="nearest")
    ax.set_yticks([pad + r * (h + pad) + h / 2 for r in range(rows)], list(row_labels), fontsize=8)
    if col_labels is not None:
        ax.set_xticks([pad + c * (w + pad) + w / 2 for c in range(cols)], list(col_labels), fontsize=7)
        ax.xaxis.tick_top()
    else:
        ax.set_xticks([])
    ax.tick_params(length=0)
    for side in ax.spines.values():
        side.set_visible(False)
    if row_title:
        ax.set_ylabel(row_title, fontsize=9)
    if col_title:
        ax.set_xlabel(col_title, fontsize=9)
    if title:
        fig.suptitle(title, fontsize=10)
    fig.savefig(path)


def save_image(path: str, images: torch.Tensor | np.ndarray, rows: int = 1, scale: int = 1) -> None:
    """Pixels as they are (Pillow): an (H, W, 3) uint8 array, or (N, 3, H, W) in [−1, 1] tiled in `rows`; ×scale."""
    from PIL import Image
    arr = images if isinstance(images, np.ndarray) else tile(images, rows)
    img = Image.fromarray(np.ascontiguousarray(arr, dtype=np.uint8))
    if scale > 1:
        img = img.resize((img.width * scale, img.height * scale), Image.Resampling.NEAREST)
    img.save(path)


def save_gif(path: str, frames: torch.Tensor, scale: int = 4, ms_per_frame: int = 150) -> None:
    """A video (T, 3, H, W) in [−1, 1] as a looping animated GIF (Pillow), each frame ×scale."""
    from PIL import Image
    x = to_uint8(frames)
    imgs = [Image.fromarray(f).resize((f.shape[1] * scale, f.shape[0] * scale), Image.Resampling.NEAREST) for f in x]
    imgs[0].save(path, save_all=True, append_images=imgs[1:], duration=ms_per_frame, loop=0)


def read_image(path: str) -> np.ndarray:
    """An image file (PNG, GIF: its first frame) as (H, W, 3) uint8 (Pillow)."""
    from PIL import Image
    with Image.open(path) as img:
        return np.asarray(img.convert("RGB"))
