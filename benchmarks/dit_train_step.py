"""Throughput of a DiT training step: tokens/s and model FLOP utilisation (MFU), FLOPs counted from the config.

    python benchmarks/dit_train_step.py [--configs DiT-B/2,DiT-XL/2] [--batch 256] [--device cuda] [--compile]
    python benchmarks/dit_train_step.py --configs DiT-S/4 --batch 8 --device cpu --threads 1     # a CPU figure

One step = the rectified-flow loss of accelerated.rf on random 32×32×4 latents (DiT's latent size for 256² images)
with class labels (10% dropped to the null label by accelerated.cfg.drop_labels; the configs predict 2·C channels,
learn_sigma, and the loss reads the first C), backward, AdamW. On CUDA the step runs under bfloat16 autocast
(SDPA kernels via accelerated.attention); on CPU in float32 unless --dtype bf16.
Model FLOPs per step = 3 × forward FLOPs (accelerated.models.dit.forward_flops: matmuls, 2 per multiply-add) ×
batch; MFU = model FLOPs/s ÷ --peak-tflops (default 989 for H100/H200 dense bf16 on CUDA, none on CPU).
When diffusers imports, its DiTTransformer2DModel at the same config and the same weights is timed in the same run,
the two steps interleaved (same batch, data, loss, optimizer; `versus_diffusers`), with both loss curves; when its
import raises (absent, or RuntimeError from a torchvision wheel built for another torch) the comparison is skipped and
the reason printed. Prints a table and, with --json, writes it.
"""
from __future__ import annotations

import argparse
import json
import statistics
import time
from dataclasses import replace

import torch

from genspec.accelerated import rf
from genspec.accelerated.cfg import drop_labels
from genspec.accelerated.jobs.train import adamw, autocast
from genspec.accelerated.models.dit import DIT_CONFIGS, DiT, DiTConfig, count_parameters, forward_flops

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


def import_diffusers_dit(without_torchvision: bool = False):
    """(DiTTransformer2DModel, None), or (None, the reason it cannot be used). diffusers' import raises ImportError
    when it is absent and RuntimeError when a torchvision wheel built for another torch sits beside it (a CUDA
    torchvision next to CPU torch: "operator torchvision::nms does not exist"); either way the comparison is skipped.
    without_torchvision: make diffusers treat torchvision as absent (its DiT never uses it; diffusers imports it
    for other models' transforms)."""
    try:
        if without_torchvision:
            import diffusers.utils.import_utils as iu
            iu._torchvision_available = False
        from diffusers import DiTTransformer2DModel
    except Exception as e:                        # ImportError, or RuntimeError from a mismatched torchvision
        lines = str(e).strip().splitlines() or [""]
        why = f"diffusers' import raised {type(e).__name__}: {lines[-1][:160]}"
        if isinstance(e, RuntimeError):
            why += " (--diffusers-without-torchvision works around a torchvision wheel built for another torch)"
        return None, why
    return DiTTransformer2DModel, None


def diffusers_dit(cls, cfg: DiTConfig, device):
    """diffusers' DiTTransformer2DModel at cfg (its LayerNorm ε set to DiT's 1e-6; its own random label dropout off:
    the step drops labels as for genspec), and its forward as f(x, t, y)."""
    m = cls(num_attention_heads=cfg.heads, attention_head_dim=cfg.width // cfg.heads, in_channels=cfg.in_channels,
            out_channels=cfg.out_channels, num_layers=cfg.depth, sample_size=cfg.input_size, patch_size=cfg.patch,
            num_embeds_ada_norm=cfg.num_classes, norm_eps=1e-6).to(device)
    for block in m.transformer_blocks:
        block.norm1.emb.class_embedder.dropout_prob = 0.0
    forward = lambda x, t, y: m(x, timestep=t * cfg.time_scale, class_labels=y).sample
    return m, forward


@torch.no_grad()
def copy_weights(ours: DiT, theirs) -> None:
    """Load a label-conditioned genspec DiT's weights into diffusers' DiTTransformer2DModel (the same function:
    diffusers embeds t and y in every block, each block gets our one embedder; its p×p convolution is our Linear on
    patchify's (a p + b) C + c features; its positions are replaced by ours)."""
    c, sd = ours.config, {}
    D, p = c.width, c.patch
    sd["pos_embed.proj.weight"] = ours.x_embedder.weight.reshape(D, p, p, c.in_channels).permute(0, 3, 1, 2)
    sd["pos_embed.proj.bias"] = ours.x_embedder.bias
    for i, blk in enumerate(ours.blocks):
        pre = f"transformer_blocks.{i}."
        for a, b in (("linear_1", 0), ("linear_2", 2)):
            sd[pre + f"norm1.emb.timestep_embedder.{a}.weight"] = ours.t_embedder.mlp[b].weight
            sd[pre + f"norm1.emb.timestep_embedder.{a}.bias"] = ours.t_embedder.mlp[b].bias
        sd[pre + "norm1.emb.class_embedder.embedding_table.weight"] = ours.y_embedder.table.weight
        pairs = (("norm1.linear", blk.adaLN_modulation[1]), ("attn1.to_q", blk.attn.q), ("attn1.to_k", blk.attn.k),
                 ("attn1.to_v", blk.attn.v), ("attn1.to_out.0", blk.attn.o), ("ff.net.0.proj", blk.mlp.fc1),
                 ("ff.net.2", blk.mlp.fc2))
        for name, lin in pairs:
            sd[pre + name + ".weight"], sd[pre + name + ".bias"] = lin.weight, lin.bias
    fl = ours.final_layer
    sd["proj_out_1.weight"], sd["proj_out_1.bias"] = fl.adaLN_modulation[1].weight, fl.adaLN_modulation[1].bias
    sd["proj_out_2.weight"], sd["proj_out_2.bias"] = fl.linear.weight, fl.linear.bias
    theirs.load_state_dict({k: v.detach().clone() for k, v in sd.items()}, strict=True)
    theirs.pos_embed.pos_embed.copy_(ours.pos_embed)


def versus_diffusers(name: str, cfg: DiTConfig, batch: int, rounds: int, dev: torch.device, dtype: str = "fp32",
                     without_torchvision: bool = False, warmup: int = 1) -> dict:
    """genspec's DiT against diffusers' DiTTransformer2DModel at one config: the same weights (copy_weights; our
    timestep embedding in diffusers' shift_1 frequencies), the same data per step, the same loss and AdamW; the
    steps interleaved round by round. The row: ratio = diffusers' step time / genspec's (≥ 1: genspec faster), the
    largest relative difference of the two loss curves, or skipped with the reason."""
    from genspec.benchmarks import fmt_s, interleaved, ratio_row
    cls, why = import_diffusers_dit(without_torchvision)
    case = f"DiT train step {name}, batch {batch}, {dtype}, {dev.type}: diffusers DiTTransformer2DModel / genspec"
    if cls is None:
        return {"case": case, "ratio": None, "goal": "≥ 1.2", "skipped": why, "detail": f"skipped: {why}"}
    cfg = replace(cfg, freq_shift="shift_1", cond="label")
    torch.manual_seed(0)
    ours = DiT(cfg).to(dev)
    with torch.no_grad():                      # leave the zero init: a step that moves every weight, both sides alike
        for prm in ours.parameters():
            prm.add_(1e-3 * torch.randn_like(prm))
    theirs, their_forward = diffusers_dit(cls, cfg, dev)
    copy_weights(ours, theirs)
    ctx = _dtype_ctx(dev, dtype)
    losses: dict[str, list[float]] = {"genspec": [], "diffusers": []}
    steps = {"genspec": _step_fn(ours, ours, batch, cfg.num_classes, dev, ctx, cfg.in_channels, cfg.input_size),
             "diffusers": _step_fn(theirs, their_forward, batch, cfg.num_classes, dev, ctx, cfg.in_channels,
                                   cfg.input_size)}
    logged = {k: (lambda f=f, k=k: losses[k].append(float(f().detach()))) for k, f in steps.items()}
    sync = torch.cuda.synchronize if dev.type == "cuda" else None
    times = interleaved(logged, rounds, warmup=warmup, sync=sync)
    a, b = losses["genspec"], losses["diffusers"]
    worst = max(abs(x - y) / max(abs(y), 1e-12) for x, y in zip(a, b, strict=True))
    tokens = batch * cfg.tokens
    detail = (f"genspec {fmt_s(min(times['genspec']))} ({tokens / min(times['genspec']):,.0f} tokens/s), diffusers "
              f"{fmt_s(min(times['diffusers']))} ({tokens / min(times['diffusers']):,.0f} tokens/s); loss curves over "
              f"{len(a)} steps from the same weights: largest relative difference {worst:.1e} (first {a[0]:.6g} vs "
              f"{b[0]:.6g}, last {a[-1]:.6g} vs {b[-1]:.6g})")
    return ratio_row(case, times, "diffusers", "genspec", "≥ 1.2", detail, loss_rel_diff=worst,
                     losses={"genspec": a, "diffusers": b})


PROFILE_GROUPS = {"aten::mm": "GEMM", "aten::addmm": "GEMM", "aten::bmm": "GEMM", "aten::_fused_adamw_": "AdamW",
                  "aten::gelu": "GELU", "aten::gelu_backward": "GELU", "aten::native_layer_norm": "LayerNorm",
                  "aten::native_layer_norm_backward": "LayerNorm"}
"""torch.profiler's operators grouped by what they do (SDPA's forward and backward kernels: "attention")."""


def profile_versus_diffusers(cfg: DiTConfig, batch: int, rounds: int, dev: torch.device,
                             without_torchvision: bool = False) -> dict | None:
    """Where a training step's time goes, genspec's and diffusers' at equal config and weights (the set-up of
    `versus_diffusers`), the steps profiled alternately with torch.profiler: per side the self time per step of each
    group (GEMM, attention, GELU, AdamW, LayerNorm, other) and the GEMM calls per step; None when diffusers does not
    import. The profiler's times are wall-clock (a loaded machine inflates them alike on both sides)."""
    from collections import defaultdict

    from torch.profiler import ProfilerActivity, profile
    cls, _ = import_diffusers_dit(without_torchvision)
    if cls is None:
        return None
    cfg = replace(cfg, freq_shift="shift_1", cond="label")
    torch.manual_seed(0)
    ours = DiT(cfg).to(dev)
    theirs, their_forward = diffusers_dit(cls, cfg, dev)
    copy_weights(ours, theirs)
    ctx = _dtype_ctx(dev, "fp32")
    steps = {"genspec": _step_fn(ours, ours, batch, cfg.num_classes, dev, ctx, cfg.in_channels, cfg.input_size),
             "diffusers": _step_fn(theirs, their_forward, batch, cfg.num_classes, dev, ctx, cfg.in_channels,
                                   cfg.input_size)}
    for step in steps.values():
        step()                                                  # warm-up, unprofiled
    ms: dict[str, dict[str, float]] = {k: defaultdict(float) for k in steps}
    gemms: dict[str, int] = {k: 0 for k in steps}
    for _ in range(rounds):
        for k, step in steps.items():
            with profile(activities=[ProfilerActivity.CPU]) as prof:
                step()
            for e in prof.key_averages():
                group = PROFILE_GROUPS.get(e.key, "attention" if "scaled_dot_product" in e.key else "other")
                ms[k][group] += e.self_cpu_time_total / 1e3 / rounds
                gemms[k] += e.count if PROFILE_GROUPS.get(e.key) == "GEMM" else 0
    return {k: {"ms_per_step": dict(v), "gemm_calls_per_step": gemms[k] // rounds} for k, v in ms.items()}


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
    ap.add_argument("--diffusers-without-torchvision", action="store_true",
                    help="make diffusers treat torchvision as absent (a torchvision wheel built for another torch)")
    ap.add_argument("--profile", action="store_true",
                    help="also profile both steps (torch.profiler): the time per step of GEMMs, attention, GELU, "
                         "AdamW, LayerNorm and the rest")
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
        flops = 3 * forward_flops(cfg) * a.batch
        med, best = _time(_step_fn(model, fwd, a.batch, cfg.num_classes, dev, dtype_ctx), a.steps, a.warmup, sync)
        row = {"config": name, "impl": "genspec", "params": count_parameters(cfg), "batch": a.batch, "dtype": dtype,
               "device": str(dev), "threads": a.threads, "compile": a.compile, "step_ms_median": 1e3 * med,
               "step_ms_min": 1e3 * best, "tokens_per_s": a.batch * cfg.tokens / med,
               "model_tflops_per_s": flops / med / 1e12,
               "mfu": (flops / med / 1e12 / peak) if peak else None}
        rows.append(row)
        mfu = f"{100 * row['mfu']:.1f}%" if row["mfu"] is not None else "n/a (no peak given)"
        print(f"{name:10s} genspec   batch {a.batch:4d} {dtype} {dev}  step {row['step_ms_median']:.1f} ms "
              f"(min {row['step_ms_min']:.1f})  {row['tokens_per_s']:.0f} tokens/s  "
              f"{row['model_tflops_per_s']:.3f} TFLOP/s  MFU {mfu}")
        vs = versus_diffusers(name, cfg, a.batch, a.steps, dev, dtype, a.diffusers_without_torchvision, a.warmup)
        rows.append({"config": name, "impl": "genspec vs diffusers", **vs})
        if vs["ratio"] is None:
            print(f"{name:10s} the DiTTransformer2DModel comparison is skipped: {vs['skipped']}")
        else:
            print(f"{name:10s} diffusers / genspec step time (interleaved, minima): {vs['ratio']:.2f}× "
                  f"(medians {vs['median']:.2f}×, process CPU times {vs['cpu_ratio']:.2f}×); {vs['detail']}")
        if a.profile:
            prof = profile_versus_diffusers(cfg, a.batch, a.steps, dev, a.diffusers_without_torchvision)
            rows.append({"config": name, "impl": "profile", "profile": prof})
            for impl, p in (prof or {}).items():
                tot = sum(p["ms_per_step"].values())
                parts = ", ".join(f"{g} {100 * v / tot:.1f}%" for g, v in sorted(p["ms_per_step"].items(),
                                                                                  key=lambda kv: -kv[1]))
                print(f"{name:10s} profile {impl:9s} {tot:.0f} ms/step (profiled): {parts}; "
                      f"{p['gemm_calls_per_step']} GEMM calls a step")
    if a.json:
        with open(a.json, "w") as f:
            json.dump(rows, f, indent=1)
    return {"rows": rows}


PEAK_BF16_TFLOPS = {"H100": 989.0, "H200": 989.0, "GH200": 989.0, "B200": 2250.0, "A100": 312.0}
"""dense bfloat16 tensor-core peaks (TFLOP/s) of the cards the MFU is stated against (NVIDIA's data sheets, SXM)."""


def card_peak(dev: torch.device) -> tuple[str, float | None]:
    """(the card's name, its dense bf16 peak in TFLOP/s or None when unknown)."""
    if dev.type != "cuda":
        return "cpu", None
    name = torch.cuda.get_device_name(dev)
    return name, next((v for k, v in PEAK_BF16_TFLOPS.items() if k in name), None)


def _runner_cases(tiny: bool, dev: torch.device) -> list[dict]:
    if tiny:     # the code path only: a one-block DiT, and torch.compile without code generation (seconds, not minutes)
        return [dict(name="one-block DiT (tiny)", cfg=DiTConfig(input_size=8, patch=2, width=32, depth=1, heads=2,
                                                               num_classes=10), batch=4, rounds=2, backend="eager")]
    if dev.type == "cuda":
        return [dict(name="DiT-B/2", cfg=DIT_CONFIGS["DiT-B/2"], batch=64, rounds=10, backend="inductor"),
                dict(name="DiT-XL/2", cfg=DIT_CONFIGS["DiT-XL/2"], batch=32, rounds=10, backend="inductor")]
    return [dict(name="DiT-S/8", cfg=DIT_CONFIGS["DiT-S/8"], batch=16, rounds=5, backend="inductor")]


def _diffusers_cases(tiny: bool, dev: torch.device) -> list[dict]:
    """genspec vs diffusers: the GPU table's configs in bf16; on CPU the issue's DiT-S/4 and DiT-S/2 at batch 8."""
    if tiny:
        return [dict(name="tiny DiT", cfg=DiTConfig(input_size=8, patch=2, width=32, depth=1, heads=2, num_classes=10),
                     batch=4, rounds=2, dtype="fp32")]
    if dev.type == "cuda":
        return [dict(name=n, cfg=DIT_CONFIGS[n], batch=b, rounds=10, dtype="bf16")
                for n, b in (("DiT-B/2", 64), ("DiT-XL/2", 32))]
    return [dict(name=n, cfg=DIT_CONFIGS[n], batch=8, rounds=5, dtype="fp32") for n in ("DiT-S/4", "DiT-S/2")]


def run(tiny: bool = False, device: str = "cpu") -> list[dict]:
    """The runner's rows (python -m genspec.benchmarks --only dit_train_step; on a GPU, `genspec bench --device cuda`
    gives the whole GPU table): one DiT training step (rf loss, backward, AdamW) eager and torch.compile'd, each in
    float32 and under bfloat16 autocast; tokens/s and, on a card whose peak is known, MFU of each; ratios of step times
    (minimum of interleaved rounds, after one untimed step that includes the compilation). CPU: DiT-S/8 at batch 16
    in the runner's thread count; CUDA: DiT-B/2 at batch 64 and DiT-XL/2 at batch 32. Then genspec against diffusers'
    DiTTransformer2DModel at equal weights and config (`versus_diffusers`, eager; goal ≥ 1.2): CUDA DiT-B/2 and
    DiT-XL/2 in bf16, CPU DiT-S/4 and DiT-S/2 at batch 8 in float32. Tiny: a one-block DiT, compiled with the
    "eager" backend (Dynamo's tracing, no code generation: the path in seconds; the figures mean nothing)."""
    dev = torch.device(device)
    rows = [r for case in _runner_cases(tiny, dev) for r in _compile_and_dtype_rows(case, dev)]
    for case in _diffusers_cases(tiny, dev):
        rows.append(versus_diffusers(case["name"], case["cfg"], case["batch"], case["rounds"], dev, case["dtype"]))
    return rows


def _compile_and_dtype_rows(case: dict, dev: torch.device) -> list[dict]:
    from genspec.benchmarks import fmt_s, interleaved, ratio_row
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
    card, peak = card_peak(dev)
    mfu = {k: flops / min(v) / 1e12 / peak for k, v in times.items()} if peak else None
    where = f"{case['name']}, batch {batch}, {tokens} tokens a step, {dev.type}"

    def detail(a: str, b: str) -> str:
        return (f"{a} {fmt_s(min(times[a]))} ({tps[a]:,.0f} tokens/s, {flops / min(times[a]) / 1e9:.1f} GFLOP/s), "
                f"{b} {fmt_s(min(times[b]))} ({tps[b]:,.0f} tokens/s); first step (compilation included) "
                f"{a} {first[a]:.1f} s, {b} {first[b]:.1f} s; loss at step {k_loss} {losses[a]:.6g} vs {losses[b]:.6g}")

    rows = []
    for dtype in ("fp32", "bf16"):
        a, b = f"eager {dtype}", f"compiled {dtype}"
        rows.append(ratio_row(f"DiT train step, {where}, {dtype}: eager / torch.compile ({case['backend']})", times,
                              a, b, None, detail(b, a), tokens_per_s={a: tps[a], b: tps[b]},
                              mfu=mfu and {a: mfu[a], b: mfu[b]}, card=card, peak_tflops=peak))
    for mode in ("eager", "compiled"):
        a, b = f"{mode} fp32", f"{mode} bf16"
        rows.append(ratio_row(f"DiT train step, {where}, {mode}: float32 / bfloat16 autocast", times, a, b, None,
                              detail(b, a), tokens_per_s={a: tps[a], b: tps[b]},
                              mfu=mfu and {a: mfu[a], b: mfu[b]}, card=card, peak_tflops=peak))
    return rows


if __name__ == "__main__":
    main()
