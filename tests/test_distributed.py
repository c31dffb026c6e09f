"""Training under torchrun on CPU (gloo): two processes at batch B/2 each take the steps one process takes at batch B,
and a two-process run stopped after a checkpoint resumes to the uninterrupted run's parameters. The text-to-image
denoiser (accelerated.jobs.t2i.train_denoiser, accelerated.distributed) at a tiny size."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import torch
from torchrun_launch import ROOT, free_port, launch

from genspec.accelerated.distributed import ONE, World, training_state_bytes
from genspec.accelerated.models.dit import DIT_CONFIGS, count_parameters

JOB = '''
import json, sys, torch
from dataclasses import replace
from genspec.accelerated import distributed as D
from genspec.accelerated.data.shapes import CAPTIONS
from genspec.accelerated.jobs.t2i import Denoiser, T2IConfig, train_denoiser
from genspec.accelerated.jobs.train import EMA, adamw, load_checkpoint
from genspec.accelerated.models.dit import DiTConfig
from genspec.accelerated.models.text import TextConfig

w = D.world("cpu")
torch.set_num_threads(1)
c0 = T2IConfig(text=TextConfig(width=16, depth=1, heads=2, max_len=8), batch=8, steps=0, lr=1e-3, ema=0.9,
               dit=DiTConfig(input_size=4, in_channels=4, patch=1, width=32, depth=2, heads=2, learn_sigma=False,
                             cond="cross", text_width=16), checkpoint_every=2)
for steps, out, resume in json.loads(sys.argv[1]):     # each run from the same seeds
    c = replace(c0, steps=steps)
    torch.manual_seed(0)
    latents = torch.randn(32, 4, 4, 4, generator=torch.Generator().manual_seed(1))
    captions = [CAPTIONS[i % len(CAPTIONS)] for i in range(32)]
    model = Denoiser(c)
    ema, opt = EMA(model, c.ema), adamw(model.parameters(), c.lr)
    gen, log, start = torch.Generator().manual_seed(2), [], 0
    if resume:
        st = load_checkpoint(out + "/denoiser.pt", model=model, ema=ema, opt=opt)
        start, log = st["step"], st["losses"]
        gen.set_state(st["rng"])
    train_denoiser(model, latents, captions, c, "cpu", gen, log, ema, opt, start, out + "/denoiser.pt",
                   progress=False, w=w)
    if w.is_main:
        torch.save({"params": {k: v.detach().clone() for k, v in model.state_dict().items()}, "losses": log,
                    "world": w.size}, out + "/final.pt")
D.finish(w)
'''


FSDP_JOB = '''
import json, sys, torch
from genspec.accelerated import distributed as D
from genspec.accelerated.models.dit import DiT, DiTConfig
torch.set_num_threads(1)
w = D.world("cpu")
torch.manual_seed(0)
m = DiT(DiTConfig(input_size=8, patch=2, width=32, depth=2, heads=2, num_classes=10, learn_sigma=False))
total = sum(p.numel() for p in m.parameters())
D.shard_dit(m)
local = sum(p.to_local().numel() for p in m.parameters())
opt = torch.optim.AdamW(m.parameters(), lr=1e-3)
g = torch.Generator().manual_seed(1)
x, t, y = torch.randn(4, 4, 8, 8, generator=g), torch.rand(4, generator=g), torch.randint(10, (4,), generator=g)
rows = w.shard(4)
(m(x[rows], t[rows], y[rows]) - x[rows]).square().mean().backward()
opt.step()
open(sys.argv[1] + f"/rank{w.rank}", "w").write(f"{total} {local}")
D.finish(w)
'''


def _runs(tmp: Path, runs: list[tuple[int, str, bool]], procs: int) -> list[dict]:
    return [torch.load(out / "final.pt") for out in launch(tmp, JOB, runs, procs)]


def _max_abs(a: dict, b: dict) -> float:
    return max(float((a[k] - b[k]).abs().max()) for k in b)


def test_two_processes_at_half_batch_take_one_process_steps_and_resume(tmp_path):
    [one] = _runs(tmp_path, [(4, "one", False)], 1)                          # in this process
    # two processes: a run stopped after its checkpoint at step 2, then the uninterrupted run (the same seeds)
    _, two = _runs(tmp_path, [(2, "resumed", False), (4, "two", False)], 2)
    assert two["world"] == 2 and one["world"] == 1
    # float32: the two ranks' gradients are averaged by an all-reduce instead of one sum over the batch, so entries
    # may differ by rounding. Measured after 4 AdamW steps at lr 1e-3: max |Δθ| = 1.5e-8 (one float32 ulp of the
    # largest weights, ~0.18), the logged losses equal; bound: 1e-7 (a few ulps; AdamW's step is ~lr = 1e-3)
    assert _max_abs(two["params"], one["params"]) <= 1e-7
    assert max(abs(a - b) / abs(b) for a, b in zip(two["losses"], one["losses"], strict=True)) < 1e-6
    # the stopped run resumed by two new processes: the uninterrupted run's result
    [resumed] = _runs(tmp_path, [(4, "resumed", True)], 2)
    assert resumed["losses"] == two["losses"]
    assert all(torch.equal(resumed["params"][k], two["params"][k]) for k in two["params"])


def test_shards_cover_the_batch_once():
    rows = [World(r, 4).shard(8) for r in range(4)]
    assert sorted(i for s in rows for i in range(8)[s]) == list(range(8))
    assert ONE.shard(8) == slice(0, 8) and ONE.is_main


def test_fsdp_shards_the_dit_over_two_gloo_processes(tmp_path):
    """shard_dit (FSDP2 fully_shard) on CPU: each of two ranks holds about half the parameters, and a step runs."""
    (tmp_path / "fsdp.py").write_text(FSDP_JOB)
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    p = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_addr",
                        "127.0.0.1", "--master_port", str(free_port()), str(tmp_path / "fsdp.py"), str(tmp_path)],
                       capture_output=True, text=True, env=env, timeout=600)
    assert p.returncode == 0, p.stderr[-4000:]
    counts = [tuple(map(int, (tmp_path / f"rank{r}").read_text().split())) for r in range(2)]
    total = counts[0][0]
    assert sum(local for _, local in counts) == total                  # every parameter on exactly one rank
    assert all(local <= total // 2 + 64 for _, local in counts)        # dim-0 shards: half, up to rounding of rows


def test_fsdp_training_state_per_rank_by_counting():
    """DiT-XL/2's AdamW training state (fp32 parameters, gradients, two moments): 10.8 GB on every rank under DDP;
    under FSDP over 8 ranks one eighth of it per rank (counted on the meta device)."""
    p = count_parameters(DIT_CONFIGS["DiT-XL/2"])
    ddp, fsdp = training_state_bytes(p, 8, sharded=False), training_state_bytes(p, 8, sharded=True)
    assert ddp == 16 * p and abs(ddp / 1e9 - 10.8) < 0.05
    assert fsdp == -(-ddp // 8)
