"""`genspec train t2i --out DIR [--device cuda]`: train the whole text-to-image stack on captioned synthetic shapes
and measure caption adherence as a function of the guidance weight w.

Stages (each checkpointed in DIR; --resume continues from them):
1. KL autoencoder (32×32×3 → 4×4×C, 8×) with the patch discriminator joining after `adv_start` steps.
2. Byte-level text encoder + DiT with cross-attention, trained jointly on the frozen, scaled latents μ with the
   rectified-flow loss (accelerated.rf), t ~ U(0, 1) (accelerated.schedule), captions dropped to the null text
   with probability p (accelerated.cfg.drop_labels decides which rows), EMA of the weights.
3. For every caption and every w: samples by the pipeline (batched CFG, Euler), caption adherence
   (accelerated.data.shapes) per w.

Writes into DIR: autoencoder.pt and denoiser.pt (checkpoints); samples/<caption>.png (a grid per caption: rows are the
guidance weights w, columns samples from the same noise); adherence_vs_w.png (adherence against w with binomial
standard errors and the ceiling, the adherence of the autoencoder's reconstructions of held-out images);
losses_autoencoder.png and losses_denoiser.png (a loss curve per training stage); metrics.json (adherence per w and
per caption, losses, timings, the preset and whether the run is a smoke test).
"""
from __future__ import annotations

import argparse
import json
import os
import time
from dataclasses import asdict, dataclass, field
from typing import Any, cast

import torch

from genspec.accelerated.cfg import dropped_rows
from genspec.accelerated.data.shapes import CAPTIONS, caption_adherence, shapes_dataset
from genspec.accelerated.distributed import ONE, World, broadcast_module, data_parallel, finish, mean, world
from genspec.accelerated.jobs.progress import stage
from genspec.accelerated.jobs.report import announce, preset_fields
from genspec.accelerated.jobs.train import (
    EMA,
    adamw,
    add_job_arguments,
    autocast,
    job_config,
    load_checkpoint,
    maybe_compile,
    save_checkpoint,
    seed_everything,
)
from genspec.accelerated.models.autoencoder import (
    AE_CONFIGS,
    AETrainConfig,
    KLAutoencoder,
    PatchDiscriminator,
    ae_losses,
    discriminator_loss,
    reconstruct,
)
from genspec.accelerated.models.dit import DiT, DiTConfig
from genspec.accelerated.models.pipeline import TextToImage
from genspec.accelerated.models.text import ByteTextEncoder, TextConfig, encode_each
from genspec.accelerated.pictures import plots
from genspec.accelerated.pictures.grids import image_grid
from genspec.accelerated.rf import interpolate
from genspec.accelerated.rf import loss as rf_loss
from genspec.accelerated.schedule import uniform_sample
from genspec.spec.errors import GenspecError


@dataclass
class T2IConfig:
    n_train: int = 4096
    size: int = 32
    ae: str = "f8c4-32"
    ae_train: AETrainConfig = field(default_factory=AETrainConfig)
    text: TextConfig = field(default_factory=lambda: TextConfig(width=128, depth=2, heads=4, max_len=16))
    dit: DiTConfig = field(default_factory=lambda: DiTConfig(input_size=4, in_channels=4, patch=1, width=128, depth=4,
                                                             heads=4, learn_sigma=False, cond="cross",
                                                             text_width=128))
    steps: int = 1500
    batch: int = 64
    lr: float = 1e-3
    p_uncond: float = 0.1        # cfg.dropout's default rate
    ema: float = 0.995
    guidance: tuple[float, ...] = (0.0, 1.0, 2.0, 4.0)
    samples: int = 16            # per caption and w for the metric (the grid shows the first 8)
    sample_steps: int = 24
    seed: int = 0
    checkpoint_every: int = 500  # denoiser steps between checkpoints (and at the end)


PRESETS: dict[str, T2IConfig] = {
    "default": T2IConfig(),
    "tiny": T2IConfig(n_train=64, ae="f8c4-32-tiny", ae_train=AETrainConfig(steps=8, batch=8, adv_start=4),
                      text=TextConfig(width=16, depth=1, heads=2, max_len=16),
                      dit=DiTConfig(input_size=4, in_channels=4, patch=1, width=16, depth=1, heads=2,
                                    learn_sigma=False, cond="cross", text_width=16),
                      steps=8, batch=16, guidance=(0.0, 2.0), samples=2, sample_steps=3),
    "gpu": T2IConfig(n_train=20000, ae="f8c8-32", ae_train=AETrainConfig(steps=3000, batch=128, adv_start=2000),
                     dit=DiTConfig(input_size=4, in_channels=8, patch=1, width=384, depth=8, heads=6,
                                   learn_sigma=False, cond="cross", text_width=128),
                     steps=10000, batch=256, lr=3e-4, ema=0.999, samples=64, sample_steps=32),
}


def train_autoencoder(ae: KLAutoencoder, disc: PatchDiscriminator, images: torch.Tensor, c: AETrainConfig,
                      device, gen: torch.Generator, log: list, progress: bool = True,
                      label: str = "autoencoder") -> None:
    """AE (and, after adv_start, D) steps on random batches of images; appends per-step losses to log."""
    opt = adamw(ae.parameters(), c.lr)
    opt_d = adamw(disc.parameters(), c.lr)
    bar = stage(label, c.steps, progress)
    for step in range(c.steps):
        x = images[torch.randint(len(images), (c.batch,), generator=gen)].to(device)
        adversarial = step >= c.adv_start
        with autocast(device):
            terms = ae_losses(ae, disc, x, c, adversarial, generator=gen)
        opt.zero_grad(set_to_none=True)
        terms["total"].backward()
        opt.step()
        if adversarial:
            with autocast(device):
                l_d = discriminator_loss(disc, x, terms["x_hat"])
            opt_d.zero_grad(set_to_none=True)
            l_d.backward()
            opt_d.step()
        row = {k: float(v.detach()) for k, v in terms.items() if k != "x_hat"}
        log.append(row)
        bar.update(rec=row["rec"], kl=row["kl"], adv=row["adv"])


@torch.no_grad()
def encode_latents(ae: KLAutoencoder, images: torch.Tensor, device, batch: int = 512) -> torch.Tensor:
    """μ of every image (the deterministic latents the denoiser is trained on)."""
    return torch.cat([ae.encode(images[i:i + batch].to(device))[0] for i in range(0, len(images), batch)])


class TextDenoiser(torch.nn.Module):
    """A text encoder and a DiT trained together: f(x_t, t, captions) (the image and the video job)."""

    text_encoder: Any
    dit: Any

    def forward(self, x_t: torch.Tensor, t: torch.Tensor, captions: list[str], keep: torch.Tensor, dit=None):
        """The velocity at x_t for the captions, the rows where `keep` is False given the null text instead; `dit`
        is the network to call (self.dit, or its torch.compile'd version)."""
        dit = self.dit if dit is None else dit          # not `dit or …`: bool() of a compiled module raises
        text = encode_each(self.text_encoder, captions)
        text = text.where(keep, self.dit.null_text(len(captions), text.tokens.shape[1]))
        return dit(x_t, t, text)


class Denoiser(TextDenoiser):
    """Text encoder + DiT trained together: f(x_t, t, texts)."""

    def __init__(self, c: T2IConfig):
        super().__init__()
        self.text_encoder = ByteTextEncoder(c.text)
        self.dit = DiT(c.dit)


def denoiser_step(model: TextDenoiser, z0: torch.Tensor, captions: list[str], c: T2IConfig,
                  gen: torch.Generator, dit=None, w: World = ONE, net=None) -> torch.Tensor:
    """Rectified-flow loss on latents z0 (data at t = 0) with caption dropout to the null text; `dit` is the
    network to call (model.dit, or its torch.compile'd version). z0 and captions are the whole batch, every draw is
    made for all of it, and this process trains on its rows `w.shard(n)` (N processes see what one sees); `net` is
    the model as called (DistributedDataParallel(model) under torchrun)."""
    n = z0.shape[0]
    keep = ~dropped_rows(torch.rand(n, generator=gen), c.p_uncond)           # the rest lose their caption
    noise = torch.randn(z0.shape, generator=gen)
    t = uniform_sample(torch.randn(n, generator=gen))
    rows = w.shard(n)
    z0, noise, t = z0[rows], noise[rows].to(z0.device), t[rows].to(z0.device)
    v = (model if net is None else net)(interpolate(z0, noise, t), t, captions[rows], keep[rows], dit)
    return rf_loss(v.float(), z0.float(), noise.float())


def train_denoiser(model: TextDenoiser, latents: torch.Tensor, captions: list[str], c: T2IConfig, device,
                   gen: torch.Generator, log: list, ema: EMA, opt, start: int = 0, ckpt: str | None = None,
                   compile_model: bool = False, progress: bool = True, label: str = "denoiser", w: World = ONE) -> None:
    """c.steps AdamW steps of the global batch c.batch; under torchrun (w.size > 1) each process its shard, the
    gradients averaged by DistributedDataParallel, rank 0 alone logging and writing the checkpoint."""
    dit = maybe_compile(model.dit, compile_model)          # the compiled module shares model.dit's parameters
    net = data_parallel(model, w)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: min(1.0, (start + s + 1) / 100))   # 100-step warm-up
    bar = stage(label, c.steps, progress and w.is_main, start=start)
    for step in range(start, c.steps):
        idx = torch.randint(len(latents), (c.batch,), generator=gen)
        with autocast(device):
            loss = denoiser_step(model, latents[idx], [captions[i] for i in idx.tolist()], c, gen, dit, w, net)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        ema.update(model)
        log.append(float(mean(loss.detach(), w)))           # the whole batch's loss on every rank
        bar.update(loss=log[-1])
        if ckpt and w.is_main and ((step + 1) % c.checkpoint_every == 0 or step + 1 == c.steps):
            save_checkpoint(ckpt, model=model, ema=ema, opt=opt, step=step + 1, losses=log,
                            rng=gen.get_state())


def evaluate(pipe: TextToImage, c: T2IConfig, out: str | None, seed: int, progress: bool = False,
             label: str = "sampling", smoke: bool = False) -> dict:
    """Adherence per w over all captions (c.samples each); if out is given, a labelled grid per caption (rows = w,
    columns = samples from the same noise) in out/samples."""
    per_w: dict[str, float] = {}
    per_caption: dict[str, dict[str, float]] = {}
    grids: dict[str, list[torch.Tensor]] = {cap: [] for cap in CAPTIONS}
    bar = stage(label, len(c.guidance), progress)
    for w in c.guidance:
        gen = torch.Generator().manual_seed(seed)            # the same noise at every w: only the guidance differs
        texts = [cap for cap in CAPTIONS for _ in range(c.samples)]
        images = torch.cat([pipe(texts[i:i + 384], w, c.sample_steps, gen).cpu() for i in range(0, len(texts), 384)])
        per_w[str(w)] = caption_adherence(images, texts)
        for k, cap in enumerate(CAPTIONS):
            chunk = images[k * c.samples:(k + 1) * c.samples]
            per_caption.setdefault(cap, {})[str(w)] = caption_adherence(chunk, [cap] * c.samples)
            grids[cap].append(chunk[:8])
        bar.update(adherence=per_w[str(w)])
    if out:
        os.makedirs(os.path.join(out, "samples"), exist_ok=True)
        for cap, rows in grids.items():
            image_grid(os.path.join(out, "samples", cap.replace(" ", "_") + ".png"), torch.cat(rows),
                       [f"w = {w:g}" for w in c.guidance], [str(i + 1) for i in range(len(rows[0]))],
                       title=f'"{cap}"\n{c.sample_steps} Euler steps, batched CFG'
                             + ("\ntiny preset: a smoke test, meaningless" if smoke else ""),
                       row_title="guidance weight", col_title="sample (same noise in every row)")
    return {"adherence_vs_w": per_w, "adherence_per_caption": per_caption}


def figures(out: str, m: dict, ae_log: list, dn_log: list, c: T2IConfig, smoke: bool) -> list[str]:
    """adherence_vs_w.png and the loss curves of both stages; returns the files written."""
    n = c.samples * len(CAPTIONS)
    ws = [float(w) for w in m["adherence_vs_w"]]
    a = list(m["adherence_vs_w"].values())
    plots.versus(os.path.join(out, "adherence_vs_w.png"), ws,
                 {f"samples ({n} per w, ±1 s.e.)": (a, [plots.binomial_se(v, n) for v in a])},
                 f"t2i: caption adherence against the guidance weight ({c.sample_steps} Euler steps)",
                 "guidance weight w", "caption adherence (colour and shape)",
                 lines={"ceiling: autoencoder reconstructions of held-out images":
                        m["autoencoder"]["held_out_reconstruction_adherence"]}, smoke=smoke, ylim=(0, 1.02))
    plots.loss_curve(os.path.join(out, "losses_autoencoder.png"),
                     {k: [r[k] for r in ae_log] for k in ("rec", "kl", "adv") if ae_log and k in ae_log[0]},
                     "t2i stage 1: KL autoencoder (adversarial term from step "
                     f"{c.ae_train.adv_start})", smoke=smoke, panels=True)
    plots.loss_curve(os.path.join(out, "losses_denoiser.png"), {"rectified-flow loss": dn_log},
                     "t2i stage 2: text encoder + DiT on frozen latents", smoke=smoke)
    return ["samples/*.png", "adherence_vs_w.png", "losses_autoencoder.png", "losses_denoiser.png"]


def run(c: T2IConfig, out: str, device: str = "cpu", resume: bool = False, compile_model: bool = False,
        progress: bool = True, preset: str = "custom", job: str = "t2i") -> dict:
    """The whole job; returns the metrics it writes to out/metrics.json. `preset` is recorded in the metrics (a tiny
    run is marked a smoke test); `job` prefixes the progress bars. Under torchrun every process trains (the
    autoencoder alike on each, then rank 0's copy everywhere; the denoiser data-parallel, accelerated.distributed)
    and rank 0 alone writes, samples and returns the metrics (the others return {})."""
    w = world(device)
    os.makedirs(out, exist_ok=True)
    progress = progress and w.is_main
    smoke = preset == "tiny"
    pictures = announce(job, preset, print if progress else (lambda s: None))
    dev = w.device(device)
    gen = seed_everything(c.seed)
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    data = shapes_dataset(c.n_train, c.size, seed=c.seed)
    held_out = shapes_dataset(256, c.size, seed=c.seed + 1)

    # 1) autoencoder
    ae = KLAutoencoder(AE_CONFIGS[c.ae]).to(dev)
    ae_path = os.path.join(out, "autoencoder.pt")
    ae_log: list = []
    if resume and os.path.exists(ae_path):
        ae_log = load_checkpoint(ae_path, map_location=dev, autoencoder=ae)["log"]
    else:
        disc = PatchDiscriminator(3, 32, 2).to(dev)
        train_autoencoder(ae, disc, data.images, c.ae_train, dev, gen, ae_log, progress,
                          f"{job} [1/3] autoencoder")
        broadcast_module(ae, w)
        if w.is_main:
            save_checkpoint(ae_path, autoencoder=ae, discriminator=disc, log=ae_log)
    ae.eval().requires_grad_(False)
    timings["autoencoder_s"] = time.perf_counter() - t0
    with torch.no_grad():
        rec = reconstruct(ae, held_out.images.to(dev)).cpu()
    rec_mse = float((rec - held_out.images).square().mean())
    rec_adherence = caption_adherence(rec, held_out.captions)

    # 2) text encoder + DiT on frozen latents
    t1 = time.perf_counter()
    mu = encode_latents(ae, data.images, dev)
    scale = float(1.0 / mu.float().std())
    latents = (mu * scale).detach()
    model = Denoiser(c).to(dev)
    ema = EMA(model, c.ema)
    opt = adamw(model.parameters(), c.lr)
    dn_path = os.path.join(out, "denoiser.pt")
    dn_log: list = []
    start = 0
    if resume and os.path.exists(dn_path):
        st = load_checkpoint(dn_path, map_location=dev, model=model, ema=ema, opt=opt)
        start, dn_log = st["step"], st["losses"]
        gen.set_state(st["rng"])
    train_denoiser(model, latents, data.captions, c, dev, gen, dn_log, ema, opt, start, dn_path, compile_model,
                   progress, f"{job} [2/3] denoiser", w)
    timings["denoiser_s"] = time.perf_counter() - t1
    if not w.is_main:
        finish(w)
        return {}

    # 3) samples and adherence vs w, from the EMA weights
    t2 = time.perf_counter()
    lat = (c.dit.in_channels, c.dit.input_size, c.dit.input_size)
    averaged = cast(Denoiser, ema.model)
    pipe = TextToImage(averaged.text_encoder, averaged.dit, ae, scale, lat).eval()
    metrics = evaluate(pipe, c, out if pictures else None, seed=c.seed + 2, progress=progress,
                       label=f"{job} [3/3] sampling", smoke=smoke)
    timings["sampling_s"] = time.perf_counter() - t2
    timings["total_s"] = time.perf_counter() - t0
    window = max(1, min(50, len(dn_log) // 5))
    metrics.update({
        "autoencoder": {"rec_first": ae_log[0]["rec"] if ae_log else None,
                        "rec_last": ae_log[-1]["rec"] if ae_log else None,
                        "held_out_pixel_mse": rec_mse, "held_out_reconstruction_adherence": rec_adherence},
        "denoiser": {"loss_first": sum(dn_log[:window]) / window, "loss_last": sum(dn_log[-window:]) / window,
                     "latent_scale": scale},
        "timings": timings, "device": str(dev), "torch_threads": torch.get_num_threads(),
        "config": asdict(c), **preset_fields(preset, "t2i"),
    })
    if pictures:
        t3 = time.perf_counter()
        metrics["figures"] = figures(out, metrics, ae_log, dn_log, c, smoke)
        timings["figures_s"] = time.perf_counter() - t3       # the grids are drawn inside sampling_s
    metrics["world_size"] = w.size
    with open(os.path.join(out, "metrics.json"), "w") as f:
        json.dump(metrics, f, indent=1)
    finish(w)
    return metrics


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="genspec train t2i", description=__doc__.split("\n\n")[0])
    p.add_argument("--out", required=True, help="output directory (checkpoints, samples/*.png, metrics.json)")
    p.add_argument("--device", default="cpu")
    p.add_argument("--resume", action="store_true", help="continue from the checkpoints in --out")
    p.add_argument("--compile", action="store_true", help="torch.compile the denoiser")
    add_job_arguments(p, PRESETS)
    a = p.parse_args(argv)
    c = job_config(a, PRESETS, "t2i")
    try:
        dev = torch.device(a.device)
    except RuntimeError as e:
        raise GenspecError(f"train t2i: bad argument: {e}") from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise GenspecError("train t2i: --device cuda given but CUDA is not available")
    m = run(c, a.out, a.device, a.resume, a.compile, not a.quiet, a.preset)
    if not m:                                               # a torchrun process other than rank 0
        return 0
    print("adherence vs w: " + "  ".join(f"w={w}: {v:.3f}" for w, v in m["adherence_vs_w"].items()))
    drawn = f", {len(CAPTIONS)} grids in {os.path.join(a.out, 'samples')}, curves and plots" if "figures" in m else ""
    print(f"wrote {os.path.join(a.out, 'metrics.json')}{drawn} ({m['timings']['total_s']:.0f} s)")
    if m["smoke_test"]:
        print(f"train t2i: {m['note']}")
    return 0
