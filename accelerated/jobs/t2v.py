"""`genspec train t2v --out DIR`: text-to-video on moving shapes, trained on the CPU at a tiny size.

    1. spatio-temporal KL autoencoder on the videos (reconstruction + β·KL)
    2. text encoder + video DiT on the frozen latents (rectified flow, caption dropout for CFG)
    3. samples per caption at several guidance weights w: motion adherence (the direction read back from the frames)
       and caption adherence (colour and shape read back from the middle frame) as functions of w.

Writes into DIR: samples/<caption>.png (a strip per shown caption: rows are the guidance weights w, columns the frame
indices, the same noise in every row) and samples/<caption>_w<w>.gif (each video as an animated GIF); adherence_vs_w.png
(motion, colour, and colour-and-shape adherence against w with binomial standard errors, and the ceilings: the same read
back from the autoencoder's reconstructions of held-out videos); losses_autoencoder.png and losses_denoiser.png (a loss
curve per training stage); metrics.json (adherence per w, losses, timings, the preset, whether it is a smoke test);
autoencoder.pt and denoiser.pt (checkpoints; --resume continues from them).

Under `torchrun --nproc_per_node N` (gloo on the CPU) every process trains the autoencoder alike (rank 0's copy is
then broadcast), the denoiser data-parallel: each rank its shard of every batch, drawn from the generator seeded alike
on every rank (accelerated.distributed); rank 0 alone logs, writes the checkpoints, samples and draws.

The training loop of the denoiser, its loss and the EMA are the image stack's (`accelerated.jobs.t2i`): the video
denoiser has the same interface (text_encoder, dit with null_text), so no step is written twice.
"""
from __future__ import annotations

import argparse
import json
import os
import time
from dataclasses import asdict, dataclass, field

import torch

from genspec.accelerated.data.shapes import caption_scores
from genspec.accelerated.distributed import broadcast_module, finish, world
from genspec.accelerated.jobs.progress import stage
from genspec.accelerated.jobs.report import announce, preset_fields
from genspec.accelerated.jobs.t2i import TextDenoiser, encode_latents, train_denoiser
from genspec.accelerated.jobs.train import (
    EMA,
    adamw,
    add_job_arguments,
    job_config,
    load_checkpoint,
    save_checkpoint,
    seed_everything,
)
from genspec.accelerated.models.autoencoder import AETrainConfig, ae_losses
from genspec.accelerated.models.text import ByteTextEncoder, TextConfig
from genspec.accelerated.models.video import (
    VIDEO_CAPTIONS,
    TextToVideo,
    VideoAEConfig,
    VideoAutoencoder,
    VideoDiT,
    VideoDiTConfig,
    motion_adherence,
    moving_shapes_dataset,
)
from genspec.accelerated.pictures import plots
from genspec.accelerated.pictures.grids import image_grid, save_gif


@dataclass
class T2VConfig:
    n_train: int = 2048
    frames: int = 8
    size: int = 32
    ae: VideoAEConfig = field(default_factory=lambda: VideoAEConfig(z_channels=16))
    ae_train: AETrainConfig = field(default_factory=lambda: AETrainConfig(steps=1000, batch=16, beta=1e-3))
    text: TextConfig = field(default_factory=lambda: TextConfig(width=96, depth=2, heads=4, max_len=32))
    dit: VideoDiTConfig = field(default_factory=lambda: VideoDiTConfig(frames=2, input_size=4, in_channels=16,
                                                                       width=96, depth=3, heads=4, text_width=96))
    steps: int = 4000
    batch: int = 64
    lr: float = 1e-3
    p_uncond: float = 0.1
    ema: float = 0.995
    guidance: tuple[float, ...] = (0.0, 1.0, 2.0, 4.0)
    samples: int = 4             # per caption and w
    sample_steps: int = 16
    seed: int = 0
    checkpoint_every: int = 500  # denoiser steps between checkpoints (and at the end)


PRESETS: dict[str, T2VConfig] = {
    "default": T2VConfig(),
    "tiny": T2VConfig(n_train=64, ae=VideoAEConfig(z_channels=4, channels=(8, 8, 8, 8), groups=4),
                      ae_train=AETrainConfig(steps=4, batch=8, beta=1e-3),
                      text=TextConfig(width=16, depth=1, heads=2, max_len=24),
                      dit=VideoDiTConfig(frames=2, input_size=4, in_channels=4, width=16, depth=1, heads=2,
                                         text_width=16),
                      steps=4, batch=8, guidance=(0.0, 2.0), samples=1, sample_steps=2),
}


class VideoDenoiser(TextDenoiser):
    """Text encoder + video DiT trained together: f(x_t, t, texts) (the image stack's Denoiser interface)."""

    def __init__(self, c: T2VConfig):
        super().__init__()
        self.text_encoder = ByteTextEncoder(c.text)
        self.dit = VideoDiT(c.dit)


def train_video_autoencoder(ae: VideoAutoencoder, videos: torch.Tensor, c: AETrainConfig, gen: torch.Generator,
                            log: list, progress: bool = True, label: str = "video autoencoder") -> None:
    """Adam steps on reconstruction + β·KL (ae_losses without its adversarial term)."""
    opt = adamw(ae.parameters(), c.lr)
    bar = stage(label, c.steps, progress)
    for _ in range(c.steps):
        x = videos[torch.randint(len(videos), (c.batch,), generator=gen)]
        terms = ae_losses(ae, None, x, c, adversarial=False, generator=gen)   # type: ignore[arg-type]
        opt.zero_grad(set_to_none=True)
        terms["total"].backward()
        opt.step()
        log.append({k: float(v.detach()) for k, v in terms.items() if k != "x_hat"})
        bar.update(rec=log[-1]["rec"], kl=log[-1]["kl"])


@torch.no_grad()
def evaluate(pipe: TextToVideo, c: T2VConfig, out: str | None, seed: int, progress: bool = False,
             label: str = "sampling", smoke: bool = False) -> dict:
    """Motion and caption adherence per w over every caption (c.samples each); if out is given, a labelled strip per
    shown caption (rows = w, columns = frames) and a GIF per shown caption and w in out/samples."""
    motion: dict[str, float] = {}
    content: dict[str, dict[str, float]] = {}
    shown = [cap for cap in VIDEO_CAPTIONS if cap.startswith(("red circle", "blue square"))]
    strips: dict[str, list[torch.Tensor]] = {cap: [] for cap in shown}
    bar = stage(label, len(c.guidance), progress)
    for w in c.guidance:
        gen = torch.Generator().manual_seed(seed)            # the same noise at every w: only the guidance differs
        texts = [cap for cap in VIDEO_CAPTIONS for _ in range(c.samples)]
        videos = torch.cat([pipe(texts[i:i + 256], w, c.sample_steps, gen).cpu() for i in range(0, len(texts), 256)])
        motion[str(w)] = motion_adherence(videos, texts)
        content[str(w)] = caption_scores(videos[:, :, videos.shape[2] // 2], [t.rsplit(" ", 2)[0] for t in texts])
        for cap in shown:
            k = VIDEO_CAPTIONS.index(cap) * c.samples
            strips[cap].append(videos[k].transpose(0, 1))      # (T, 3, H, W): one row of frames
        bar.update(motion=motion[str(w)])
    if out:
        os.makedirs(os.path.join(out, "samples"), exist_ok=True)
        for cap, rows in strips.items():
            name = os.path.join(out, "samples", cap.replace(" ", "_"))
            image_grid(name + ".png", torch.cat(rows), [f"w = {w:g}" for w in c.guidance],
                       [f"t={i}" for i in range(rows[0].shape[0])],
                       title=f'"{cap}"\n{c.sample_steps} Euler steps, batched CFG, the same noise in every row'
                             + ("\ntiny preset: a smoke test, meaningless" if smoke else ""),
                       row_title="guidance weight", col_title="frame index", cell=0.75)
            for w, frames in zip(c.guidance, rows, strict=True):
                save_gif(f"{name}_w{w:g}.gif", frames)
    return {"motion_adherence_vs_w": motion,
            "caption_adherence_vs_w": {w: v["joint"] for w, v in content.items()},
            "caption_colour_vs_w": {w: v["colour"] for w, v in content.items()},
            "caption_shape_vs_w": {w: v["shape"] for w, v in content.items()}}


def figures(out: str, m: dict, ae_log: list, dn_log: list, c: T2VConfig, smoke: bool) -> list[str]:
    """adherence_vs_w.png and the loss curves of both stages; returns the files written."""
    n = c.samples * len(VIDEO_CAPTIONS)
    ws = [float(w) for w in m["motion_adherence_vs_w"]]
    series = {}
    for key, name in (("motion_adherence_vs_w", "motion"), ("caption_colour_vs_w", "colour (middle frame)"),
                      ("caption_adherence_vs_w", "colour and shape (middle frame)")):
        a = list(m[key].values())
        series[f"{name}, {n} per w, ±1 s.e."] = (a, [plots.binomial_se(v, n) for v in a])
    rec = m["autoencoder"]
    plots.versus(os.path.join(out, "adherence_vs_w.png"), ws, series,
                 f"t2v: adherence against the guidance weight ({c.sample_steps} Euler steps)", "guidance weight w",
                 "adherence", lines={"ceiling: motion of reconstructed held-out videos":
                                     rec["held_out_reconstruction_motion_adherence"],
                                     "ceiling: colour and shape of their middle frames":
                                     rec["held_out_reconstruction_caption_adherence"]},
                 smoke=smoke, ylim=(0, 1.02))
    plots.loss_curve(os.path.join(out, "losses_autoencoder.png"),
                     {k: [r[k] for r in ae_log] for k in ("rec", "kl") if ae_log and k in ae_log[0]},
                     "t2v stage 1: spatio-temporal KL autoencoder", smoke=smoke, panels=True)
    plots.loss_curve(os.path.join(out, "losses_denoiser.png"), {"rectified-flow loss": dn_log},
                     "t2v stage 2: text encoder + video DiT on frozen latents", smoke=smoke)
    return ["samples/*.png", "samples/*.gif", "adherence_vs_w.png", "losses_autoencoder.png", "losses_denoiser.png"]


def run(c: T2VConfig, out: str, progress: bool = True, preset: str = "custom", resume: bool = False) -> dict:
    """The whole job on the CPU; returns the metrics it writes to out/metrics.json (`preset` is recorded there; a tiny
    run is marked a smoke test). `resume`: continue from the checkpoints in `out` (written by a run of any number of
    processes). Under torchrun rank 0 alone writes, samples and returns the metrics (the others return {})."""
    w = world("cpu")
    os.makedirs(out, exist_ok=True)
    progress = progress and w.is_main
    smoke = preset == "tiny"
    pictures = announce("t2v", preset, print if progress else (lambda s: None))
    gen = seed_everything(c.seed)
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    data = moving_shapes_dataset(c.n_train, c.frames, c.size, seed=c.seed)
    held_out = moving_shapes_dataset(128, c.frames, c.size, seed=c.seed + 1)

    ae = VideoAutoencoder(c.ae)
    ae_path = os.path.join(out, "autoencoder.pt")
    ae_log: list = []
    if resume and os.path.exists(ae_path):
        st = load_checkpoint(ae_path, autoencoder=ae)
        ae_log = st["log"]
        gen.set_state(st["rng"])                              # the generator as the autoencoder's training left it
    else:
        train_video_autoencoder(ae, data.videos, c.ae_train, gen, ae_log, progress, "t2v [1/3] video autoencoder")
        broadcast_module(ae, w)
        if w.is_main:
            save_checkpoint(ae_path, autoencoder=ae, log=ae_log, rng=gen.get_state())
    ae.eval().requires_grad_(False)
    with torch.no_grad():
        rec = ae.decode(ae.encode(held_out.videos)[0])
    # the reader of colour and shape (data.shapes.read_caption) on the reconstructions' middle frames: what sampling
    # can reach through this autoencoder (its 8x spatial compression blurs circles, squares and triangles alike)
    scores = caption_scores(rec[:, :, rec.shape[2] // 2], [t.rsplit(" ", 2)[0] for t in held_out.captions])
    ceiling = {"caption_adherence": scores["joint"], "caption_colour": scores["colour"],
               "caption_shape": scores["shape"]}
    timings["autoencoder_s"] = time.perf_counter() - t0

    t1 = time.perf_counter()
    mu = encode_latents(ae, data.videos, "cpu", batch=128)  # type: ignore[arg-type]  # same encode() interface
    scale = float(1.0 / mu.float().std())
    model = VideoDenoiser(c)
    ema = EMA(model, c.ema)
    opt = adamw(model.parameters(), c.lr)
    log: list = []
    dn_path = os.path.join(out, "denoiser.pt")
    start = 0
    if resume and os.path.exists(dn_path):
        st = load_checkpoint(dn_path, model=model, ema=ema, opt=opt)
        start, log = st["step"], st["losses"]
        gen.set_state(st["rng"])
    train_denoiser(model, (mu * scale).detach(), data.captions, c, "cpu", gen, log, ema, opt,  # type: ignore[arg-type]
                   start, dn_path, progress=progress, label="t2v [2/3] video denoiser", w=w)
    timings["denoiser_s"] = time.perf_counter() - t1
    if not w.is_main:
        finish(w)
        return {}

    t2 = time.perf_counter()
    shape = (c.dit.in_channels, c.dit.frames, c.dit.input_size, c.dit.input_size)
    pipe = TextToVideo(ema.model.text_encoder, ema.model.dit, ae, scale, shape).eval()  # type: ignore[arg-type]
    metrics = evaluate(pipe, c, out if pictures else None, seed=c.seed + 2, progress=progress,
                       label="t2v [3/3] sampling", smoke=smoke)
    timings["sampling_s"] = time.perf_counter() - t2
    timings["total_s"] = time.perf_counter() - t0
    window = max(1, min(50, len(log) // 5))
    metrics.update({
        "autoencoder": {"rec_first": ae_log[0]["rec"], "rec_last": ae_log[-1]["rec"],
                        "held_out_pixel_mse": float((rec - held_out.videos).square().mean()),
                        "held_out_reconstruction_motion_adherence": motion_adherence(rec, held_out.captions),
                        **{f"held_out_reconstruction_{k}": v for k, v in ceiling.items()},
                        "compression": {"temporal": c.ae.factors[0], "spatial": c.ae.factors[1], "causal": False}},
        "denoiser": {"loss_first": sum(log[:window]) / window, "loss_last": sum(log[-window:]) / window,
                     "latent_scale": scale},
        "timings": timings, "torch_threads": torch.get_num_threads(), "config": asdict(c),
        **preset_fields(preset, "t2v"),
    })
    if pictures:
        t3 = time.perf_counter()
        metrics["figures"] = figures(out, metrics, ae_log, log, c, smoke)
        timings["figures_s"] = time.perf_counter() - t3       # the strips are drawn inside sampling_s
    metrics["world_size"] = w.size
    with open(os.path.join(out, "metrics.json"), "w") as f:
        json.dump(metrics, f, indent=1)
    finish(w)
    return metrics


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="genspec train t2v", description=__doc__.split("\n\n")[0])
    p.add_argument("--out", required=True, help="output directory (checkpoints, samples/*.png, metrics.json)")
    p.add_argument("--resume", action="store_true", help="continue from the checkpoints in --out")
    add_job_arguments(p, PRESETS)
    a = p.parse_args(argv)
    c = job_config(a, PRESETS, "t2v")
    m = run(c, a.out, not a.quiet, a.preset, a.resume)
    if not m:                                               # a torchrun process other than rank 0
        return 0
    print("motion adherence vs w: " + "  ".join(f"w={w}: {v:.3f}" for w, v in m["motion_adherence_vs_w"].items()))
    print("caption adherence vs w: " + "  ".join(f"w={w}: {v:.3f}" for w, v in m["caption_adherence_vs_w"].items())
          + f"  (ceiling {m['autoencoder']['held_out_reconstruction_caption_adherence']:.3f})")
    drawn = f", strips, GIFs and plots in {a.out}" if "figures" in m else ""
    print(f"wrote {os.path.join(a.out, 'metrics.json')}{drawn} ({m['timings']['total_s']:.0f} s)")
    if m["smoke_test"]:
        print(f"train t2v: {m['note']}")
    return 0
