"""Few-step students of a flow teacher: progressive distillation and consistency distillation on 2-D Gaussian-mixture
data, measured against exact answers.

The teacher is the oracle velocity f*(x, t) = E[z − x | x_t] of the data (optimal.prediction), so the teacher's flow
is exact, and so is the map it defines from noise to data, Φ(z) = x(0) with x(1) = z (consistency.property). Every
student is scored by the RMS distance of its samples to Φ(z) from the same z:

    error(sampler) = sqrt(mean_i ‖sampler(z_i) − Φ(z_i)‖²).

No equation is written here: the distillation target is `accelerated.distill.distillation_target`
(distill.progressive), the loss `accelerated.consistency.consistency_loss` (consistency.loss), the interpolation
`accelerated.rf.interpolate`, the sampler `accelerated.sampler.euler_sample` and Φ
`accelerated.consistency.consistency_function`.

Progressive distillation (Salimans & Ho 2022; 03: "Student learns to combine 2 teacher steps into 1"): round r trains a
student with N steps to land, in one step of 2Δ = 1/N, where two teacher steps of Δ land; the student starts from the
teacher's weights, and becomes the next round's teacher: 32 → 16 → 8 → 4 → 2 → 1 steps.

Consistency distillation (Song et al. 2023; 03: "a consistency loss between adjacent timesteps"): a consistency model
f_θ(x, t) = x − t F_θ(x, t) has f_θ(x, 0) = x built in (c_skip = 1, c_out = −t, so c_out(0) = 0), is trained so that
f_θ(x_{t_{n+1}}, t_{n+1}) = f_θ⁻(x̂_{t_n}, t_n) along one teacher Euler step, with θ⁻ an EMA of θ, and samples in
one step: x = f_θ(z, 1).

`genspec train distill --out DIR` runs both; it then distils the toy text-to-image teacher the same two ways
(accelerated.jobs.distill_images) into DIR/images (`--part` picks).

Writes into DIR (the 2-D part): samples.png (scatter panels with axes from the same noise: the noise, the data and the
exact map Φ; the exact teacher's Euler sampler at 1, 2, 4 steps; the progressive students at 1, 2, 4 steps and the
1-step consistency model); error_vs_steps.png (RMS error against Φ per method and step count); losses_warm_start.png,
losses_progressive.png (a curve per round), losses_consistency.png; table.md; metrics.json (with the preset and
whether the run is a smoke test). DIR/images: see accelerated/jobs/distill_images.py.
"""
from __future__ import annotations

import argparse
import copy
import json
import os
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from typing import cast

import torch

from genspec.accelerated import consistency, distill, rf
from genspec.accelerated import optimal as O
from genspec.accelerated.jobs.progress import stage
from genspec.accelerated.jobs.report import announce, preset_fields
from genspec.accelerated.jobs.train import EMA, add_thread_arguments, apply_threads
from genspec.accelerated.models.consistency_model import ConsistencyModel
from genspec.accelerated.models.flow import FlowConfig, VelocityMLP, sample_mixture
from genspec.accelerated.pictures import plots
from genspec.accelerated.pictures.grids import available
from genspec.accelerated.sampler import euler_sample
from genspec.spec.errors import GenspecError

# A 2-D mixture whose flow bends: four well-separated, unequal modes (weights, means, covariances).
FOUR_MODES = (
    torch.tensor([0.4, 0.3, 0.2, 0.1], dtype=torch.float64),
    torch.tensor([[-2.0, 0.0], [2.0, 0.0], [0.0, 2.0], [0.0, -2.0]], dtype=torch.float64),
    torch.stack([0.05 * torch.eye(2, dtype=torch.float64)] * 4),
)


@dataclass
class DistillConfig:
    hidden: int = 128
    depth: int = 3
    batch: int = 256
    lr: float = 1e-3
    warm_steps: int = 2000         # the student's starting point: an MLP regressed on the teacher's velocity
    start_steps: int = 32          # the teacher's step count in round 1; the first student has half of it
    round_steps: int = 800         # Adam steps per progressive round
    cd_steps: int = 3000           # Adam steps of consistency distillation
    cd_grid: int = 32              # N: adjacent timesteps t_n = n/N of the consistency loss
    ema: float = 0.95              # μ of the target network θ⁻ ← μθ⁻ + (1 − μ)θ
    eval_points: int = 2048
    seed: int = 0


class Oracle:
    """The exact teacher f*(x, t) of a mixture as a callable, with the mixture's eigendecomposition cached once."""

    def __init__(self, mixture):
        self.mixture = O.Mixture(*mixture)

    def __call__(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        return self.mixture.prediction(x, t)


@dataclass
class Evaluation:
    """Fixed noise z and its exact images Φ(z) under the teacher's flow."""

    z: torch.Tensor
    phi: torch.Tensor

    @classmethod
    def of(cls, mixture, n: int, seed: int) -> Evaluation:
        z = torch.randn(n, 2, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
        return cls(z, consistency.consistency_function(z, 1.0, *mixture))

    def error(self, samples: torch.Tensor) -> float:
        return float((samples.double() - self.phi).pow(2).sum(1).mean().sqrt())

    @torch.no_grad()
    def euler_error(self, f, steps: int) -> float:
        """error of the Euler sampler (sampler.euler) with velocity f and `steps` steps."""
        return self.error(euler_sample(lambda x, t: f(x.float(), t.float()).double(), self.z, steps))


def _mlp(c: DistillConfig) -> VelocityMLP:
    return VelocityMLP(FlowConfig(dim=2, hidden=c.hidden, depth=c.depth, seed=c.seed))


def _batch(mixture, c: DistillConfig, gen: torch.Generator):
    weights, means, covs = mixture
    x = sample_mixture(c.batch, weights, means, covs, generator=gen)
    return x, torch.randn(x.shape, generator=gen)


def regress_on_teacher(mixture, c: DistillConfig, gen: torch.Generator, progress: bool = False,
                       label: str = "warm start", losses: list | None = None) -> VelocityMLP:
    """The student's starting point: f_θ fitted to the teacher's velocity f*(x_t, t), x_t = (1 − t)x + tz,
    t ~ U(0, 1); each step's loss (a detached tensor) is appended to `losses` if given."""
    teacher, model = Oracle(mixture), _mlp(c)
    opt = torch.optim.Adam(model.parameters(), lr=c.lr)
    bar = stage(label, c.warm_steps, progress)
    losses = [] if losses is None else losses
    for _ in range(c.warm_steps):
        x, z = _batch(mixture, c, gen)
        t = torch.rand(c.batch, generator=gen)
        x_t = rf.interpolate(x, z, t)
        loss = (model(x_t, t) - teacher(x_t, t)).pow(2).sum(1).mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        losses.append(loss.detach())
        bar.update(loss=losses[-1])
    return model


@dataclass
class Round:
    student_steps: int
    teacher_steps: int
    error_before: float            # the student at its step count before the round (= its initial weights)
    error_after: float
    oracle_euler_error: float      # the exact teacher's own Euler sampler at the student's step count
    final_loss: float
    seconds: float
    losses: list[float] = field(default_factory=list, repr=False)   # every step's (not in metrics.json)


def progressive_distillation(mixture=FOUR_MODES, c: DistillConfig | None = None, progress=None,
                             students: dict | None = None, bars: bool = False,
                             warm_losses: list | None = None) -> list[Round]:
    """Halving rounds 32 → 16 → … → 1: the student's one Euler step of 2Δ = 1/N is trained onto two teacher steps of Δ
    (distill.progressive) at the student's grid times t = 1 − k/N, x_t from the data (rf.interpolation). If given,
    `students` receives each round's student by its step count, `progress` each Round when it ends; `bars`: a
    progress bar per stage."""
    c = c or DistillConfig()
    torch.manual_seed(c.seed)
    gen = torch.Generator().manual_seed(c.seed)
    ev = Evaluation.of(mixture, c.eval_points, c.seed + 1)
    oracle = Oracle(mixture)
    teacher: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] = oracle   # round 1: the exact teacher
    student = regress_on_teacher(mixture, c, gen, bars, "distill 2-D [1/3] warm start", warm_losses)
    rounds, N = [], c.start_steps // 2
    students = {} if students is None else students
    while N >= 1:
        t0 = time.perf_counter()
        before = ev.euler_error(student, N)
        opt = torch.optim.Adam(student.parameters(), lr=c.lr)
        losses = []
        bar = stage(f"distill 2-D [2/3] progressive round {2 * N}→{N} steps", c.round_steps, bars)
        for _ in range(c.round_steps):
            x, z = _batch(mixture, c, gen)
            t = 1.0 - torch.randint(0, N, (c.batch,), generator=gen).float() / N
            x_t = rf.interpolate(x, z, t)
            target = distill.distillation_target(teacher, x_t, t, 1.0 / (2 * N))
            loss = (student(x_t, t) - target).pow(2).sum(1).mean()
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            losses.append(loss.item())
            bar.update(loss=losses[-1])
        rounds.append(Round(N, 2 * N, before, ev.euler_error(student, N), ev.euler_error(oracle, N),
                            sum(losses[-50:]) / len(losses[-50:]), time.perf_counter() - t0, losses))
        if progress:
            progress(rounds[-1])
        teacher = copy.deepcopy(student).requires_grad_(False)  # the student becomes the next round's teacher
        students[N] = teacher
        N //= 2
    return rounds


@dataclass
class ConsistencyResult:
    one_step_error: float                 # ‖f_θ(z, 1) − Φ(z)‖, RMS
    one_step_error_before: float          # the same at the start (f_θ = one Euler step of the regressed teacher)
    teacher_one_step_error: float         # one Euler step of the exact teacher: z − f*(z, 1)
    teacher_euler_errors: dict[int, float] = field(default_factory=dict)
    losses: list[float] = field(default_factory=list)
    seconds: float = 0.0


def consistency_distillation(mixture=FOUR_MODES, c: DistillConfig | None = None, bars: bool = False
                             ) -> tuple[ConsistencyModel, ConsistencyResult]:
    """Train f_θ with the consistency loss between adjacent grid times t_n = n/N (consistency.loss, distillation mode:
    one Euler step of the exact teacher), θ⁻ an EMA of θ; returns the EMA model and its errors against Φ."""
    c = c or DistillConfig()
    torch.manual_seed(c.seed)
    gen = torch.Generator().manual_seed(c.seed)
    ev = Evaluation.of(mixture, c.eval_points, c.seed + 1)
    teacher = Oracle(mixture)
    model = ConsistencyModel(regress_on_teacher(mixture, c, gen, bars, "distill 2-D [3/3] consistency: warm start"))
    ema = EMA(model, c.ema)
    target = cast(ConsistencyModel, ema.model)             # the EMA copy θ⁻
    one_step = lambda f: ev.error(f(ev.z.float(), torch.ones(len(ev.z))).detach())
    before = one_step(target)
    opt = torch.optim.Adam(model.parameters(), lr=c.lr)
    t0, losses = time.perf_counter(), []
    bar = stage("distill 2-D [3/3] consistency", c.cd_steps, bars)
    for _ in range(c.cd_steps):
        x, z = _batch(mixture, c, gen)
        n = torch.randint(0, c.cd_grid, (c.batch,), generator=gen).float()
        loss = consistency.consistency_loss(model, target, teacher, x, z, (n + 1) / c.cd_grid, n / c.cd_grid)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        ema.update(model)                                        # θ⁻ ← μθ⁻ + (1 − μ)θ
        losses.append(loss.item())
        bar.update(loss=losses[-1])
    result = ConsistencyResult(one_step(target), before, ev.euler_error(teacher, 1),
                               {k: ev.euler_error(teacher, k) for k in (1, 2, 4, 50)}, losses,
                               time.perf_counter() - t0)
    return target.eval(), result


def summary(rounds: list[Round], cd: ConsistencyResult) -> dict:
    """The measurements as JSON-ready data."""
    return {"progressive": [{k: v for k, v in asdict(r).items() if k != "losses"} for r in rounds],
            "consistency": {k: v for k, v in asdict(cd).items() if k != "losses"}}


PRESETS: dict[str, DistillConfig] = {
    "default": DistillConfig(),
    "small": DistillConfig(warm_steps=300, round_steps=200, cd_steps=600, eval_points=1024),
    "tiny": DistillConfig(warm_steps=20, round_steps=10, cd_steps=20, eval_points=128),
}


def _table(rounds: list[Round], cd: ConsistencyResult) -> str:
    lines = ["# Few-step students against the exact teacher flow (RMS ‖sample(z) − Φ(z)‖)", "",
             "| student steps | teacher steps | student before round | student after round | exact teacher, "
             "same steps | seconds |", "|---|---|---|---|---|---|"]
    lines += [f"| {r.student_steps} | {r.teacher_steps} | {r.error_before:.4f} | {r.error_after:.4f} | "
              f"{r.oracle_euler_error:.4f} | {r.seconds:.1f} |" for r in rounds]
    e = cd.teacher_euler_errors
    lines += ["", "| consistency model, 1 step | before training | exact teacher: 1 step | 2 | 4 | 50 |",
              "|---|---|---|---|---|---|",
              f"| {cd.one_step_error:.4f} | {cd.one_step_error_before:.4f} | {e[1]:.4f} | {e[2]:.4f} | {e[4]:.4f} | "
              f"{e[50]:.4f} |"]
    return "\n".join(lines) + "\n"


@torch.no_grad()
def _picture(path: str, mixture, students: dict, cd_model: ConsistencyModel, n: int, seed: int, smoke: bool) -> None:
    """Rows of scatter panels from the same noise: the noise, the data and Φ(z); the exact teacher's Euler sampler at
    1, 2, 4 steps; the progressive students at 1, 2, 4 steps and the 1-step consistency model."""
    gen = torch.Generator().manual_seed(seed)
    ev = Evaluation.of(mixture, n, seed)
    weights, means, covs = mixture
    data = sample_mixture(n, weights, means, covs, generator=gen)
    oracle = Oracle(mixture)
    euler = lambda f, k: euler_sample(lambda x, t: f(x.float(), t.float()).double(), ev.z, k)
    step = lambda k: f"{k} step" + ("s" if k > 1 else "")
    rows = [[(ev.z, "noise z"), (data, "data"), (ev.phi, "exact map Φ(z)")],
            [(euler(oracle, k), f"exact teacher, Euler {step(k)}") for k in (1, 2, 4)],
            [(euler(students[k], k), f"progressive student, {step(k)}") for k in (1, 2, 4) if k in students]
            + [(cd_model(ev.z.float(), torch.ones(n)), "consistency model, 1 step")]]
    plots.scatter_panels(path, rows, f"distill 2-D: {n} samples from the same noise z (four-mode mixture)", smoke=smoke)


def _figures(out: str, rounds: list[Round], cd: ConsistencyResult, warm: list, smoke: bool) -> list[str]:
    """error_vs_steps.png and the loss curves; returns the files written."""
    by_steps = sorted(rounds, key=lambda r: r.student_steps)
    steps = [r.student_steps for r in by_steps]
    plots.panels_versus(os.path.join(out, "error_vs_steps.png"), steps,
                        {"RMS ‖sample(z) − Φ(z)‖": {
                            "exact teacher, Euler": [r.oracle_euler_error for r in by_steps],
                            "progressive student, before its round": [r.error_before for r in by_steps],
                            "progressive student, after its round": [r.error_after for r in by_steps],
                            "consistency model (1 step)": [cd.one_step_error]}},
                        "distill 2-D: error against the exact map per method and step count", "sampling steps",
                        smoke=smoke, log_y=("RMS ‖sample(z) − Φ(z)‖",))
    plots.loss_curve(os.path.join(out, "losses_warm_start.png"), {"‖f_θ − f*‖²": warm},
                     "distill 2-D: warm start (MLP regressed onto the exact velocity)", smoke=smoke)
    plots.loss_curve(os.path.join(out, "losses_progressive.png"),
                     {f"round {r.teacher_steps}→{r.student_steps}": r.losses for r in rounds},
                     "distill 2-D: progressive rounds", smoke=smoke)
    plots.loss_curve(os.path.join(out, "losses_consistency.png"), {"consistency loss": cd.losses},
                     "distill 2-D: consistency distillation", smoke=smoke)
    return ["samples.png", "error_vs_steps.png", "losses_warm_start.png", "losses_progressive.png",
            "losses_consistency.png"]


def run_2d(c: DistillConfig, out: str, progress: bool = True, preset: str = "custom") -> dict:
    """The 2-D part of `genspec train distill`: both distillations of FOUR_MODES' exact flow; writes out/metrics.json,
    out/table.md and the figures and returns the metrics."""
    os.makedirs(out, exist_ok=True)
    smoke = preset == "tiny"
    pictures = available()
    students: dict = {}
    warm: list = []
    show = lambda r: print(f"  round {r.student_steps:2d} steps (teacher {r.teacher_steps:2d}): error "
                           f"{r.error_before:.4f} → {r.error_after:.4f}; exact teacher at {r.student_steps} steps "
                           f"{r.oracle_euler_error:.4f}  [{r.seconds:.1f} s]", flush=True)
    print("progressive distillation, 32 → 1 steps (teacher: the exact oracle velocity)", flush=True)
    rounds = progressive_distillation(FOUR_MODES, c, show, students, progress, warm)
    print(f"consistency distillation ({c.cd_steps} steps, grid N = {c.cd_grid}, EMA μ = {c.ema})", flush=True)
    cd_model, cd = consistency_distillation(FOUR_MODES, c, progress)
    print(f"  1-step consistency model {cd.one_step_error:.4f} (before {cd.one_step_error_before:.4f}); "
          f"1-step exact teacher {cd.teacher_one_step_error:.4f}  [{cd.seconds:.1f} s]")
    metrics = {"config": asdict(c), **summary(rounds, cd), **preset_fields(preset)}
    if pictures:
        t0 = time.perf_counter()
        _picture(os.path.join(out, "samples.png"), FOUR_MODES, students, cd_model, 2000, c.seed + 7, smoke)
        metrics["figures"] = _figures(out, rounds, cd, warm, smoke)
        metrics["figures_s"] = time.perf_counter() - t0
    with open(os.path.join(out, "metrics.json"), "w") as f:
        json.dump(metrics, f, indent=2)
    with open(os.path.join(out, "table.md"), "w") as f:
        f.write(_table(rounds, cd))
    print(f"wrote {out}/metrics.json, table.md" + (", " + ", ".join(metrics["figures"]) if pictures else ""))
    return metrics


def main(argv: list[str]) -> int:
    """`genspec train distill --out DIR [--part 2d|images|both] [--preset default|small|tiny] [--teacher T2I_DIR]`."""
    from genspec.accelerated.jobs import distill_images
    p = argparse.ArgumentParser(prog="genspec train distill",
                                description="Progressive and consistency distillation (1) of the exact flow of a 2-D "
                                            "mixture: DIR/metrics.json, table.md, samples.png; (2) of the toy "
                                            "text-to-image teacher: DIR/images/metrics.json, table.md, "
                                            "samples/<method>_<k>step.png (caption adherence and distances to the "
                                            "teacher at 1, 2, 4, 50 steps)")
    p.add_argument("--out", required=True, help="output directory (created)")
    p.add_argument("--part", default="both", choices=("2d", "images", "both"), help="which part to run (both)")
    p.add_argument("--preset", default="default", choices=sorted(PRESETS),
                   help="default (7.5 min of CPU on one core in all, the 2-D part ~0.5; measured), small, "
                        "tiny (a smoke run)")
    p.add_argument("--teacher", help="a finished `genspec train t2i` run directory to distil (default: train a small "
                                     "teacher into DIR/images/teacher)")
    p.add_argument("--seed", type=int, default=0)
    add_thread_arguments(p, quiet="no progress bars")
    a = p.parse_args(argv)
    apply_threads(a, "distill")
    if a.teacher and a.part == "2d":
        raise GenspecError("train distill: --teacher is the image part's teacher; it needs --part images or both")
    t0, cpu0 = time.perf_counter(), time.process_time()
    announce("distill", a.preset)
    if a.part in ("2d", "both"):
        run_2d(replace(PRESETS[a.preset], seed=a.seed), a.out, not a.quiet, a.preset)
    if a.part in ("images", "both"):
        out = os.path.join(a.out, "images")
        ci = replace(distill_images.PRESETS[a.preset], seed=a.seed)
        print(f"toy-image distillation (guided teacher, w = {ci.w:g}) into {out}", flush=True)
        m = distill_images.run(ci, out, a.teacher, not a.quiet, a.preset)
        print(open(os.path.join(out, "table.md")).read().split("\n\nProgressive")[0])
        print(f"wrote {out}/metrics.json, table.md, samples/ ({m['timings']['total_s']:.0f} s)")
    print(f"train distill: {time.perf_counter() - t0:.0f} s wall, {time.process_time() - cpu0:.0f} s CPU "
          f"({torch.get_num_threads()} torch thread(s))")
    if a.preset == "tiny":
        print(f"train distill: {preset_fields('tiny', 'distill' if a.part != '2d' else '')['note']}")
    return 0
