"""Pictures of 2-D samples without a plotting library: scatter panels (uint8 RGB arrays) with a title drawn in a
built-in 3×5 pixel font, laid side by side. Write them with `accelerated.models.images.write_png`."""
from __future__ import annotations

import numpy as np

# 3×5 glyphs: five rows of three pixels, top to bottom, '#' = ink. Upper-case letters, digits and a few marks.
_GLYPHS = {
    "A": ".#.|#.#|###|#.#|#.#", "B": "##.|#.#|##.|#.#|##.", "C": ".##|#..|#..|#..|.##", "D": "##.|#.#|#.#|#.#|##.",
    "E": "###|#..|##.|#..|###", "F": "###|#..|##.|#..|#..", "G": ".##|#..|#.#|#.#|.##", "H": "#.#|#.#|###|#.#|#.#",
    "I": "###|.#.|.#.|.#.|###", "J": "..#|..#|..#|#.#|.#.", "K": "#.#|#.#|##.|#.#|#.#", "L": "#..|#..|#..|#..|###",
    "M": "#.#|###|###|#.#|#.#", "N": "##.|#.#|#.#|#.#|#.#", "O": ".#.|#.#|#.#|#.#|.#.", "P": "##.|#.#|##.|#..|#..",
    "Q": ".#.|#.#|#.#|##.|.##", "R": "##.|#.#|##.|#.#|#.#", "S": ".##|#..|.#.|..#|##.", "T": "###|.#.|.#.|.#.|.#.",
    "U": "#.#|#.#|#.#|#.#|###", "V": "#.#|#.#|#.#|#.#|.#.", "W": "#.#|#.#|###|###|#.#", "X": "#.#|#.#|.#.|#.#|#.#",
    "Y": "#.#|#.#|.#.|.#.|.#.", "Z": "###|..#|.#.|#..|###", "0": "###|#.#|#.#|#.#|###", "1": ".#.|##.|.#.|.#.|###",
    "2": "###|..#|###|#..|###", "3": "###|..#|###|..#|###", "4": "#.#|#.#|###|..#|..#", "5": "###|#..|###|..#|###",
    "6": "###|#..|###|#.#|###", "7": "###|..#|..#|..#|..#", "8": "###|#.#|###|#.#|###", "9": "###|#.#|###|..#|###",
    " ": "...|...|...|...|...", "=": "...|###|...|###|...", ".": "...|...|...|...|.#.", "-": "...|...|###|...|...",
    ":": "...|.#.|...|.#.|...", "/": "..#|..#|.#.|#..|#..", "(": ".#.|#..|#..|#..|.#.", ")": ".#.|..#|..#|..#|.#.",
    ",": "...|...|...|.#.|#..", "<": "..#|.#.|#..|.#.|..#", "_": "...|...|...|...|###",
}


def _glyph(ch: str) -> np.ndarray:
    rows = _GLYPHS.get(ch.upper(), _GLYPHS[" "]).split("|")
    return np.array([[b == "#" for b in r] for r in rows])


def draw_text(img: np.ndarray, text: str, x: int, y: int, scale: int = 2, color=(0, 0, 0)) -> None:
    """Draw `text` into img (H, W, 3) uint8 with its top-left corner at (x, y); characters are 4·scale pixels apart."""
    for i, ch in enumerate(text):
        g = np.kron(_glyph(ch), np.ones((scale, scale), dtype=bool))
        x0 = x + i * 4 * scale
        h, w = min(g.shape[0], img.shape[0] - y), min(g.shape[1], img.shape[1] - x0)
        if h <= 0 or w <= 0:
            break
        img[y:y + h, x0:x0 + w][g[:h, :w]] = color


def scatter_panel(points, title: str = "", size: int = 160, extent: float = 3.5, color=(30, 70, 200)) -> np.ndarray:
    """A white size × size panel showing 2-D points on [−extent, extent]², axes in grey, the title on top."""
    pts = np.asarray(points, dtype=np.float64)
    top = 16
    img = np.full((size + top, size, 3), 255, dtype=np.uint8)
    mid = top + size // 2
    img[mid, :] = 220
    img[top:, size // 2] = 220
    ij = np.round((pts + extent) / (2 * extent) * (size - 1)).astype(int)
    ok = ((ij >= 0) & (ij < size)).all(axis=1)
    img[top + (size - 1 - ij[ok, 1]), ij[ok, 0]] = color
    draw_text(img, title, 3, 3)
    return img


def side_by_side(panels: list[np.ndarray], pad: int = 4) -> np.ndarray:
    """Panels of equal height in one row, separated by `pad` grey pixels."""
    h = max(p.shape[0] for p in panels)
    out = [np.full((h, pad, 3), 160, dtype=np.uint8)]
    for p in panels:
        out += [np.pad(p, ((0, h - p.shape[0]), (0, 0), (0, 0)), constant_values=255),
                np.full((h, pad, 3), 160, dtype=np.uint8)]
    return np.concatenate(out, axis=1)


def stack(rows: list[np.ndarray], pad: int = 4) -> np.ndarray:
    """Rows (from side_by_side) one above the other, right-padded with white to the widest."""
    w = max(r.shape[1] for r in rows)
    out = []
    for r in rows:
        out += [np.pad(r, ((0, 0), (0, w - r.shape[1]), (0, 0)), constant_values=255),
                np.full((pad, w, 3), 160, dtype=np.uint8)]
    return np.concatenate(out[:-1], axis=0)
