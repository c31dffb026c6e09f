"""Throughput of a DiT training step: tokens/s and model FLOP utilisation (MFU), FLOPs counted from the config.

    python benchmarks/dit_train_step.py [--configs DiT-B/2,DiT-XL/2] [--batch 256] [--device cuda] [--compile]
    python benchmarks/dit_train_step.py --configs DiT-S/4 --batch 8 --device cpu --threads 1     # a CPU figure

One step = the rectified-flow loss of accelerated.rf on random 32×32×4 latents (DiT's latent size for 256² images)
with class labels (10% dropped to the null label by accelerated.cfg.drop_labels; the configs predict 2·C channels,
learn_sigma, and the loss reads the first C), backward, AdamW. On CUDA the step runs under bfloat16 autocast
(SDPA kernels via accelerated.attention); on CPU in float32 unless --dtype bf16.
Model FLOPs per step = 3 × forward FLOPs (accelerated.models.dit.forward_flops: matmuls, 2 per multiply-add) ×
batch; MFU = model FLOPs/s ÷ --peak-tflops (default 989 for H100/H200 dense bf16 on CUDA, none on CPU).
When `diffusers` is installed, its DiTTransformer2DModel at the same config is timed in the same run (same batch,
loss, optimizer); otherwise that comparison is skipped and said so. Prints a table and, with --json, writes it.
"""
from __future__ import annotations

import argparse
import json
import statistics
import time

import torch

from accelerated import rf
from accelerated.cfg import drop_labels
from accelerated.jobs.train import adamw, autocast
from accelerated.models.dit import DIT_CONFIGS, DiT, DiTConfig, count_parameters, forward_flops

H100_BF16_DENSE_TFLOPS = 989.0


def _step_fn(model, forward, batch, C, device, dtype_ctx, channels=4, size=32):
    opt = adamw(model.parameters(), 1e-4)
    g = torch.Generator(device=device).manual_seed(0)
    x = torch.randn(batch, channels, size, size, device=device, generator=g)
    y = torch.randint(0, C, (batch,), device=device, generator=g)

    def step():
        z = torch.randn(x.shape, device=device, generator=g)
        t = torch.rand(batch, device=device, generator=g)
        yy = drop_labels(y, torch.rand(batch, device=device, generator=g), C, 0.1)
        with dtype_ctx():
            v = forward(rf.interpolate(x, z, t), t, yy)
        loss = rf.loss(v[:, :channels].float(), x, z)   # learn_sigma: the first C channels are the prediction
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        return loss
    return step


def _dtype_ctx(dev: torch.device, dtype: str):
    """The forward's context: bfloat16 autocast ("bf16"; on CUDA accelerated.jobs.train.autocast) or none."""
    def ctx():
        if dtype == "bf16":
            return autocast(dev) if dev.type == "cuda" else torch.autocast("cpu", dtype=torch.bfloat16)
        return torch.autocast(dev.type, enabled=False)
    return ctx


def _time(step, steps, warmup, sync):
    for _ in range(warmup):
        step()
    sync()
    times = []
    for _ in range(steps):
        t0 = time.perf_counter()
        step()
        sync()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), min(times)


def _diffusers_model(cfg, device):
    try:
        from diffusers import DiTTransformer2DModel
    except ImportError:
        return None
    m = DiTTransformer2DModel(num_attention_heads=cfg.heads, attention_head_dim=cfg.width // cfg.heads,
                              in_channels=cfg.in_channels, out_channels=cfg.out_channels, num_layers=cfg.depth,
                              sample_size=cfg.input_size, patch_size=cfg.patch, num_embeds_ada_norm=cfg.num_classes)
    m = m.to(device)
    forward = lambda x, t, y: m(x, timestep=t * 1000, class_labels=y).sample
    return m, forward


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--configs", default="DiT-B/2,DiT-XL/2")
    ap.add_argument("--batch", type=int, default=256)
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--warmup", type=int, default=5)
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--dtype", choices=["bf16", "fp32"], help="default: bf16 on CUDA, fp32 on CPU")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--compile", action="store_true")
    ap.add_argument("--peak-tflops", type=float, help="peak dense TFLOP/s for MFU (default 989 on CUDA)")
    ap.add_argument("--json", metavar="PATH")
    a = ap.parse_args(argv)
    torch.set_num_threads(a.threads)
    dev = torch.device(a.device)
    dtype = a.dtype or ("bf16" if dev.type == "cuda" else "fp32")
    peak = a.peak_tflops or (H100_BF16_DENSE_TFLOPS if dev.type == "cuda" else None)
    if dev.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = True
        sync = torch.cuda.synchronize
    else:
        sync = lambda: None

    dtype_ctx = _dtype_ctx(dev, dtype)

    rows = []
    for name in a.configs.split(","):
        cfg = DIT_CONFIGS[name]
        torch.manual_seed(0)
        model = DiT(cfg).to(dev)
        fwd = torch.compile(model) if a.compile else model
        impls = {"genspec": (model, lambda x, t, y, f=fwd: f(x, t, y))}
        hf = _diffusers_model(cfg, dev)
        if hf is not None:
            impls["diffusers"] = (hf[0], torch.compile(hf[1]) if a.compile else hf[1])
        flops = 3 * forward_flops(cfg) * a.batch
        for impl, (m, forward) in impls.items():
            med, best = _time(_step_fn(m, forward, a.batch, cfg.num_classes, dev, dtype_ctx), a.steps, a.warmup,
                              sync)
            row = {"config": name, "impl": impl, "params": count_parameters(cfg), "batch": a.batch, "dtype": dtype,
                   "device": str(dev), "threads": a.threads, "compile": a.compile, "step_ms_median": 1e3 * med,
                   "step_ms_min": 1e3 * best, "tokens_per_s": a.batch * cfg.tokens / med,
                   "model_tflops_per_s": flops / med / 1e12,
                   "mfu": (flops / med / 1e12 / peak) if peak else None}
            rows.append(row)
            mfu = f"{100 * row['mfu']:.1f}%" if row["mfu"] is not None else "n/a (no peak given)"
            print(f"{name:10s} {impl:9s} batch {a.batch:4d} {dtype} {dev}  step {row['step_ms_median']:.1f} ms "
                  f"(min {row['step_ms_min']:.1f})  {row['tokens_per_s']:.0f} tokens/s  "
                  f"{row['model_tflops_per_s']:.3f} TFLOP/s  MFU {mfu}")
        if hf is None:
            print(f"{name:10s} diffusers not installed: the DiTTransformer2DModel comparison is skipped")
        else:
            ours, theirs = (r for r in rows[-2:])
            print(f"{name:10s} genspec / diffusers throughput: {ours['tokens_per_s'] / theirs['tokens_per_s']:.2f}×")
    if a.json:
        with open(a.json, "w") as f:
            json.dump(rows, f, indent=1)
    return {"rows": rows}


def _runner_case(tiny: bool, dev: torch.device) -> dict:
    if tiny:     # the code path only: a one-block DiT, and torch.compile without code generation (seconds, not minutes)
        return dict(name="one-block DiT (tiny)", cfg=DiTConfig(input_size=8, patch=2, width=32, depth=1, heads=2,
                                                              num_classes=10), batch=4, rounds=2, backend="eager")
    if dev.type == "cuda":
        return dict(name="DiT-B/2", cfg=DIT_CONFIGS["DiT-B/2"], batch=64, rounds=10, backend="inductor")
    return dict(name="DiT-S/8", cfg=DIT_CONFIGS["DiT-S/8"], batch=16, rounds=5, backend="inductor")


def run(tiny: bool = False, device: str = "cpu") -> list[dict]:
    """The runner's rows (python -m benchmarks --only dit_train_step): one DiT training step (rf loss, backward,
    AdamW) eager and torch.compile'd, each in float32 and under bfloat16 autocast; tokens/s of each, ratios of step
    times (minimum of interleaved rounds, after one untimed step that includes the compilation). CPU: DiT-S/8 at batch
    16 in the runner's thread count; CUDA: DiT-B/2 at batch 64. The ratios have no goal: they say what compile and
    bfloat16 buy on this machine. Tiny: a one-block DiT, compiled with the "eager" backend (Dynamo's tracing, no code
    generation: the path in seconds; the figures mean nothing)."""
    from benchmarks import fmt_s, interleaved, ratio_row
    dev = torch.device(device)
    case = _runner_case(tiny, dev)
    cfg, batch = case["cfg"], case["batch"]
    sync = torch.cuda.synchronize if dev.type == "cuda" else None
    steps, first = {}, {}
    for compiled in (False, True):
        for dtype in ("fp32", "bf16"):
            key = f"{'compiled' if compiled else 'eager'} {dtype}"
            torch.manual_seed(0)
            model = DiT(cfg).to(dev)
            fwd = torch.compile(model, backend=case["backend"]) if compiled else model
            step = _step_fn(model, lambda x, t, y, f=fwd: f(x, t, y), batch, cfg.num_classes, dev,
                            _dtype_ctx(dev, dtype), cfg.in_channels, cfg.input_size)
            t0 = time.perf_counter()
            step()                                       # the first step: compilation included
            first[key] = time.perf_counter() - t0
            steps[key] = step
    times = interleaved(steps, case["rounds"], warmup=0, sync=sync)
    losses = {k: float(step().detach()) for k, step in steps.items()}   # same data and start: equal up to rounding
    k_loss = case["rounds"] + 2
    tokens = batch * cfg.tokens
    tps = {k: tokens / min(v) for k, v in times.items()}
    flops = 3 * forward_flops(cfg) * batch
    where = f"{case['name']}, batch {batch}, {tokens} tokens a step, {dev.type}"

    def detail(a: str, b: str) -> str:
        return (f"{a} {fmt_s(min(times[a]))} ({tps[a]:,.0f} tokens/s, {flops / min(times[a]) / 1e9:.1f} GFLOP/s), "
                f"{b} {fmt_s(min(times[b]))} ({tps[b]:,.0f} tokens/s); first step (compilation included) "
                f"{a} {first[a]:.1f} s, {b} {first[b]:.1f} s; loss at step {k_loss} {losses[a]:.6g} vs {losses[b]:.6g}")

    rows = []
    for dtype in ("fp32", "bf16"):
        a, b = f"eager {dtype}", f"compiled {dtype}"
        rows.append(ratio_row(f"DiT train step, {where}, {dtype}: eager / torch.compile ({case['backend']})", times,
                              a, b, None, detail(b, a), tokens_per_s={a: tps[a], b: tps[b]}))
    for mode in ("eager", "compiled"):
        a, b = f"{mode} fp32", f"{mode} bf16"
        rows.append(ratio_row(f"DiT train step, {where}, {mode}: float32 / bfloat16 autocast", times, a, b, None,
                              detail(b, a), tokens_per_s={a: tps[a], b: tps[b]}))
    return rows


if __name__ == "__main__":
    main()
