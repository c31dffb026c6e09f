"""Few-step students of the toy text-to-image teacher: progressive and consistency distillation in latent space,
conditioned on captions, scored by caption adherence and by two distances to the teacher's 50-step samples.

The teacher is the t2i job's stack (accelerated.jobs.t2i: KL autoencoder, byte-level text encoder, cross-attention
DiT, EMA weights), trained here by `t2i.run` at a small CPU size or loaded from a `genspec train t2i` run directory.
A student is a copy of the teacher's DiT and sees what it sees: scaled latents (C, h, w), t ∈ [0, 1] and the caption's
embedding by the teacher's frozen text encoder. Every student distils the GUIDED teacher at one weight w (Meng et al.
2023, "On distillation of guided diffusion models"): its velocity is v_w(x, t, c) = combine(f(x, t, c), f(x, t, ∅), w)
(cfg.combine, batched by `pipeline.guided_velocity`), so a student takes one network call per step where the teacher
takes two.

1. Warm start (Meng et al.'s stage one, the 2-D part's `regress_on_teacher`): a copy of the teacher's DiT regressed
   onto v_w at x_t = (1 − t) x + t z (rf.interpolation), t ~ U(0, 1).
2. Progressive distillation (distill.progressive, `accelerated.distill.distillation_target`): rounds N = start/2, …, 1;
   from the grid times t = 1 − k/N the student's one step of 1/N is trained onto two steps of 1/(2N) of its teacher
   (round 1: the guided teacher; then the previous round's student).
3. Consistency distillation (consistency.loss, `accelerated.consistency.consistency_loss`): f_θ(x, t) = x − t F_θ(x, t,
   c) (`accelerated.models.consistency_model`:
   f_θ(x, 0) = x for every θ), one guided-teacher Euler step between adjacent grid
   times t_n = n/N, θ⁻ an EMA of θ. Sampled by multistep consistency sampling (Song et al. 2023, Algorithm 1, on the
   rf path): x ← f(z, 1); then for τ = 1 − i/k, i = 1, …, k − 1: x ← f((1 − τ) x + τ ε, τ), ε fresh noise.

Metrics, for teacher, PD and CD at k ∈ {1, 2, 4, 50} steps, on the same noise and captions (`samples` per caption):
- caption adherence: `accelerated.data.shapes.caption_adherence`, the measure the t2i job reports (colour and shape
  read back from the pixels).
- paired RMS: sqrt(mean over images, channels and pixels of (x − x_ref)²), x_ref the teacher's 50-step sample from the
  SAME noise and caption: how far a method's noise → image map is from the teacher's (the 2-D part's error against
  Φ, with the teacher's 50-step sampler standing for its exact map). 0 for the teacher at 50 steps by construction.
- FD: the Fréchet distance ‖μ − μ_ref‖² + tr(Σ + Σ_ref − 2(Σ^½ Σ_ref Σ^½)^½) between Gaussians fitted to
  `image_features` of a method's samples and of the teacher's 50-step samples from INDEPENDENT noise, each feature
  standardised by the reference's mean and spread. A distance between distributions, so a student whose map moved
  but whose images are as good is not penalised, and the teacher's own 50-step row shows the estimator's floor at this
  sample size. Why these features and not Inception's: nothing pretrained is downloaded, and on this data the
  attributes that matter are known and cheap to read exactly: colour, size, position, shape (the spread and vertical
  skew of the foreground) and sharpness (few-step samplers average modes into grey, blurred shapes).

PD at 50 steps: progressive distillation makes one student per step count and none for 50; that row is the first
round's student (made for start/2 steps) sampled with 50 Euler steps, i.e. how well its velocity holds off its grid.

Writes into OUT (DIR/images of `genspec train distill`): teacher/ (a t2i run, unless --teacher names one);
samples/<method>_<k>step.png (a labelled grid per method and step count: rows captions, columns samples);
overview.png (rows: method × steps, columns: the 12 captions, the same noise everywhere); metrics_vs_steps.png
(adherence, paired RMS and FD against steps per method); losses_warm_start.png, losses_progressive.png (a curve per
round), losses_consistency.png; table.md and metrics.json (with the preset and whether the run is a smoke test).
"""
from __future__ import annotations

import copy
import json
import os
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from typing import cast

import numpy as np
import torch
import torch.nn as nn

from genspec.accelerated import consistency, distill, rf
from genspec.accelerated.data.shapes import CAPTIONS, caption_adherence, caption_index, shapes_dataset
from genspec.accelerated.jobs.progress import stage
from genspec.accelerated.jobs.report import preset_fields
from genspec.accelerated.jobs.t2i import Denoiser, T2IConfig, encode_latents
from genspec.accelerated.jobs.t2i import run as train_t2i
from genspec.accelerated.jobs.train import EMA, adamw, load_checkpoint, seed_everything
from genspec.accelerated.models.autoencoder import AE_CONFIGS, AETrainConfig, KLAutoencoder
from genspec.accelerated.models.consistency_model import ConsistencyModel
from genspec.accelerated.models.dit import DiTConfig
from genspec.accelerated.models.pipeline import TextToImage
from genspec.accelerated.models.text import TextConfig, TextEmbedding
from genspec.accelerated.pictures import plots
from genspec.accelerated.pictures.grids import available, image_grid
from genspec.accelerated.sampler import euler_sample
from genspec.spec.errors import GenspecError

Velocity = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


@dataclass
class ImageDistillConfig:
    teacher: T2IConfig = field(default_factory=T2IConfig)   # the teacher's recipe when it is trained here
    w: float = 2.0                 # the guidance weight every student distils (the teacher samples at it too)
    warm_steps: int = 200          # stage one: the student regressed onto the guided teacher's velocity
    start_steps: int = 16          # the guided teacher's step count in round 1; the first student has half of it
    round_steps: int = 250         # AdamW steps per progressive round
    cd_steps: int = 600            # AdamW steps of consistency distillation
    cd_grid: int = 16              # N: adjacent times t_n = n/N of the consistency loss
    ema: float = 0.95              # μ of the target network θ⁻ ← μθ⁻ + (1 − μ)θ
    batch: int = 64
    lr: float = 2e-4
    samples: int = 16              # per caption for the metrics (the grids show the first 8)
    eval_steps: tuple[int, ...] = (1, 2, 4, 50)
    reference_steps: int = 50      # the teacher's sampler every distance is measured against
    round_eval: int = 48           # noise draws on which each progressive round's error is measured
    seed: int = 0


def _teacher_config(width: int, depth: int, heads: int, ae: str, ae_train: AETrainConfig, n_train: int,
                    steps: int, batch: int, samples: int, sample_steps: int) -> T2IConfig:
    return T2IConfig(n_train=n_train, ae=ae, ae_train=ae_train,
                     text=TextConfig(width=width, depth=min(depth, 2), heads=heads, max_len=16),
                     dit=DiTConfig(input_size=4, in_channels=4, patch=1, width=width, depth=depth, heads=heads,
                                   learn_sigma=False, cond="cross", text_width=width),
                     steps=steps, batch=batch, guidance=(0.0, 2.0), samples=samples, sample_steps=sample_steps)


PRESETS: dict[str, ImageDistillConfig] = {
    # the teacher: ~2.5 min of CPU on one core (t2i's default ~5), a 96-wide, 3-block DiT; caption adherence 0.61 at
    # w = 0, 0.92 at w = 2 (a 64-wide, 2-block one reached 0.52 and 0.66)
    "default": ImageDistillConfig(teacher=_teacher_config(96, 3, 4, "f8c4-32", AETrainConfig(steps=400, adv_start=266),
                                                          2048, 1500, 64, 8, 24)),
    # ~25 s of CPU: every stage at a non-trivial size, but its teacher is weak (caption adherence ~0.23)
    "small": ImageDistillConfig(teacher=_teacher_config(32, 1, 2, "f8c4-32", AETrainConfig(steps=150, adv_start=100),
                                                        512, 300, 32, 2, 8),
                                warm_steps=60, start_steps=8, round_steps=60, cd_steps=120, cd_grid=8, batch=32,
                                samples=4, round_eval=24),
    "tiny": ImageDistillConfig(teacher=_teacher_config(16, 1, 2, "f8c4-32-tiny",
                                                       AETrainConfig(steps=8, batch=8, adv_start=4), 64, 8, 16, 1, 3),
                               warm_steps=4, start_steps=4, round_steps=40, cd_steps=6, cd_grid=4, batch=16,
                               lr=1e-3, samples=1, round_eval=12),
}


# ---------------------------------------------------------------------------------------------------------- teacher

@dataclass
class Teacher:
    """The frozen t2i stack: autoencoder, text encoder + DiT (EMA weights), the latent scale, and the training data's
    scaled latents with their caption indices (what the students are distilled on)."""

    config: T2IConfig
    pipeline: TextToImage
    latents: torch.Tensor          # (n, C, h, w), scaled as the teacher was trained on
    caption_ids: torch.Tensor      # (n,) long: index into CAPTIONS

    @property
    def dit(self) -> nn.Module:
        return self.pipeline.denoiser

    @property
    def latent_shape(self) -> tuple[int, ...]:
        return self.pipeline.latent_shape


def _t2i_config(d: dict) -> T2IConfig:
    """T2IConfig from its asdict() (a t2i run's metrics.json)."""
    return T2IConfig(**{**d, "ae_train": AETrainConfig(**d["ae_train"]), "text": TextConfig(**d["text"]),
                        "dit": DiTConfig(**d["dit"]), "guidance": tuple(d["guidance"])})


def load_teacher(run_dir: str) -> Teacher:
    """The teacher of a finished `genspec train t2i` run: its metrics.json (config, latent scale), autoencoder.pt and
    denoiser.pt (the EMA weights); the training latents are recomputed from the config's data seed."""
    try:
        with open(os.path.join(run_dir, "metrics.json")) as f:
            m = json.load(f)
        c, scale = _t2i_config(m["config"]), float(m["denoiser"]["latent_scale"])
        ae = KLAutoencoder(AE_CONFIGS[c.ae])
        load_checkpoint(os.path.join(run_dir, "autoencoder.pt"), autoencoder=ae)
        model = Denoiser(c)
        model.load_state_dict(load_checkpoint(os.path.join(run_dir, "denoiser.pt"))["ema"])
    except (OSError, KeyError, TypeError, ValueError, RuntimeError) as e:
        raise GenspecError(f"train distill: --teacher {run_dir!r} is not a finished `genspec train t2i` run directory "
                           f"(need metrics.json, autoencoder.pt, denoiser.pt): {type(e).__name__}: {e}") from None
    ae.eval().requires_grad_(False)
    model.eval().requires_grad_(False)
    data = shapes_dataset(c.n_train, c.size, seed=c.seed)
    latents = encode_latents(ae, data.images, "cpu") * scale
    lat = (c.dit.in_channels, c.dit.input_size, c.dit.input_size)
    pipe = TextToImage(model.text_encoder, model.dit, ae, scale, lat).eval()
    return Teacher(c, pipe, latents, torch.tensor([caption_index(s) for s in data.captions]))


def train_teacher(c: T2IConfig, out: str, progress: bool = True, preset: str = "custom") -> Teacher:
    """Train the t2i stack with `t2i.run` into out (a t2i run directory) and load it."""
    train_t2i(c, out, progress=progress, preset=preset, job="distill images [1/5] teacher: t2i")
    return load_teacher(out)


class CaptionTexts:
    """The teacher's embeddings of every caption, computed once (the text encoder is frozen): rows by caption index."""

    def __init__(self, teacher: Teacher):
        with torch.no_grad():
            self.table = teacher.pipeline.text_encoder(CAPTIONS)

    def __call__(self, ids: torch.Tensor) -> TextEmbedding:
        return self.table.rows(ids)


def guided(teacher: Teacher, text: TextEmbedding, w: float) -> Velocity:
    """v_w(x, t) of the teacher for these texts (two network calls batched into one, pipeline.guided_velocity)."""
    return teacher.pipeline.velocity(text, w)


def conditional(net: nn.Module, text: TextEmbedding) -> Velocity:
    """x, t ↦ net(x, t, text): a student's velocity (or consistency function) for these texts."""
    return lambda x, t: net(x, t, text)


def _conditioned(net: nn.Module) -> Callable[[TextEmbedding], Velocity]:
    return lambda text: conditional(net, text)


def on_rows(f: Velocity, shape: tuple[int, ...]) -> Velocity:
    """f on latents (n, C, h, w) as a callable on rows (n, C·h·w), the shape the distill and consistency clauses
    take."""
    return lambda x, t: f(x.reshape(-1, *shape), t).flatten(1)


# ------------------------------------------------------------------------------------------------------- training

def _batch(teacher: Teacher, texts: CaptionTexts, c: ImageDistillConfig, gen: torch.Generator):
    idx = torch.randint(len(teacher.latents), (c.batch,), generator=gen)
    x = teacher.latents[idx]
    return x, torch.randn(x.shape, generator=gen), texts(teacher.caption_ids[idx])


def warm_start(teacher: Teacher, texts: CaptionTexts, c: ImageDistillConfig, gen: torch.Generator,
               progress: bool = True, curves: dict | None = None) -> nn.Module:
    """A copy of the teacher's DiT regressed onto the guided velocity v_w(x_t, t), t ~ U(0, 1); its losses go to
    curves["warm start"] if curves is given."""
    student = copy.deepcopy(teacher.dit).train().requires_grad_(True)
    opt = adamw(student.parameters(), c.lr)
    bar = stage("distill images [2/5] warm start", c.warm_steps, progress)
    losses = curves.setdefault("warm start", []) if curves is not None else []
    for _ in range(c.warm_steps):
        x, z, text = _batch(teacher, texts, c, gen)
        t = torch.rand(c.batch, generator=gen)
        x_t = rf.interpolate(x, z, t)
        with torch.no_grad():
            target = guided(teacher, text, c.w)(x_t, t)
        loss = (student(x_t, t, text) - target).square().mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        losses.append(loss.detach())
        bar.update(loss=losses[-1])
    return student


@dataclass
class RoundEval:
    """Fixed noise and captions on which each progressive round is measured, with the guided teacher's latents at
    `reference_steps` from that noise."""

    z: torch.Tensor
    text: TextEmbedding
    reference: torch.Tensor

    @classmethod
    def of(cls, teacher: Teacher, texts: CaptionTexts, c: ImageDistillConfig) -> RoundEval:
        g = torch.Generator().manual_seed(c.seed + 11)
        ids = torch.arange(c.round_eval) % len(CAPTIONS)
        z = torch.randn((c.round_eval, *teacher.latent_shape), generator=g)
        text = texts(ids)
        with torch.no_grad():
            ref = euler_sample(guided(teacher, text, c.w), z, c.reference_steps)
        return cls(z, text, ref)

    @torch.no_grad()
    def sample(self, f: Callable[[TextEmbedding], Velocity], steps: int) -> torch.Tensor:
        return euler_sample(f(self.text), self.z, steps)


def rms(a: torch.Tensor, b: torch.Tensor) -> float:
    """sqrt(mean (a − b)²) over every entry."""
    return float((a.double() - b.double()).square().mean().sqrt())


@dataclass
class ImageRound:
    student_steps: int
    teacher_steps: int
    error_before: float        # RMS (latent units) of the student's N-step sample − its teacher's 2N-step sample
    error_after: float         # the same after the round
    reference_error: float     # the student's N-step sample against the guided teacher's 50-step one, after
    loss_first: float          # mean loss over the round's first steps (a tenth of them)
    loss_last: float           # and over its last
    seconds: float


def progressive_distillation(teacher: Teacher, texts: CaptionTexts, warm: nn.Module, c: ImageDistillConfig,
                             gen: torch.Generator, progress: bool = True, curves: dict | None = None
                             ) -> tuple[list[ImageRound], dict[int, nn.Module]]:
    """Rounds N = start/2, …, 1 from the warm student: at grid times t = 1 − k/N, x_t from the data, the student's
    velocity is trained onto distill.progressive's target of two teacher steps of 1/(2N); each round's student
    becomes the next round's teacher. Returns the rounds and the student of each step count."""
    ev = RoundEval.of(teacher, texts, c)
    shape = teacher.latent_shape
    teacher_v: Callable[[TextEmbedding], Velocity] = lambda text: guided(teacher, text, c.w)   # round 1
    student = copy.deepcopy(warm)
    students: dict[int, nn.Module] = {}
    rounds, N = [], c.start_steps // 2
    while N >= 1:
        t0 = time.perf_counter()
        target_samples = ev.sample(teacher_v, 2 * N)
        before = rms(ev.sample(_conditioned(student), N), target_samples)
        opt = adamw(student.parameters(), c.lr)
        bar = stage(f"distill images [3/5] progressive round {2 * N}→{N} steps", c.round_steps, progress)
        losses: list[float] = []
        if curves is not None:
            curves[f"round {2 * N}→{N}"] = losses
        for _ in range(c.round_steps):
            x, z, text = _batch(teacher, texts, c, gen)
            t = 1.0 - torch.randint(0, N, (c.batch,), generator=gen).float() / N
            x_t = rf.interpolate(x, z, t).flatten(1)
            target = distill.distillation_target(on_rows(teacher_v(text), shape), x_t, t, 1.0 / (2 * N))
            loss = (on_rows(conditional(student, text), shape)(x_t, t) - target).square().mean()
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            losses.append(loss.item())
            bar.update(loss=losses[-1])
        k = max(1, len(losses) // 10)
        after = ev.sample(_conditioned(student), N)
        rounds.append(ImageRound(N, 2 * N, before, rms(after, target_samples), rms(after, ev.reference),
                                 sum(losses[:k]) / k, sum(losses[-k:]) / k, time.perf_counter() - t0))
        frozen = copy.deepcopy(student).eval().requires_grad_(False)   # the next round's teacher
        students[N] = frozen
        teacher_v = _conditioned(frozen)
        N //= 2
    return rounds, students


@dataclass
class ImageConsistency:
    loss_first: float
    loss_last: float
    seconds: float


def consistency_distillation(teacher: Teacher, texts: CaptionTexts, warm: nn.Module, c: ImageDistillConfig,
                             gen: torch.Generator, progress: bool = True, curves: dict | None = None
                             ) -> tuple[ConsistencyModel, ImageConsistency]:
    """f_θ = x − t F_θ with F_θ from the warm student, trained by consistency.loss between t_{n+1} = (n + 1)/N and
    t_n = n/N along one guided-teacher Euler step; returns the EMA network θ⁻ (the one Song et al. sample with)."""
    shape = teacher.latent_shape
    model = ConsistencyModel(copy.deepcopy(warm).requires_grad_(True))
    ema = EMA(model, c.ema)
    target = cast(ConsistencyModel, ema.model)             # the EMA copy θ⁻
    opt = adamw(model.parameters(), c.lr)
    bar = stage("distill images [4/5] consistency", c.cd_steps, progress)
    t0, losses = time.perf_counter(), cast(list[float], [])
    if curves is not None:
        curves["consistency"] = losses
    for _ in range(c.cd_steps):
        x, z, text = _batch(teacher, texts, c, gen)
        n = torch.randint(0, c.cd_grid, (c.batch,), generator=gen).float()
        loss = consistency.consistency_loss(on_rows(conditional(model, text), shape),
                                            on_rows(conditional(target, text), shape),
                                            on_rows(guided(teacher, text, c.w), shape),
                                            x.flatten(1), z.flatten(1), (n + 1) / c.cd_grid, n / c.cd_grid)
        loss = loss / x[0].numel()                    # per coordinate, as the other stages' losses
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        ema.update(model)                                        # θ⁻ ← μθ⁻ + (1 − μ)θ
        losses.append(loss.item())
        bar.update(loss=losses[-1])
    k = max(1, len(losses) // 10)
    return target.eval(), ImageConsistency(sum(losses[:k]) / k, sum(losses[-k:]) / k, time.perf_counter() - t0)


@torch.no_grad()
def consistency_sample(f: Velocity, z: torch.Tensor, steps: int, generator: torch.Generator) -> torch.Tensor:
    """Multistep consistency sampling (Song et al. 2023, Algorithm 1) on the rf path: x ← f(z, 1); then for
    τ = 1 − i/k, i = 1, …, k − 1, x ← f(x_τ, τ) with x_τ = (1 − τ) x + τ ε (rf.interpolation, ε fresh noise)."""
    n = z.shape[0]
    x = f(z, torch.ones(n))
    for i in range(1, steps):
        tau = torch.full((n,), 1.0 - i / steps)
        x = f(rf.interpolate(x, torch.randn(z.shape, generator=generator), tau), tau)
    return x


# ------------------------------------------------------------------------------------------------------- metrics

def image_features(images: torch.Tensor) -> np.ndarray:
    """(n, 10) float64 per image: the foreground's mean RGB (3), its area fraction, centroid (y, x), spread (σ_y, σ_x)
    and vertical skewness (apex-up triangles skew one way, circles and squares not at all), all in units of the image
    side, and the blur: the mean distance of the pixel values from the palette's ±1. Foreground as in
    `data.read_caption`: pixels whose brightest channel is > 0. An image with no foreground has zeros there."""
    x = images.detach().double().cpu().clamp(-1, 1)
    n, _, H, W = x.shape
    fg = (x.amax(dim=1) > 0).double()                                   # (n, H, W)
    area = fg.sum((1, 2))
    a = area.clamp(min=1)
    rgb = (x * fg[:, None]).sum((2, 3)) / a[:, None]
    y = ((torch.arange(H, dtype=torch.float64) + 0.5) / H)[None, :, None]
    xx = ((torch.arange(W, dtype=torch.float64) + 0.5) / W)[None, None, :]
    cy, cx = (fg * y).sum((1, 2)) / a, (fg * xx).sum((1, 2)) / a
    dy, dx = y - cy[:, None, None], xx - cx[:, None, None]
    sy, sx = ((fg * dy**2).sum((1, 2)) / a).sqrt(), ((fg * dx**2).sum((1, 2)) / a).sqrt()
    skew = (fg * dy**3).sum((1, 2)) / a / sy.clamp(min=1.0 / H) ** 3
    blur = (1 - x.abs()).mean((1, 2, 3))
    feats = torch.cat([rgb, torch.stack([area / (H * W), cy, cx, sy, sx, skew, blur], 1)], 1)
    return feats.numpy()


def frechet_distance(a: np.ndarray, b: np.ndarray) -> float:
    """‖μ_a − μ_b‖² + tr(Σ_a + Σ_b − 2(Σ_a^½ Σ_b Σ_a^½)^½) of Gaussians fitted to the rows of a and b (n, d) (sample
    means and covariances, ddof 1); the matrix roots by symmetric eigendecompositions, negative rounding clipped."""
    mu_a, mu_b = a.mean(0), b.mean(0)
    s_a, s_b = np.atleast_2d(np.cov(a, rowvar=False)), np.atleast_2d(np.cov(b, rowvar=False))
    e, V = np.linalg.eigh(s_a)
    root_a = (V * np.sqrt(np.clip(e, 0, None))) @ V.T
    m = root_a @ s_b @ root_a
    cross = np.sqrt(np.clip(np.linalg.eigvalsh((m + m.T) / 2), 0, None)).sum()
    return float(((mu_a - mu_b) ** 2).sum() + np.trace(s_a) + np.trace(s_b) - 2 * cross)


def standardized_fd(features: np.ndarray, reference: np.ndarray) -> float:
    """frechet_distance after mapping every feature to (f − mean_ref)/std_ref (std floored at 1e-6), so that colour,
    geometry and blur weigh alike whatever their units."""
    mean, std = reference.mean(0), np.maximum(reference.std(0, ddof=1), 1e-6)
    return frechet_distance((features - mean) / std, (reference - mean) / std)


@dataclass
class Row:
    method: str               # teacher | pd | cd
    steps: int
    network_calls: int        # per sample: the guided teacher makes 2 per step (batched), a student 1
    adherence: float
    paired_rms: float         # pixels in [−1, 1], against the teacher's 50-step sample from the same noise
    fd: float                 # standardized shape-feature Fréchet distance to independent teacher 50-step samples
    network: str = ""         # which network: the PD student made for how many steps


METHODS = {"teacher": "guided teacher (Euler)", "pd": "progressive student (Euler)",
           "cd": "consistency model (multistep)"}


def evaluate(teacher: Teacher, texts: CaptionTexts, students: dict[int, nn.Module], cd_model: ConsistencyModel,
             c: ImageDistillConfig, out: str | None = None, progress: bool = False, smoke: bool = False) -> list[Row]:
    """Every method at every step count of c.eval_steps on the same noise and captions; if out is given, a labelled
    grid per method and step count (rows: captions, columns: samples) in out/samples and overview.png (rows: method
    and steps, columns: captions, the first sample of each)."""
    s = c.samples
    ids = torch.arange(len(CAPTIONS)).repeat_interleave(s)
    captions = [CAPTIONS[i] for i in ids.tolist()]
    text = texts(ids)
    shape = teacher.latent_shape
    z = torch.randn((len(ids), *shape), generator=torch.Generator().manual_seed(c.seed + 21))
    z_ref = torch.randn((len(ids), *shape), generator=torch.Generator().manual_seed(c.seed + 22))
    decode = teacher.pipeline.decode
    with torch.no_grad():
        reference = decode(euler_sample(guided(teacher, text, c.w), z, c.reference_steps))
        independent = image_features(decode(euler_sample(guided(teacher, text, c.w), z_ref, c.reference_steps)))
    first = max(students)

    def pd(k: int) -> tuple[nn.Module, str]:
        return (students[k], f"made for {k}") if k in students else (students[first], f"made for {first}")

    samplers: dict[str, Callable[[int], tuple[torch.Tensor, str]]] = {
        "teacher": lambda k: (euler_sample(guided(teacher, text, c.w), z, k), f"guided, w = {c.w:g}"),
        "pd": lambda k: (euler_sample(conditional(pd(k)[0], text), z, k), pd(k)[1]),
        "cd": lambda k: (consistency_sample(conditional(cd_model, text), z, k,
                                            torch.Generator().manual_seed(c.seed + 23)), "EMA θ⁻, multistep"),
    }
    rows = []
    overview: list[torch.Tensor] = []
    if out:
        os.makedirs(os.path.join(out, "samples"), exist_ok=True)
    bar = stage("distill images [5/5] evaluation", len(samplers) * len(c.eval_steps), progress)
    smoke_line = "\ntiny preset: a smoke test, meaningless" if smoke else ""
    for method, sampler in samplers.items():
        for k in c.eval_steps:
            with torch.no_grad():
                latents, which = sampler(k)
                images = decode(latents)
            calls = 2 * k if method == "teacher" else k
            rows.append(Row(method, k, calls, caption_adherence(images, captions), rms(images, reference),
                            standardized_fd(image_features(images), independent), which))
            bar.update(adherence=rows[-1].adherence)
            if out:
                by_caption = images.reshape(len(CAPTIONS), s, *images.shape[1:])
                overview.append(by_caption[:, 0])
                image_grid(os.path.join(out, "samples", f"{method}_{k}step.png"), by_caption[:, :8].flatten(0, 1),
                           CAPTIONS, [str(i + 1) for i in range(min(s, 8))],
                           title=f"{METHODS[method]}: {k} step{'s' if k > 1 else ''}, {calls} network calls per "
                                 f"sample\n{which}; adherence {rows[-1].adherence:.3f}, paired RMS "
                                 f"{rows[-1].paired_rms:.3f}" + smoke_line,
                           row_title="caption", col_title="sample (the same noise for every method and step count)")
    if out:
        image_grid(os.path.join(out, "overview.png"), torch.cat(overview),
                   [f"{r.method} {r.steps} step{'s' if r.steps > 1 else ''}" for r in rows],
                   [cap.replace(" ", "\n") for cap in CAPTIONS],
                   title=f"Few-step students of the guided toy t2i teacher (w = {c.w:g}): the first sample of each "
                         "caption,\nthe same noise in every row" + smoke_line,
                   row_title="method and sampling steps", col_title="caption", cell=0.7)
    return rows


def figures(out: str, rows: list[Row], curves: dict[str, list], c: ImageDistillConfig, smoke: bool) -> list[str]:
    """metrics_vs_steps.png (adherence, paired RMS and FD against steps per method) and the loss curves of the
    warm start, the progressive rounds and consistency distillation; returns the files written."""
    steps = list(c.eval_steps)
    panels: dict[str, dict[str, list[float]]] = {"caption adherence": {}, "paired RMS to teacher's 50 steps": {},
                                                 "shape-feature FD": {}}
    for method, name in METHODS.items():
        mine = sorted((r for r in rows if r.method == method), key=lambda r: r.steps)
        panels["caption adherence"][name] = [r.adherence for r in mine]
        panels["paired RMS to teacher's 50 steps"][name] = [r.paired_rms for r in mine]
        panels["shape-feature FD"][name] = [r.fd for r in mine]
    plots.panels_versus(os.path.join(out, "metrics_vs_steps.png"), steps, panels,
                        f"distill images: students of the guided teacher (w = {c.w:g}) against sampling steps, "
                        f"{c.samples * len(CAPTIONS)} samples per point", "sampling steps", smoke=smoke)
    plots.loss_curve(os.path.join(out, "losses_warm_start.png"), {"MSE to v_w": curves.get("warm start", [])},
                     "distill images: warm start (student regressed onto the guided velocity)", smoke=smoke)
    plots.loss_curve(os.path.join(out, "losses_progressive.png"),
                     {k: v for k, v in curves.items() if k.startswith("round")},
                     "distill images: progressive rounds (student steps ← two teacher steps)", smoke=smoke)
    plots.loss_curve(os.path.join(out, "losses_consistency.png"), {"consistency loss": curves.get("consistency", [])},
                     "distill images: consistency distillation", smoke=smoke)
    return ["samples/*.png", "overview.png", "metrics_vs_steps.png", "losses_warm_start.png",
            "losses_progressive.png", "losses_consistency.png"]


def table(rows: list[Row], rounds: list[ImageRound], cd: ImageConsistency, c: ImageDistillConfig) -> str:
    n = c.samples * len(CAPTIONS)
    lines = [f"# Few-step students of the toy text-to-image teacher (guided, w = {c.w:g}; {n} samples per row)", "",
             "caption adherence: colour and shape read back (t2i's measure); paired RMS: pixels against the teacher's "
             f"{c.reference_steps}-step sample from the same noise; FD: standardized shape-feature Fréchet distance "
             f"to {n} teacher {c.reference_steps}-step samples from independent noise.", "",
             "| method | steps | network calls | caption adherence | paired RMS | FD | network |",
             "|---|---|---|---|---|---|---|"]
    lines += [f"| {r.method} | {r.steps} | {r.network_calls} | {r.adherence:.3f} | {r.paired_rms:.4f} | {r.fd:.3f} | "
              f"{r.network} |" for r in rows]
    lines += ["", "Progressive rounds (latent RMS of the student's N-step sample against its teacher's 2N-step "
              "sample):", "",
              "| student steps | teacher steps | before round | after round | vs teacher 50 steps | loss first | loss "
              "last | seconds |", "|---|---|---|---|---|---|---|---|"]
    lines += [f"| {r.student_steps} | {r.teacher_steps} | {r.error_before:.4f} | {r.error_after:.4f} | "
              f"{r.reference_error:.4f} | {r.loss_first:.4g} | {r.loss_last:.4g} | {r.seconds:.1f} |" for r in rounds]
    lines += ["", f"Consistency distillation: loss {cd.loss_first:.4g} → {cd.loss_last:.4g} ({cd.seconds:.1f} s)."]
    return "\n".join(lines) + "\n"


def run(c: ImageDistillConfig, out: str, teacher_dir: str | None = None, progress: bool = True,
        preset: str = "custom") -> dict:
    """The toy-image part of `genspec train distill`: teacher (trained into out/teacher, or loaded from teacher_dir),
    warm start, progressive and consistency distillation, evaluation; writes out/metrics.json, out/table.md and
    out/samples/<method>_<k>step.png. Returns the metrics."""
    os.makedirs(out, exist_ok=True)
    smoke, pictures = preset == "tiny", available()
    t0, cpu0 = time.perf_counter(), time.process_time()
    timings: dict[str, float] = {}
    curves: dict[str, list] = {}
    if teacher_dir:
        teacher = load_teacher(teacher_dir)
    else:
        teacher = train_teacher(replace(c.teacher, guidance=tuple(sorted({0.0, c.w}))), os.path.join(out, "teacher"),
                                progress, preset)
    c = replace(c, teacher=teacher.config)
    timings["teacher_s"] = time.perf_counter() - t0
    gen = seed_everything(c.seed)
    texts = CaptionTexts(teacher)
    t1 = time.perf_counter()
    warm = warm_start(teacher, texts, c, gen, progress, curves)
    timings["warm_start_s"] = time.perf_counter() - t1
    t1 = time.perf_counter()
    rounds, students = progressive_distillation(teacher, texts, warm, c, gen, progress, curves)
    timings["progressive_s"] = time.perf_counter() - t1
    cd_model, cd = consistency_distillation(teacher, texts, warm, c, gen, progress, curves)
    timings["consistency_s"] = cd.seconds
    t1 = time.perf_counter()
    rows = evaluate(teacher, texts, students, cd_model, c, out if pictures else None, progress, smoke)
    timings["evaluation_s"] = time.perf_counter() - t1
    timings["total_s"] = time.perf_counter() - t0
    timings["total_cpu_s"] = time.process_time() - cpu0
    metrics = {"table": [asdict(r) for r in rows], "progressive": [asdict(r) for r in rounds],
               "consistency": asdict(cd), "teacher_dir": teacher_dir or os.path.join(out, "teacher"),
               "timings": timings, "torch_threads": torch.get_num_threads(), "config": asdict(c),
               **preset_fields(preset, "distill")}
    if pictures:
        t1 = time.perf_counter()
        metrics["figures"] = figures(out, rows, curves, c, smoke)
        timings["figures_s"] = time.perf_counter() - t1        # the sample grids are drawn inside evaluation_s
    with open(os.path.join(out, "metrics.json"), "w") as f:
        json.dump(metrics, f, indent=1)
    with open(os.path.join(out, "table.md"), "w") as f:
        f.write(table(rows, rounds, cd, c))
    return metrics
