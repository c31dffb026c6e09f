"""`genspec train ar --out DIR`: autoregressive generation on discrete latents (00: "train an encoder-decoder to map
images to discrete latents, train an autoregressive model on the latent token sequence, sample latent tokens
autoregressively, decode them back to an image") on the captioned synthetic shapes of accelerated/data/shapes.py.

Stages:
1. VQ-VAE (accelerated/models/vqvae.py): size×size×3 images → (size/4)² tokens from a codebook of K entries; the
   caption adherence of its reconstructions of held-out images is the ceiling of every sample's adherence.
2. Causal transformer (accelerated/models/ar_transformer.py) on the raster-order token sequences, conditioned on
   the caption through the image stack's byte-level text encoder (--cond text, the default) or on its index among
   the 12 captions (--cond class); the null condition by conditioning dropout at rate p_drop.
3. Diagnostics on held-out sequences: the NLL of the conditional model, of the null (unconditional) model and of
   the mixture of the 12 conditionals (1/12) Σ_y p(s | y), the marginal the null model should have learned; the
   null model's excess over that mixture says whether ℓ_y − ℓ_∅, what guidance amplifies, is signal or error.
4. For each guidance weight w (logits ℓ_∅ + (1 + w)(ℓ_y − ℓ_∅); LlamaGen's cfg_scale s = 1 + w): KV-cached samples
   for every caption, decoded; a PNG grid per w (rows = captions) and caption adherence per w (with its colour and
   shape parts) in metrics.json. ℓ_∅ is the learned null model's; --null mixture (or both) uses instead the exact
   marginal of the 12 conditionals (ARTransformer.sample), which isolates what the learned null model costs.
   Tokens are drawn only from V = {j : p_y,j ≥ α max p_y} (ar.plausibility, α = 0.1): guidance amplifies the null
   model's errors too, and a token the conditional model calls implausible must not win by them. Every w is also
   sampled with α = 0 (the "_unrestricted" grids and metrics), from the same uniforms.

Writes into DIR: models.pt (both stages); samples/w<w>[_unrestricted][_mixture_null].png (a grid per w and arm: rows
are the 12 captions, columns samples); adherence_vs_w.png (caption adherence against w for every arm, binomial standard
errors, and the ceiling); nll.png (held-out NLL of the conditional, null and mixture models); losses_vqvae.png and
losses_transformer.png (a loss curve per training stage); metrics.json (all of it, the preset, whether the run is a
smoke test).
"""
from __future__ import annotations

import argparse
import json
import math
import os
import time
from dataclasses import asdict, dataclass, field, replace

import torch

from genspec.accelerated.data.shapes import CAPTIONS, caption_adherence, caption_index, caption_scores, shapes_dataset
from genspec.accelerated.jobs.progress import stage
from genspec.accelerated.jobs.report import announce, preset_fields
from genspec.accelerated.jobs.train import add_thread_arguments, apply_threads, guidance_weights
from genspec.accelerated.models.ar_transformer import ARConfig, ARTransformer, train_ar
from genspec.accelerated.models.text import TextConfig
from genspec.accelerated.models.vqvae import VQVAE, VQConfig, train_vqvae
from genspec.accelerated.pictures import plots
from genspec.accelerated.pictures.grids import image_grid
from genspec.spec.errors import GenspecError


@dataclass(frozen=True)
class ARJobConfig:
    images: int = 4000
    held_out: int = 600             # images for the ceiling and the likelihood diagnostics
    size: int = 32
    codebook_size: int = 32
    codebook: str = "loss"          # vq.loss's variant: "loss" or "ema"
    vq_steps: int = 1500
    cond: str = "text"              # "text" (byte-level text encoder) or "class"
    ar_steps: int = 6000
    ar_batch: int = 32
    p_drop: float = 0.3             # conditioning dropout (cfg.dropout). Measured (held-out NLL of the null model
    # over the mixture of the conditionals, nats/sequence): 8.75 at 0.1 (class, 3000 steps), 6.38 at 0.3 and 3.12 at
    # 0.5 (text, 6000 steps); 0.5 costs the conditional model 2 nats and lowered adherence at every w
    width: int = 64
    depth: int = 3                  # 2: conditional NLL 43.2 nats/sequence, 3: 38.5 (held out); the null model's excess
    # over the mixture stayed 6.4 either way (it follows p_drop, not capacity), hence ar.plausibility below
    heads: int = 4
    text: TextConfig = field(default_factory=lambda: TextConfig(width=64, depth=1, heads=4, max_len=16))
    samples_per_caption: int = 64   # 768 samples per w: standard error ≤ 0.018 on an adherence
    guidance: tuple[float, ...] = (0.0, 0.5, 1.0, 2.0, 4.0)
    top_k: int = 0
    temperature: float = 1.0
    null: str = "learned"           # the null logits of guidance: "learned", "mixture" or "both" (see ARTransformer)
    plausibility: float = 0.1       # α of ar.plausibility (Li et al.'s 0.1); every w is also sampled with α = 0
    seed: int = 0


PRESETS = {"default": ARJobConfig(),
           "tiny": ARJobConfig(images=200, held_out=48, vq_steps=150, ar_steps=150, width=32, depth=1,
                               samples_per_caption=2, guidance=(0.0, 3.0),
                               text=TextConfig(width=16, depth=1, heads=2, max_len=16))}


def _condition(c: ARJobConfig, captions: list[str]):
    """The transformer's condition for these captions: the captions themselves or their class indices."""
    return captions if c.cond == "text" else torch.tensor([caption_index(s) for s in captions])


@torch.no_grad()
def likelihood_diagnostics(ar: ARTransformer, seqs: torch.Tensor, captions: list[str], c: ARJobConfig) -> dict:
    """NLL in nats per sequence of held-out token sequences under p(s | y), under the null model p(s | y_∅) and
    under the mixture (1/C) Σ_y' p(s | y') of the C conditionals (the captions are uniform in the data)."""
    y = _condition(c, captions)
    null = torch.ones(len(captions), dtype=torch.bool)
    every = torch.stack([ar.log_prob(seqs, _condition(c, [cap] * len(captions))) for cap in CAPTIONS], 1)
    out = {"cond": -float(ar.log_prob(seqs, y).mean()), "null": -float(ar.log_prob(seqs, y, null).mean()),
           "mixture": -float((torch.logsumexp(every, 1) - math.log(len(CAPTIONS))).mean())}
    out["null_excess_over_mixture"] = out["null"] - out["mixture"]
    out["information_cond_vs_mixture"] = out["mixture"] - out["cond"]      # ≤ log C = 2.485 when calibrated
    return out


SAMPLING_FIELDS = ("samples_per_caption", "guidance", "top_k", "temperature", "null", "plausibility")


def load_models(path: str, c: ARJobConfig) -> tuple[ARJobConfig, VQVAE, ARTransformer]:
    """The VQ-VAE and transformer of a run's models.pt, and that run's job config with c's sampling fields."""
    state = torch.load(path, map_location="cpu", weights_only=False)
    job = dict(state["job"], text=TextConfig(**state["job"]["text"]), guidance=tuple(state["job"]["guidance"]))
    trained = replace(ARJobConfig(**job), **{k: getattr(c, k) for k in SAMPLING_FIELDS})
    vq = VQVAE(VQConfig(codebook_size=trained.codebook_size, codebook=trained.codebook))
    vq.load_state_dict(state["vqvae"])
    ar = ARTransformer(ARConfig(**state["ar_config"]))
    ar.load_state_dict(state["ar"])
    return trained, vq.eval(), ar.eval()


class _Curve:
    """A stage's progress bar and its loss history (detached tensors, read once at the end)."""

    def __init__(self, name: str, total: int, progress: bool):
        self.bar = stage(name, total, progress)
        self.history: list[dict[str, torch.Tensor]] = []

    def __call__(self, **losses) -> None:
        self.history.append(losses)
        self.bar.update(**losses)

    def curves(self) -> dict[str, list[float]]:
        keys = self.history[0] if self.history else {}
        return {k: torch.stack([h[k] for h in self.history]).tolist() for k in keys}


def figures(out: str, m: dict, c: ARJobConfig, curves: dict[str, dict[str, list[float]]], smoke: bool) -> list[str]:
    """adherence_vs_w.png, nll.png and the loss curves of the stages trained; returns the files written."""
    n = m["samples_per_w"]
    names = {"": f"learned null, α = {c.plausibility:g}", "_unrestricted": "learned null, α = 0 (unrestricted)",
             "_mixture_null": f"mixture null, α = {c.plausibility:g}"}
    series = {}
    for key, arm in (("adherence_vs_w", ""), ("adherence_vs_w_unrestricted", "_unrestricted"),
                     ("adherence_vs_w_mixture_null", "_mixture_null")):
        if key in m:
            a = list(m[key].values())
            series[f"{names[arm] if c.null != 'mixture' or arm else names['_mixture_null']} (±1 s.e.)"] = \
                (a, [plots.binomial_se(v, n) for v in a])
    plots.versus(os.path.join(out, "adherence_vs_w.png"), [float(w) for w in m["adherence_vs_w"]], series,
                 f"ar: caption adherence against the guidance weight ({n} samples per w)",
                 "guidance weight w (LlamaGen cfg_scale = 1 + w)", "caption adherence (colour and shape)",
                 lines={"ceiling: VQ reconstructions of held-out images": m["ceiling"]}, smoke=smoke, ylim=(0, 1.02))
    nll = m["heldout_nll_nats_per_sequence"]
    plots.bars(os.path.join(out, "nll.png"), {"conditional\np(s | y)": nll["cond"], "null\np(s | ∅)": nll["null"],
                                              "mixture\n(1/12) Σ_y p(s | y)": nll["mixture"]},
               "ar: held-out NLL of token sequences", "nats per sequence", smoke=smoke,
               note=f"the null model is {nll['null_excess_over_mixture']:.2f} nats worse than the mixture it should "
                    f"equal; conditional vs mixture {nll['information_cond_vs_mixture']:.2f} nats (≤ log 12 = 2.48)")
    files = ["samples/*.png", "adherence_vs_w.png", "nll.png"]
    titles = {"vqvae": "ar stage 1: VQ-VAE (reconstruction and vq.loss)",
              "transformer": "ar stage 2: causal transformer (cross-entropy, nats per token)"}
    for stage_name, curve in curves.items():
        plots.loss_curve(os.path.join(out, f"losses_{stage_name}.png"), curve, titles[stage_name], smoke=smoke,
                         panels=True)
        files.append(f"losses_{stage_name}.png")
    return files


def run(c: ARJobConfig, out: str, log=print, models: str | None = None, progress: bool | None = None,
        preset: str = "custom") -> dict:
    """Train (or, with models = a models.pt, load) the two stages, then measure; writes out/metrics.json. Progress
    bars unless progress is False (default: when log is print); `preset` is recorded (tiny: a smoke test)."""
    os.makedirs(os.path.join(out, "samples"), exist_ok=True)
    progress = (log is print) if progress is None else progress
    smoke = preset == "tiny"
    pictures = announce("ar", preset, log)
    curves: dict[str, dict[str, list[float]]] = {}
    t0, cpu0 = time.time(), time.process_time()
    if models is not None:
        c, vq, ar = load_models(models, c)
    data = shapes_dataset(c.images, c.size, c.seed)
    held = shapes_dataset(c.held_out, c.size, c.seed + 1)
    if models is None:
        vq_curve = _Curve("ar [1/3] VQ-VAE", c.vq_steps, progress)
        vq = train_vqvae(data.images, VQConfig(codebook_size=c.codebook_size, codebook=c.codebook),
                         steps=c.vq_steps, seed=c.seed, on_step=vq_curve)
        curves["vqvae"] = vq_curve.curves()
    t_vq = time.time() - t0
    with torch.no_grad():
        seqs = torch.cat([vq.sequence(data.images[i:i + 500]) for i in range(0, c.images, 500)])
        held_seqs = vq.sequence(held.images)
        rec = vq.decode_tokens(held_seqs)
    recon = {"mse": float((rec - held.images).square().mean()), "adherence": caption_adherence(rec, held.captions),
             "data_adherence": caption_adherence(held.images, held.captions),
             "codes_used": int(seqs.unique().numel())}
    log(f"vq-vae: held-out reconstruction MSE {recon['mse']:.4f}, caption adherence of reconstructions "
        f"{recon['adherence']:.3f} (the ceiling; data itself {recon['data_adherence']:.3f}), "
        f"{recon['codes_used']} codes used")
    cfg = ARConfig(vocab=c.codebook_size, length=seqs.shape[1], num_classes=len(CAPTIONS), width=c.width,
                   depth=c.depth, heads=c.heads, cond=c.cond, text=c.text)
    t1 = time.time()
    if models is None:
        ar_curve = _Curve("ar [2/3] transformer", c.ar_steps, progress)
        ar = train_ar(seqs, _condition(c, data.captions), cfg, steps=c.ar_steps, batch=c.ar_batch,
                      p_drop=c.p_drop, seed=c.seed, on_step=ar_curve)
        curves["transformer"] = {"cross-entropy": ar_curve.curves()["loss"]}
    t_ar = time.time() - t1
    torch.save({"vqvae": vq.state_dict(), "ar": ar.state_dict(), "ar_config": asdict(cfg), "job": asdict(c)},
               os.path.join(out, "models.pt"))
    nll = likelihood_diagnostics(ar, held_seqs, held.captions, c)
    log(f"held-out NLL (nats/sequence): conditional {nll['cond']:.2f}, null {nll['null']:.2f}, mixture of the "
        f"conditionals {nll['mixture']:.2f}; the null model is {nll['null_excess_over_mixture']:.2f} nats worse than "
        f"the mixture")
    t2 = time.time()
    caps = [cap for cap in CAPTIONS for _ in range(c.samples_per_caption)]
    adherence: dict[str, dict[str, float]] = {}
    parts: dict[str, dict[str, dict[str, float]]] = {}
    # the arms: each null model at the job's α, and the learned null without the plausibility restriction
    arms = [(null, c.plausibility) for null in (("learned", "mixture") if c.null == "both" else (c.null,))]
    if c.plausibility > 0 and c.null != "mixture":
        arms.append(("learned", 0.0))
    bar = stage("ar [3/3] sampling", len(arms) * len(c.guidance), progress)
    for null, alpha in arms:
        arm = ("_mixture_null" if null == "mixture" else "") + ("_unrestricted" if alpha != c.plausibility else "")
        adherence[arm], parts[arm] = {}, {}
        for w in c.guidance:
            s = ar.sample(_condition(c, caps), w=w, temperature=c.temperature, top_k=c.top_k,
                          generator=torch.Generator().manual_seed(c.seed + 7), null=null,
                          conditions=_condition(c, CAPTIONS), plausibility=alpha)
            with torch.no_grad():
                img = vq.decode_tokens(s)
            scores = caption_scores(img, caps)
            a = adherence[arm][str(w)] = scores["joint"]
            parts[arm][str(w)] = {"colour": scores["colour"], "shape": scores["shape"]}
            cols = min(c.samples_per_caption, 16)          # a grid a person can read: 16 samples per caption
            pic = img.reshape(len(CAPTIONS), c.samples_per_caption, *img.shape[1:])[:, :cols].flatten(0, 1)
            if pictures:
                image_grid(os.path.join(out, "samples", f"w{w:g}{arm}.png"), pic, CAPTIONS,
                           [str(i + 1) for i in range(cols)],
                           title=f"ar: KV-cached samples at guidance weight w = {w:g} (LlamaGen cfg_scale {1 + w:g})\n"
                                 f"{null} null model, plausible set α = {alpha:g}, temperature {c.temperature:g}"
                                 + (f", top-k {c.top_k}" if c.top_k else "")
                                 + ("\ntiny preset: a smoke test, meaningless" if smoke else ""),
                           row_title="caption", col_title="sample (the same uniforms at every w)", cell=0.5)
            log(f"{null} null, α = {alpha:g}, w = {w:g} (LlamaGen cfg_scale {1 + w:g}): caption adherence {a:.3f} "
                f"(colour {parts[arm][str(w)]['colour']:.3f}, shape {parts[arm][str(w)]['shape']:.3f}; ceiling "
                f"{recon['adherence']:.3f})")
            bar.update(adherence=a)
    first = next(iter(adherence))
    n = len(caps)
    metrics = {"config": asdict(c), "reconstruction": recon, "ceiling": recon["adherence"],
               "heldout_nll_nats_per_sequence": nll, "samples_per_w": n,
               "standard_error": {w: math.sqrt(a * (1 - a) / n) for w, a in adherence[first].items()},
               "adherence_vs_w": adherence[first], "adherence_parts_vs_w": parts[first],
               "rows_of_each_grid": CAPTIONS,
               "timings": {"vqvae_s": t_vq, "ar_s": t_ar, "sampling_s": time.time() - t2,
                           "total_s": time.time() - t0, "cpu_s": time.process_time() - cpu0},
               **preset_fields(preset, "ar")}
    for arm in adherence:
        if arm != first:
            metrics[f"adherence_vs_w{arm}"], metrics[f"adherence_parts_vs_w{arm}"] = adherence[arm], parts[arm]
    if pictures:
        t3 = time.time()
        metrics["figures"] = figures(out, metrics, c, curves, smoke)
        metrics["timings"]["figures_s"] = time.time() - t3     # the sample grids are drawn inside sampling_s
    with open(os.path.join(out, "metrics.json"), "w") as f:
        json.dump(metrics, f, indent=2)
    return metrics


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="genspec train ar", description=__doc__.split("\n\n")[0])
    p.add_argument("--out", required=True, help="output directory (samples/w*.png, metrics.json, models.pt)")
    p.add_argument("--preset", default="default", choices=sorted(PRESETS))
    p.add_argument("--models", help="a models.pt of an earlier run: skip training, only sample and measure (that "
                                    "run's models and config; the sampling options given here)")
    p.add_argument("--cond", choices=("text", "class"), help="condition on the caption's text (default) or index")
    p.add_argument("--codebook", choices=("loss", "ema"), help="vq.loss's codebook variant (default loss)")
    p.add_argument("--vq-steps", type=int)
    p.add_argument("--ar-steps", type=int)
    p.add_argument("--p-drop", type=float, help="conditioning dropout rate (default 0.3)")
    p.add_argument("--seed", type=int)
    p.add_argument("--guidance", help="comma-separated guidance weights w (cfg's one_plus_w form), e.g. 0,1,2,4")
    p.add_argument("--null", choices=("learned", "mixture", "both"),
                   help="guidance's null logits: the learned null model (default), the exact mixture of the 12 "
                        "conditionals (13× the sampling rows), or both")
    p.add_argument("--top-k", type=int)
    p.add_argument("--temperature", type=float)
    p.add_argument("--plausibility", type=float,
                   help="α of ar.plausibility: draw only tokens with p_y ≥ α max p_y (default 0.1; 0 turns it off). "
                        "Every w is also sampled with α = 0 and reported beside")
    add_thread_arguments(p)
    a = p.parse_args(argv)
    c = PRESETS[a.preset]
    try:
        for name in ("vq_steps", "ar_steps", "seed", "top_k"):
            v = getattr(a, name)
            if v is not None:
                if v < 0 or (name.endswith("steps") and v < 1):
                    raise ValueError(f"--{name.replace('_', '-')} must be positive, got {v}")
                c = replace(c, **{name: v})
        for name in ("cond", "codebook", "null"):
            if getattr(a, name) is not None:
                c = replace(c, **{name: getattr(a, name)})
        if a.p_drop is not None:
            if not 0.0 < a.p_drop < 1.0:
                raise ValueError(f"--p-drop must be in (0, 1), got {a.p_drop}")
            c = replace(c, p_drop=a.p_drop)
        if a.plausibility is not None:
            if not 0.0 <= a.plausibility <= 1.0:
                raise ValueError(f"--plausibility must be in [0, 1] (ar.plausibility's α), got {a.plausibility}")
            c = replace(c, plausibility=a.plausibility)
        if a.temperature is not None:
            if not 1e-3 <= a.temperature <= 1e3:
                raise ValueError(f"--temperature must be in [0.001, 1000], got {a.temperature}")
            c = replace(c, temperature=a.temperature)
        if a.guidance:
            c = replace(c, guidance=guidance_weights(a.guidance))
    except ValueError as e:
        raise GenspecError(f"train ar: bad argument: {e}") from None
    apply_threads(a, "ar")
    if a.models is not None and not os.path.isfile(a.models):
        raise GenspecError(f"train ar: --models {a.models!r} is not a file")
    m = run(c, a.out, (lambda s: None) if a.quiet else print, a.models, not a.quiet, a.preset)
    print(f"adherence vs w (α = {m['config']['plausibility']:g}): "
          + "  ".join(f"w={w}: {v:.3f}" for w, v in m["adherence_vs_w"].items())
          + f"  (ceiling: VQ reconstructions {m['ceiling']:.3f})")
    for key, what in (("_unrestricted", "learned null, α = 0"), ("_mixture_null", "mixture null")):
        if f"adherence_vs_w{key}" in m:
            print(f"{what}: " + "  ".join(f"w={w}: {v:.3f}" for w, v in m[f"adherence_vs_w{key}"].items()))
    t = m["timings"]
    grids = sum(len(v) for k, v in m.items() if k.startswith("adherence_vs_w"))    # one grid per arm and w
    print(f"wrote {os.path.join(a.out, 'metrics.json')} and {grids} grids in "
          f"{os.path.join(a.out, 'samples')} ({t['total_s']:.0f} s wall, {t['cpu_s']:.0f} s CPU)")
    if m["smoke_test"]:
        print(f"train ar: {m['note']}")
    return 0
