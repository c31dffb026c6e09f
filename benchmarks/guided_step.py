"""Wall time of one guided step: one batched call of 2B rows vs two calls of B rows vs one unguided call (cfg.cost).

    python benchmarks/guided_step.py [--batch 4096] [--threads 1] [--repeats 200] [--device cpu]

The network is the class-conditional MLP of accelerated/models/conditional.py at its default size (the size the
trainer test uses); weights are random (timing does not depend on them). Each variant is timed over
`repeats` interleaved runs after a warm-up, under torch.no_grad(); prints the median and the minimum of each
variant and their ratios (on a shared machine the minimum is the less noisy of the two).
"""
from __future__ import annotations

import argparse
import statistics
import time

import torch

from accelerated.cfg import _batched_guided, _combine
from accelerated.models.conditional import ConditionalMLPConfig, ConditionalVelocityMLP


def _time_ms(variants: dict, repeats: int, sync) -> tuple[dict, dict]:
    """Median and minimum wall time of each variant; the variants are interleaved round by round so that load from other
    processes affects them alike."""
    for fn in variants.values():
        for _ in range(5):
            fn()
    sync()
    times = {name: [] for name in variants}
    for _ in range(repeats):
        for name, fn in variants.items():
            t0 = time.perf_counter()
            fn()
            sync()
            times[name].append(time.perf_counter() - t0)
    return ({name: 1e3 * statistics.median(v) for name, v in times.items()},
            {name: 1e3 * min(v) for name, v in times.items()})


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--batch", type=int, default=4096)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--repeats", type=int, default=200)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--w", type=float, default=3.0)
    a = ap.parse_args(argv)
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    dev = torch.device(a.device)
    cfg = ConditionalMLPConfig()
    model = ConditionalVelocityMLP(cfg).to(dev).eval()
    B, C = a.batch, cfg.num_classes
    x = torch.randn(B, cfg.x_dim, device=dev)
    y = torch.randint(0, C, (B,), device=dev)
    y_null = torch.full_like(y, C)                   # null label y_∅ = C (extra_class)
    t = torch.full((B,), 0.5, device=dev)
    sync = (lambda: torch.cuda.synchronize()) if dev.type == "cuda" else (lambda: None)

    with torch.no_grad():
        batched = lambda: _batched_guided(model, x, y, y_null, t, a.w)                       # 1 call, 2B rows
        two_calls = lambda: _combine(model(x, y, t), model(x, y_null, t), a.w)               # 2 calls, B rows each
        unguided = lambda: model(x, y, t)                                                    # 1 call, B rows
        x2, y2, t2 = torch.cat([x, x]), torch.cat([y, y_null]), torch.cat([t, t])
        network_2b = lambda: model(x2, y2, t2)               # the network alone on 2B rows: no concatenation, no split
        err = float((batched() - two_calls()).abs().max())
        ms, best = _time_ms({"batched guided (1 call of 2B)": batched, "two calls of B": two_calls,
                         "unguided (1 call of B)": unguided, "network alone on 2B rows": network_2b}, a.repeats, sync)

    params = sum(p.numel() for p in model.parameters())
    print(f"guided step, MLP {cfg.depth}×{cfg.hidden} ({params} parameters), B = {B}, device {a.device}, "
          f"{a.threads} thread(s), {a.repeats} interleaved repeats: median (min) ms")
    for name in ms:
        print(f"  {name:32s} {ms[name]:8.3f}  ({best[name]:.3f})")
    for stat, d in (("median", ms), ("min", best)):
        b, two, one, net2 = d.values()
        print(f"  {stat:6s} ratios: batched/unguided {b / one:.2f}, two calls/unguided {two / one:.2f}, "
              f"batched/two calls {b / two:.2f}, network on 2B/unguided {net2 / one:.2f}  (FLOPs ratio 2.00)")
    print(f"  max |batched − two calls| = {err:.2e} (float32)")
    return {"median_ms": ms, "min_ms": best, "max_abs_diff": err}


if __name__ == "__main__":
    main()
