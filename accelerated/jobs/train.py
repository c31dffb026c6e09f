"""Training utilities of the image stack: seeding, AdamW, EMA of weights, bf16 autocast on CUDA, optional
torch.compile, checkpoint save / resume, and the options every job shares. Progress bars: accelerated.jobs.progress."""
from __future__ import annotations

import contextlib
import copy
import dataclasses
import math
import os
from collections.abc import Callable

import torch
import torch.nn as nn

from genspec.spec.cfg import W_MAX
from genspec.spec.errors import GenspecError


def seed_everything(seed: int) -> torch.Generator:
    """Seed torch's global generator and return a CPU generator for the run's own draws. On CPU, with the same
    thread count, two runs with one seed give bit-identical weights (tested)."""
    torch.manual_seed(seed)
    return torch.Generator().manual_seed(seed)


def adamw(params, lr: float, weight_decay: float = 0.0, betas=(0.9, 0.999)) -> torch.optim.AdamW:
    """AdamW (DiT: lr 1e-4, no weight decay), torch's fused kernel on CUDA and CPU (one pass over each parameter,
    its gradient and both moments; torch's CPU default runs five elementwise kernels per tensor); the default
    implementation on other devices."""
    params = [p for p in params if p.requires_grad]
    fused = bool(params) and params[0].device.type in ("cuda", "cpu")
    return torch.optim.AdamW(params, lr=lr, weight_decay=weight_decay, betas=betas, fused=fused or None)


def autocast(device: torch.device | str):
    """bfloat16 autocast on CUDA (matmuls and SDPA in bf16, reductions in float32); a no-op on CPU."""
    if torch.device(device).type == "cuda":
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext()


def maybe_compile(model: nn.Module, enabled: bool) -> Callable:
    """torch.compile(model) when enabled (the returned module shares the parameters)."""
    return torch.compile(model) if enabled else model


class EMA:
    """θ_ema ← d θ_ema + (1 − d) θ after each step (DiT: d = 0.9999); `model` is the averaged copy to sample from."""

    def __init__(self, model: nn.Module, decay: float = 0.999):
        self.decay = decay
        self.model = copy.deepcopy(model).eval().requires_grad_(False)

    @torch.no_grad()
    def update(self, model: nn.Module) -> None:
        for e, p in zip(self.model.parameters(), model.parameters(), strict=True):
            e.lerp_(p.detach(), 1.0 - self.decay)
        for eb, b in zip(self.model.buffers(), model.buffers(), strict=True):
            eb.copy_(b)

    def state_dict(self) -> dict:
        return self.model.state_dict()

    def load_state_dict(self, state: dict) -> None:
        self.model.load_state_dict(state)


def save_checkpoint(path: str, **state) -> None:
    """torch.save of a dict of state_dicts and plain values, written to path.tmp and renamed (never half a file)."""
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    tmp = path + ".tmp"
    torch.save({k: (v.state_dict() if hasattr(v, "state_dict") else v) for k, v in state.items()}, tmp)
    os.replace(tmp, path)


def load_checkpoint(path: str, map_location="cpu", **modules) -> dict:
    """Load path; every keyword module/optimizer/EMA gets its state_dict; returns the whole dict."""
    state = torch.load(path, map_location=map_location, weights_only=False)
    for k, m in modules.items():
        m.load_state_dict(state[k])
    return state


def add_job_arguments(p, presets: dict) -> None:
    """The options every `genspec train` job of the image and video stacks shares (a preset, its overrides, threads)."""
    p.add_argument("--preset", default="default", choices=sorted(presets))
    p.add_argument("--steps", type=int, help="denoiser steps (overrides the preset)")
    p.add_argument("--ae-steps", type=int, help="autoencoder steps (overrides the preset)")
    p.add_argument("--seed", type=int)
    p.add_argument("--guidance", help="comma-separated guidance weights w, e.g. 0,1,2,4")
    add_thread_arguments(p)


def add_thread_arguments(p, quiet: str = "no progress lines") -> None:
    """--threads and --quiet, which every `genspec train` job takes."""
    p.add_argument("--threads", type=int, default=int(os.environ.get("GENSPEC_TORCH_THREADS", "1")),
                   help="torch CPU threads (default 1, or $GENSPEC_TORCH_THREADS: small models, where on a loaded "
                        "2-core machine 2 threads measured 12× slower)")
    p.add_argument("--quiet", action="store_true", help=quiet)


def apply_threads(a, job: str) -> None:
    """torch's thread count from --threads; fewer than one is a GenspecError naming the job."""
    if a.threads < 1:
        raise GenspecError(f"train {job}: --threads must be ≥ 1; got {a.threads}")
    torch.set_num_threads(a.threads)


def job_config(a, presets: dict, job: str):
    """The preset named by the parsed arguments with their overrides applied; sets torch's thread count. Bad values
    (threads < 1, guidance weights outside cfg.combine's domain) raise GenspecError naming the job."""
    apply_threads(a, job)
    replace, c = dataclasses.replace, presets[a.preset]
    try:
        if a.steps is not None:
            c = replace(c, steps=a.steps)
        if a.ae_steps is not None:
            c = replace(c, ae_train=replace(c.ae_train, steps=a.ae_steps, adv_start=min(c.ae_train.adv_start,
                                                                                      a.ae_steps * 2 // 3)))
        if a.seed is not None:
            c = replace(c, seed=a.seed)
        if a.guidance:
            c = replace(c, guidance=guidance_weights(a.guidance))
    except ValueError as e:
        raise GenspecError(f"train {job}: bad argument: {e}") from None
    return c


def guidance_weights(text: str) -> tuple[float, ...]:
    """--guidance "0,1,2,4" as weights w, each finite with |w| ≤ W_MAX (cfg.combine's domain), else ValueError."""
    ws = tuple(float(w) for w in text.split(","))
    if not all(math.isfinite(w) and abs(w) <= W_MAX for w in ws):
        raise ValueError(f"guidance weights must be finite with |w| ≤ {W_MAX:g} (cfg.combine's domain)")
    return ws
