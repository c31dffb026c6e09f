"""One guided step (cfg.cost): one batched call of 2B rows vs two calls of B rows vs one unguided call, with the
class-conditional MLP of accelerated/models/conditional.py at its default size; B = 4096, float32, under no_grad.

    python -m benchmarks --only guided_step [--tiny] [--threads K]
    python benchmarks/guided_step.py [--tiny]

Weights are random (timing does not depend on them). The variants are interleaved round by round; ratios at the
minimum (and the median) of the repeats. The same network evaluated in one pass (block_rows = 0, as before the
blocked forward) is timed alongside, with the minor page faults per call, to show where its time went.
"""
from __future__ import annotations

import copy
import resource
import sys

import torch

from accelerated.cfg import _batched_guided, _combine
from accelerated.models.conditional import ConditionalMLPConfig, ConditionalVelocityMLP
from benchmarks import fmt_s, interleaved, ratio_row


def _faults(fn, calls: int = 20) -> float:
    """Minor page faults per call of fn (memory the kernel had to map in: fresh allocations touched)."""
    fn()
    f0 = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for _ in range(calls):
        fn()
    return (resource.getrusage(resource.RUSAGE_SELF).ru_minflt - f0) / calls


def run(tiny: bool = False, batch: int | None = None, device: str = "cpu", w: float = 3.0) -> list[dict]:
    B = batch or (256 if tiny else 4096)
    repeats = 3 if tiny else 200
    torch.manual_seed(0)
    dev = torch.device(device)
    cfg = ConditionalMLPConfig()
    model = ConditionalVelocityMLP(cfg).to(dev).eval()
    one_pass = copy.deepcopy(model)
    one_pass.config = ConditionalMLPConfig(block_rows=0)
    C = cfg.num_classes
    x = torch.randn(B, cfg.x_dim, device=dev)
    y = torch.randint(0, C, (B,), device=dev)
    y_null = torch.full_like(y, C)                   # null label y_∅ = C (extra_class)
    t = torch.full((B,), 0.5, device=dev)
    x2, y2, t2 = torch.cat([x, x]), torch.cat([y, y_null]), torch.cat([t, t])
    sync = torch.cuda.synchronize if dev.type == "cuda" else None
    with torch.no_grad():
        variants = {
            "batched": lambda: _batched_guided(model, x, y, y_null, t, w),                 # 1 call, 2B rows
            "two calls": lambda: _combine(model(x, y, t), model(x, y_null, t), w),         # 2 calls, B rows each
            "unguided": lambda: model(x, y, t),                                            # 1 call, B rows
            "network 2B": lambda: model(x2, y2, t2),                                       # the network alone, 2B
            "one-pass 2B": lambda: one_pass(x2, y2, t2),                                   # unblocked network, 2B
            "one-pass B": lambda: one_pass(x, y, t),                                       # unblocked network, B
        }
        err = float((variants["batched"]() - variants["two calls"]()).abs().max())
        times = interleaved(variants, repeats, warmup=3, sync=sync)
        faults = {k: _faults(variants[k]) for k in ("network 2B", "one-pass 2B", "one-pass B")} if dev.type == "cpu" \
            else {}
    params = sum(p.numel() for p in model.parameters())
    threads = torch.get_num_threads()
    where = f"MLP {cfg.depth}×{cfg.hidden} ({params} parameters), B = {B}, {device}, {threads} thread(s)"
    ms = lambda k: fmt_s(min(times[k]))
    fl = lambda k: f", {faults[k]:.0f} minor page faults per call" if k in faults else ""
    return [
        ratio_row(f"guided step, 1 call of 2B / 2 calls of B ({where})", times, "batched", "two calls", "≤ 1.05",
                  f"{ms('batched')} vs {ms('two calls')}; max |batched − two calls| {err:.1e} (float32)",
                  max_abs_diff=err),
        ratio_row("guided step / unguided step (1 call of 2B / 1 call of B)", times, "batched", "unguided",
                  "≤ 1.15" if dev.type == "cuda" else None, f"{ms('batched')} vs {ms('unguided')}"
                  + ("" if dev.type == "cuda" else "; the ≤ 1.15 goal is for a GPU at small batch")),
        ratio_row(f"network on 2B rows / on B rows, blocked forward (block_rows = {cfg.block_rows})", times,
                  "network 2B", "unguided", None, f"FLOPs ratio 2.00; {ms('network 2B')}{fl('network 2B')}"),
        ratio_row("network on 2B rows / on B rows, one pass (block_rows = 0, the previous forward)", times,
                  "one-pass 2B", "one-pass B", None,
                  f"{ms('one-pass 2B')}{fl('one-pass 2B')} vs {ms('one-pass B')}{fl('one-pass B')}"),
    ]


if __name__ == "__main__":
    from benchmarks.runner import main
    sys.exit(main(["--only", "guided_step", *sys.argv[1:]]))
