"""One guided step (cfg.cost): one batched call of 2B rows vs two calls of B rows vs one unguided call, with the
class-conditional MLP of accelerated/models/conditional.py at its default size; B = 4096, float32, under no_grad.

    python -m genspec.benchmarks --only guided_step [--tiny] [--threads K]
    python benchmarks/guided_step.py [--tiny]

Weights are random (timing does not depend on them). The variants are interleaved round by round; ratios at the
minimum (and the median) of the repeats. The same network evaluated in one pass (block_rows = 0, as before the
blocked forward) is timed alongside, with the minor page faults per call, to show where its time went.
"""
from __future__ import annotations

import resource
import sys

import torch

from genspec.accelerated.cfg import cfg_combine, guided_velocity
from genspec.accelerated.models.conditional import ConditionalMLPConfig, ConditionalVelocityMLP
from genspec.benchmarks import NO_TRIM, fmt_s, in_child, interleaved, ratio_row


def _faults(fn, calls: int = 20) -> float:
    """Minor page faults per call of fn (memory the kernel had to map in: fresh allocations touched)."""
    fn()
    f0 = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for _ in range(calls):
        fn()
    return (resource.getrusage(resource.RUSAGE_SELF).ru_minflt - f0) / calls


def _variants(model, B, dev, w):
    C = model.config.num_classes
    x = torch.randn(B, model.config.x_dim, device=dev)
    y = torch.randint(0, C, (B,), device=dev)
    y_null = torch.full_like(y, C)                   # null label y_∅ = C (extra_class)
    t = torch.full((B,), 0.5, device=dev)
    x2, y2, t2 = torch.cat([x, x]), torch.cat([y, y_null]), torch.cat([t, t])
    return {
        "batched": lambda: guided_velocity.raw(model, x, y, t, w, C),                  # 1 call, 2B rows
        "two calls": lambda: cfg_combine.raw(model(x, y, t), model(x, y_null, t), w),  # 2 calls, B rows each
        "unguided": lambda: model(x, y, t),                                            # 1 call, B rows
        "network 2B": lambda: model(x2, y2, t2),                                       # the network alone, 2B rows
    }


def _measure(block_rows: int, B: int, repeats: int, device: str = "cpu", w: float = 3.0) -> dict:
    """Times (interleaved) and minor page faults per call of the four variants, with the network's forward in blocks
    of block_rows rows (0: one pass)."""
    torch.manual_seed(0)
    dev = torch.device(device)
    model = ConditionalVelocityMLP(ConditionalMLPConfig(block_rows=block_rows)).to(dev).eval()
    with torch.no_grad():
        variants = _variants(model, B, dev, w)
        err = float((variants["batched"]() - variants["two calls"]()).abs().max())
        times = interleaved(variants, repeats, warmup=3, sync=torch.cuda.synchronize if dev.type == "cuda" else None)
        faults = {k: _faults(fn) for k, fn in variants.items()} if dev.type == "cpu" else {}
    return {"times": times, "faults": faults, "err": err, "threads": torch.get_num_threads(),
            "params": sum(p.numel() for p in model.parameters())}


def _one_pass_row(B: int, repeats: int, label: str) -> dict:
    """The previous network (one pass over all rows) in this fresh process: 2B rows / B rows, faults per call."""
    torch.set_num_threads(1)
    m = _measure(0, B, repeats)
    f = m["faults"]
    return ratio_row(f"network on 2B rows / on B rows, one pass (block_rows = 0, the previous forward), {label}",
                     m["times"], "network 2B", "unguided", None,
                     f"{fmt_s(min(m['times']['network 2B']))} vs {fmt_s(min(m['times']['unguided']))}; minor page "
                     f"faults per call: 2B {f['network 2B']:.0f}, B {f['unguided']:.0f}, batched guided "
                     f"{f['batched']:.0f}, two calls {f['two calls']:.0f}; 1 call of 2B / 2 calls of B "
                     f"{min(m['times']['batched']) / min(m['times']['two calls']):.2f}")


def run(tiny: bool = False, batch: int | None = None, device: str = "cpu", w: float = 3.0) -> list[dict]:
    B = batch or (256 if tiny else 4096)
    repeats = 3 if tiny else 150
    cfg = ConditionalMLPConfig()
    m = _measure(cfg.block_rows, B, repeats, device, w)
    times, faults, err = m["times"], m["faults"], m["err"]
    where = f"MLP {cfg.depth}×{cfg.hidden} ({m['params']} parameters), B = {B}, {device}, {m['threads']} thread(s)"
    ms = lambda k: fmt_s(min(times[k]))
    fl = lambda k: f", {faults[k]:.0f} minor page faults per call" if k in faults else ""
    gpu = device.startswith("cuda")
    rows = [
        ratio_row(f"guided step, 1 call of 2B / 2 calls of B ({where})", times, "batched", "two calls", "≤ 1.05",
                  f"{ms('batched')}{fl('batched')} vs {ms('two calls')}{fl('two calls')}; max |batched − two calls| "
                  f"{err:.1e} (float32)", max_abs_diff=err),
        ratio_row("guided step / unguided step (1 call of 2B / 1 call of B)", times, "batched", "unguided",
                  "≤ 1.15" if gpu else None, f"{ms('batched')} vs {ms('unguided')}"
                  + ("" if gpu else "; the ≤ 1.15 goal is for a GPU at small batch")),
        ratio_row(f"network on 2B rows / on B rows, blocked forward (block_rows = {cfg.block_rows})", times,
                  "network 2B", "unguided", None, f"FLOPs ratio 2.00; {ms('network 2B')}{fl('network 2B')}"),
    ]
    if not gpu:
        one = (lambda label, env: _one_pass_row(B, repeats, label)) if tiny else (
            lambda label, env: in_child(f"genspec.benchmarks.guided_step._one_pass_row({B}, {repeats}, {label!r})",
                                        env))
        rows += [one("fresh process, glibc malloc defaults", None),
                 one("fresh process, glibc malloc keeping freed memory (NO_TRIM)", NO_TRIM)]
    return rows


if __name__ == "__main__":
    from genspec.benchmarks.runner import main
    sys.exit(main(["--only", "guided_step", *sys.argv[1:]]))
