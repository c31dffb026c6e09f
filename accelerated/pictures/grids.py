"""Image grids and a PNG writer (zlib + struct; no PIL)."""
from __future__ import annotations

import struct
import zlib

import numpy as np
import torch


def to_uint8(images: torch.Tensor) -> np.ndarray:
    """(N, 3, H, W) in [−1, 1] → (N, H, W, 3) uint8."""
    x = ((images.detach().float().cpu().clamp(-1, 1) + 1) * 127.5).round()
    return x.permute(0, 2, 3, 1).numpy().astype(np.uint8)


def grid(images: torch.Tensor, rows: int, pad: int = 2, scale: int = 1) -> np.ndarray:
    """A rows × ceil(N/rows) grid (H', W', 3) uint8 with a `pad`-pixel grey border, each image upscaled ×scale."""
    x = to_uint8(images)
    if scale > 1:
        x = x.repeat(scale, axis=1).repeat(scale, axis=2)
    n, h, w, _ = x.shape
    cols = -(-n // rows)
    out = np.full((rows * (h + pad) + pad, cols * (w + pad) + pad, 3), 128, dtype=np.uint8)
    for k in range(n):
        r, c = divmod(k, cols)
        out[pad + r * (h + pad): pad + r * (h + pad) + h, pad + c * (w + pad): pad + c * (w + pad) + w] = x[k]
    return out


def write_png(path: str, rgb: np.ndarray) -> None:
    """Write an (H, W, 3) uint8 array as an 8-bit RGB PNG (filter 0 on every row)."""
    rgb = np.ascontiguousarray(rgb, dtype=np.uint8)
    h, w, _ = rgb.shape
    raw = b"".join(b"\x00" + rgb[i].tobytes() for i in range(h))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0))
                + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b""))


def read_png(path: str) -> np.ndarray:
    """Read back a PNG written by `write_png` (8-bit RGB, filter 0 only): (H, W, 3) uint8."""
    with open(path, "rb") as f:
        data = f.read()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, idat, w = 8, b"", 0
    while pos < len(data):
        n, = struct.unpack(">I", data[pos:pos + 4])
        kind, body = data[pos + 4:pos + 8], data[pos + 8:pos + 8 + n]
        if kind == b"IHDR":
            w, h = struct.unpack(">II", body[:8])
        elif kind == b"IDAT":
            idat += body
        pos += 12 + n
    raw = np.frombuffer(zlib.decompress(idat), dtype=np.uint8).reshape(h, 1 + 3 * w)
    assert (raw[:, 0] == 0).all(), "only filter type 0 is supported"
    return raw[:, 1:].reshape(h, w, 3)
