"""`genspec train ar --out DIR`: autoregressive generation on discrete latents (00: "train an encoder-decoder to map
images to discrete latents, train an autoregressive model on the latent token sequence, sample latent tokens
autoregressively, decode them back to an image") on the captioned synthetic shapes of accelerated/models/data.py.

Stages:
1. VQ-VAE (accelerated/models/vqvae.py): size×size×3 images → (size/4)² tokens from a codebook of K entries.
2. Class-conditional causal transformer (accelerated/models/ar_transformer.py) on the raster-order token sequences,
   conditioned on the caption's index (12 captions; the null class by 10% conditioning dropout).
3. For each guidance weight w (logits ℓ_∅ + (1 + w)(ℓ_y − ℓ_∅); LlamaGen's cfg_scale s = 1 + w): KV-cached samples
   for every caption, decoded; a PNG grid per w (rows = captions) and caption adherence per w in metrics.json.
"""
from __future__ import annotations

import argparse
import json
import os
import time
from dataclasses import asdict, dataclass, replace

import torch

from accelerated.models.ar_transformer import ARConfig, train_ar
from accelerated.models.data import CAPTIONS, caption_adherence, caption_index, shapes_dataset
from accelerated.models.images import grid, write_png
from accelerated.models.vqvae import VQConfig, train_vqvae
from spec.errors import GenspecError


@dataclass(frozen=True)
class ARJobConfig:
    images: int = 4000
    size: int = 32
    codebook_size: int = 32
    vq_steps: int = 1500
    ar_steps: int = 3000
    ar_batch: int = 32
    width: int = 64
    depth: int = 2
    heads: int = 4
    samples_per_caption: int = 16
    guidance: tuple[float, ...] = (0.0, 0.25, 0.5, 1.0)
    top_k: int = 8
    temperature: float = 0.7
    seed: int = 0


PRESETS = {"default": ARJobConfig(),
           "tiny": ARJobConfig(images=200, vq_steps=150, ar_steps=150, samples_per_caption=2, guidance=(0.0, 3.0))}


def run(c: ARJobConfig, out: str, log=print) -> dict:
    os.makedirs(os.path.join(out, "samples"), exist_ok=True)
    t0 = time.time()
    data = shapes_dataset(c.images, c.size, c.seed)
    held = shapes_dataset(120, c.size, c.seed + 1)
    vq = train_vqvae(data.images, VQConfig(codebook_size=c.codebook_size), steps=c.vq_steps,
                     seed=c.seed, log=log)
    t_vq = time.time() - t0
    with torch.no_grad():
        seqs = torch.cat([vq.sequence(data.images[i:i + 500]) for i in range(0, c.images, 500)])
        rec = vq.decode_tokens(vq.tokens(held.images))
    recon = {"mse": float((rec - held.images).square().mean()), "adherence": caption_adherence(rec, held.captions),
             "data_adherence": caption_adherence(held.images, held.captions),
             "codes_used": int(seqs.unique().numel())}
    log(f"vq-vae: held-out reconstruction MSE {recon['mse']:.4f}, caption adherence of reconstructions "
        f"{recon['adherence']:.3f} (data itself {recon['data_adherence']:.3f}), {recon['codes_used']} codes used")
    labels = torch.tensor([caption_index(cap) for cap in data.captions])
    cfg = ARConfig(vocab=c.codebook_size, length=seqs.shape[1], num_classes=len(CAPTIONS), width=c.width,
                   depth=c.depth, heads=c.heads)
    t1 = time.time()
    ar = train_ar(seqs, labels, cfg, steps=c.ar_steps, batch=c.ar_batch, seed=c.seed, log=log)
    t_ar = time.time() - t1
    torch.save({"vqvae": vq.state_dict(), "ar": ar.state_dict(), "ar_config": asdict(cfg), "job": asdict(c)},
               os.path.join(out, "models.pt"))
    with torch.no_grad():
        nll = -float(ar.log_prob(seqs[:500], labels[:500]).mean()) / cfg.length
    t2 = time.time()
    y = torch.arange(len(CAPTIONS)).repeat_interleave(c.samples_per_caption)
    caps = [CAPTIONS[i] for i in y.tolist()]
    adherence = {}
    for w in c.guidance:
        s = ar.sample(y, w=w, temperature=c.temperature, top_k=c.top_k,
                      generator=torch.Generator().manual_seed(c.seed + 7))
        with torch.no_grad():
            img = vq.decode_tokens(s)
        adherence[str(w)] = caption_adherence(img, caps)
        write_png(os.path.join(out, "samples", f"w{w:g}.png"), grid(img, rows=len(CAPTIONS), scale=2))
        log(f"w = {w:g} (LlamaGen cfg_scale {1 + w:g}): caption adherence {adherence[str(w)]:.3f}")
    metrics = {"config": asdict(c), "reconstruction": recon, "train_nll_nats_per_token": nll,
               "adherence_vs_w": adherence, "rows_of_each_grid": CAPTIONS,
               "timings": {"vqvae_s": t_vq, "ar_s": t_ar, "sampling_s": time.time() - t2,
                           "total_s": time.time() - t0}}
    with open(os.path.join(out, "metrics.json"), "w") as f:
        json.dump(metrics, f, indent=2)
    return metrics


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="genspec train ar", description=__doc__.split("\n\n")[0])
    p.add_argument("--out", required=True, help="output directory (samples/w*.png, metrics.json)")
    p.add_argument("--preset", default="default", choices=sorted(PRESETS))
    p.add_argument("--vq-steps", type=int)
    p.add_argument("--ar-steps", type=int)
    p.add_argument("--seed", type=int)
    p.add_argument("--guidance", help="comma-separated guidance weights w (cfg's one_plus_w form), e.g. 0,1,3")
    p.add_argument("--top-k", type=int)
    p.add_argument("--temperature", type=float)
    p.add_argument("--threads", type=int, default=int(os.environ.get("GENSPEC_TORCH_THREADS", "1")),
                   help="torch CPU threads (default 1: small models on a shared machine)")
    p.add_argument("--quiet", action="store_true")
    a = p.parse_args(argv)
    c = PRESETS[a.preset]
    try:
        for name, field in (("vq_steps", "vq_steps"), ("ar_steps", "ar_steps"), ("seed", "seed"), ("top_k", "top_k")):
            v = getattr(a, name)
            if v is not None:
                if v < 0 or (name.endswith("steps") and v < 1):
                    raise ValueError(f"--{name.replace('_', '-')} must be positive, got {v}")
                c = replace(c, **{field: v})
        if a.temperature is not None:
            if not 1e-3 <= a.temperature <= 1e3:
                raise ValueError(f"--temperature must be in [0.001, 1000], got {a.temperature}")
            c = replace(c, temperature=a.temperature)
        if a.guidance:
            c = replace(c, guidance=tuple(float(w) for w in a.guidance.split(",")))
    except ValueError as e:
        raise GenspecError(f"train ar: bad argument: {e}") from None
    if a.threads < 1:
        raise GenspecError(f"train ar: --threads must be ≥ 1; got {a.threads}")
    torch.set_num_threads(a.threads)
    m = run(c, a.out, (lambda s: None) if a.quiet else print)
    print("adherence vs w: " + "  ".join(f"w={w}: {v:.3f}" for w, v in m["adherence_vs_w"].items()))
    print(f"wrote {os.path.join(a.out, 'metrics.json')} and {len(m['adherence_vs_w'])} grids in "
          f"{os.path.join(a.out, 'samples')} ({m['timings']['total_s']:.0f} s)")
    return 0
