"""The machine a benchmark table was measured on: CPU model, cores, load, library versions, threads, and its memory
bandwidth measured with NumPy (single thread, arrays well beyond the last-level cache)."""
from __future__ import annotations

import functools
import os
import platform
import time

import numpy as np


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


@functools.lru_cache(maxsize=2)
def bandwidth(tiny: bool = False, repeats: int = 5) -> dict:
    """Memory bandwidth in GB/s (10⁹ bytes/s), best of ``repeats``, one thread:
    copy  b ← a         (2 × 8N bytes moved: read a, write b),
    triad a ← b + s c   (STREAM's triad, written as two NumPy passes into a: c·s then + b, 5 × 8N bytes moved).
    N = 2²⁴ doubles (128 MiB per array, 4× a 32 MiB L3); 2¹⁶ when tiny (then the figures are cache bandwidths)."""
    n = 1 << (16 if tiny else 24)
    a, b, c = np.ones(n), np.full(n, 2.0), np.full(n, 0.5)
    best = {"copy": np.inf, "triad": np.inf}
    for _ in range(repeats):
        t0 = time.perf_counter()
        np.copyto(b, a)
        t1 = time.perf_counter()
        np.multiply(c, 3.0, out=a)
        np.add(a, b, out=a)
        t2 = time.perf_counter()
        best["copy"], best["triad"] = min(best["copy"], t1 - t0), min(best["triad"], t2 - t1)
    return {"copy_GBps": 2 * 8 * n / best["copy"] / 1e9, "triad_GBps": 5 * 8 * n / best["triad"] / 1e9,
            "array_MiB": 8 * n / 2**20}


def info(tiny: bool = False) -> dict:
    import torch
    bw = bandwidth(tiny)
    return {"cpu": cpu_model(), "cores": os.cpu_count(), "load_1_5_15": [round(v, 2) for v in os.getloadavg()],
            "python": platform.python_version(), "torch": torch.__version__, "numpy": np.__version__,
            "torch_threads": torch.get_num_threads(), "cuda": torch.cuda.is_available(),
            "gpu": torch.cuda.get_device_name() if torch.cuda.is_available() else None, **bw}


def header(m: dict) -> str:
    gpu = f", GPU {m['gpu']}" if m.get("gpu") else ""
    return (f"{m['cpu']}{gpu}, {m['cores']} cores, load {m['load_1_5_15']}; torch {m['torch']} ({m['torch_threads']} "
            f"thread(s)), NumPy {m['numpy']}, Python {m['python']}; memory bandwidth (NumPy, 1 thread, "
            f"{m['array_MiB']:.0f} MiB arrays): copy {m['copy_GBps']:.1f} GB/s, triad {m['triad_GBps']:.1f} GB/s")
