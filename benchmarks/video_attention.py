"""Factorized space-time attention (video.factorized_attention) against full 3-D attention as the number of frames T
grows: wall time, attention-score memory, and the clause's cost formula

    factorized: T·(HW)² + HW·T² score entries per head        full: (T·HW)²

    python benchmarks/video_attention.py [--frames 1 2 4 8 16] [--side 16] [--dim 64] [--heads 4] [--device cpu|cuda]
                                         [--repeats 3] [--json PATH]

Both run `accelerated.attention` (torch's scaled_dot_product_attention underneath) on the same tokens, batch 1,
S = side² positions per frame. Time is the minimum of `repeats` runs after a warm-up. Memory: on CUDA the measured
peak allocation of the call; on the CPU the score bytes the formula predicts (heads × entries × element size), since
torch's CPU allocator keeps no peak statistics — marked "predicted".
"""
from __future__ import annotations

import argparse
import json
import platform
import time

import torch

from genspec.accelerated.attention import attention
from genspec.accelerated.video import factorized_attention


def _weights(D: int, gen: torch.Generator, dtype, device):
    return tuple(torch.randn(D, D, generator=gen, dtype=torch.float32).div(D**0.5).to(dtype=dtype, device=device)
                 for _ in range(4))


def _time(fn, repeats: int, device: str) -> tuple[float, float | None]:
    sync = torch.cuda.synchronize if device == "cuda" else (lambda: None)
    fn()
    sync()
    best, peak = float("inf"), None
    for _ in range(repeats):
        if device == "cuda":
            torch.cuda.reset_peak_memory_stats()
            base = torch.cuda.memory_allocated()
        t0 = time.perf_counter()
        fn()
        sync()
        best = min(best, time.perf_counter() - t0)
        if device == "cuda":
            peak = float(torch.cuda.max_memory_allocated() - base)
    return best, peak


def cost(T: int, S: int) -> tuple[int, int]:
    """Score entries per head: factorized T·S² + S·T², full (T·S)²  (video.factorized_attention)."""
    return T * S * S + S * T * T, (T * S) ** 2


@torch.no_grad()
def run(tiny: bool = False, frames=(1, 2, 4, 8, 16), side: int = 16, dim: int = 64, heads: int = 4,
        device: str = "cpu", repeats: int = 3) -> list[dict]:
    """One row per T: times (s), memory (bytes), and the cost ratio full/factorized."""
    if tiny:
        frames, side, dim, repeats = (1, 2), 4, 16, 1
    dtype = torch.bfloat16 if device == "cuda" else torch.float32
    gen = torch.Generator().manual_seed(0)
    w_s, w_t, w_full = (_weights(dim, gen, dtype, device) for _ in range(3))
    S, rows = side * side, []
    for T in frames:
        x = torch.randn(1, T, S, dim, generator=gen).to(dtype=dtype, device=device)
        flat = x.reshape(1, T * S, dim)
        t_fact, m_fact = _time(lambda x=x: factorized_attention(x, w_s, w_t, heads), repeats, device)
        t_full, m_full = _time(lambda flat=flat: attention(flat, flat, *w_full, heads), repeats, device)
        c_fact, c_full = cost(T, S)
        size = torch.finfo(dtype).bits // 8
        rows.append({"benchmark": "video_attention", "T": T, "S": S, "tokens": T * S, "device": device,
                     "dtype": str(dtype).removeprefix("torch."), "factorized_s": t_fact, "full_s": t_full,
                     "time_ratio_full_over_factorized": t_full / t_fact,
                     "cost_factorized": c_fact, "cost_full": c_full, "cost_ratio": c_full / c_fact,
                     "memory": "measured" if device == "cuda" else "predicted",
                     "factorized_bytes": m_fact if m_fact is not None else heads * c_fact * size,
                     "full_bytes": m_full if m_full is not None else heads * c_full * size})
    return rows


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--frames", type=int, nargs="+", default=[1, 2, 4, 8, 16])
    p.add_argument("--side", type=int, default=16)
    p.add_argument("--dim", type=int, default=64)
    p.add_argument("--heads", type=int, default=4)
    p.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--json", default=None)
    a = p.parse_args(argv)
    if a.threads:
        torch.set_num_threads(a.threads)
    rows = run(False, tuple(a.frames), a.side, a.dim, a.heads, a.device, a.repeats)
    print(f"{platform.processor() or platform.machine()}, torch {torch.__version__}, "
          f"{torch.get_num_threads()} threads, {a.device}; S = {a.side}² positions, D = {a.dim}, {a.heads} heads")
    print(f"{'T':>3} {'tokens':>7} {'factorized s':>13} {'full s':>10} {'time ratio':>10} {'cost ratio':>10} "
          f"{'fact. MiB':>10} {'full MiB':>10}  memory")
    for r in rows:
        print(f"{r['T']:>3} {r['tokens']:>7} {r['factorized_s']:>13.4g} {r['full_s']:>10.4g} "
              f"{r['time_ratio_full_over_factorized']:>10.3g} {r['cost_ratio']:>10.3g} "
              f"{r['factorized_bytes'] / 2**20:>10.3g} {r['full_bytes'] / 2**20:>10.3g}  {r['memory']}")
    if a.json:
        with open(a.json, "w") as f:
            json.dump(rows, f, indent=2)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
