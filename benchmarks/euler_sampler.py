"""The Euler sampler (sampler.euler) and the Gaussian-mixture oracle velocity (optimal.prediction): accelerated (torch)
against reference (NumPy, float64), 10⁶ 2-D points, interleaved repeats, minimum of each.

    python -m benchmarks --only euler_sampler [--tiny] [--threads K]
    python benchmarks/euler_sampler.py [--tiny]

Rows: the sampler with an analytic velocity (goal ≥ 3×), the sampler with the oracle velocity (goal ≥ 10×), one
oracle call (its achieved bandwidth against the machine's) and the oracle's peak memory at 10⁶ points (measured in a
fresh process: the growth of its maximum resident set during one call).
"""
from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import torch

from accelerated import optimal as AO
from accelerated.sampler import euler_sample as euler_torch
from benchmarks import _machine, fmt_s, interleaved, ratio_row
from reference import optimal as RO
from reference.sampler import euler_sample as euler_numpy

# the bimodal 2-D mixture of the conformance checks
W, M, C = np.array([0.5, 0.5]), np.array([[-2.0, 0.0], [2.0, 0.0]]), np.stack([0.1 * np.eye(2)] * 2)
MU = np.array([1.0, -0.5])
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _sizes(tiny: bool) -> dict:
    if tiny:
        return dict(n=2000, steps=4, oracle_steps=2, repeats=2, oracle_repeats=2, call_repeats=2)
    return dict(n=10**6, steps=50, oracle_steps=10, repeats=5, oracle_repeats=3, call_repeats=7)


def _fields(mix, mu_t):
    analytic = (lambda x, t: (x - MU) / t[:, None], lambda x, t: (x - mu_t) / t[:, None])
    oracle = (lambda x, t: RO.optimal_prediction(x, t, W, M, C), lambda x, t: AO.optimal_prediction(x, t, mix))
    return analytic, oracle


def _sampler_row(name, goal, f_np, f_t, x1, x1_t, steps, repeats):
    out = {}
    variants = {"reference": lambda: out.__setitem__("np", euler_numpy(f_np, x1, steps)),
                "accelerated": lambda: out.__setitem__("t", euler_torch(f_t, x1_t, steps))}
    with torch.no_grad():
        times = interleaved(variants, repeats, warmup=0)
    err = float(np.abs(out["t"].numpy() - out["np"]).max())
    n = x1.shape[0]
    return ratio_row(f"euler, {name}, n = {n:,}, T = {steps}: reference / accelerated", times, "reference",
                     "accelerated", goal, f"{fmt_s(min(times['accelerated']))} vs {fmt_s(min(times['reference']))}, "
                     f"max |difference| {err:.1e}", max_abs_diff=err)


def footprint(n: int, backend: str) -> dict:
    """Peak extra memory of one oracle call at n points (x, t and the mixture allocated beforehand), in a fresh
    process: the growth of ru_maxrss during the call."""
    code = ("import json, sys; from benchmarks.euler_sampler import _footprint_child; "
            f"print(json.dumps(_footprint_child({n}, {backend!r})))")
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=600)
    if res.returncode != 0:
        raise RuntimeError(f"footprint child failed: {res.stderr.strip().splitlines()[-1:]}")
    return json.loads(res.stdout.strip().splitlines()[-1])


def _footprint_child(n: int, backend: str) -> dict:
    import resource
    torch.set_num_threads(1)
    x = np.random.default_rng(0).standard_normal((n, 2))
    if backend == "accelerated":
        x = torch.tensor(x)
        t = torch.full((1,), 0.5, dtype=torch.float64).expand(n)          # as the sampler passes t
        mix = AO.Mixture(W, M, C)
        call = lambda: AO.optimal_prediction(x, t, mix)
    else:
        t = np.full(n, 0.5)
        call = lambda: RO.optimal_prediction(x, t, W, M, C)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss              # KiB on Linux
    out = call()
    after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {"peak_extra_MiB": (after - before) / 1024, "inputs_outputs_MiB": 3 * 16 * n / 2**20 if
            backend == "reference" else 2 * 16 * n / 2**20, "out_shape": list(out.shape)}


def run(tiny: bool = False) -> list[dict]:
    s = _sizes(tiny)
    n = s["n"]
    x1 = np.random.default_rng(0).standard_normal((n, 2))
    x1_t = torch.tensor(x1)
    mix = AO.Mixture(W, M, C, dtype=torch.float64)
    (a_np, a_t), (o_np, o_t) = _fields(mix, torch.tensor(MU))
    rows = [_sampler_row("analytic velocity (x − μ)/t", "≥ 3", a_np, a_t, x1, x1_t, s["steps"], s["repeats"]),
            _sampler_row("oracle velocity f*(x, t)", "≥ 10", o_np, o_t, x1, x1_t, s["oracle_steps"],
                         s["oracle_repeats"])]

    # one oracle call, as the sampler makes it (t one value broadcast to n): time and achieved bandwidth
    t_np, t_t = np.full(n, 0.5), torch.full((1,), 0.5, dtype=torch.float64).expand(n)
    with torch.no_grad():
        times = interleaved({"reference": lambda: o_np(x1, t_np), "accelerated": lambda: o_t(x1_t, t_t)},
                            s["call_repeats"])
    best = min(times["accelerated"])
    moved = (16 + 16) * n                       # compulsory traffic: read x_t (n × 2 float64), write the prediction
    achieved = moved / best / 1e9
    machine = _machine.bandwidth(tiny)["copy_GBps"]
    rows.append(ratio_row(f"oracle optimal.prediction, one call, n = {n:,}: reference / accelerated", times,
                          "reference", "accelerated", "≥ 10",
                          f"{fmt_s(best)} vs {fmt_s(min(times['reference']))}; accelerated moves ≥ {moved / 1e6:.0f} MB"
                          f" (x_t in, prediction out): {achieved:.2f} GB/s = {achieved / machine:.1%} of the machine's"
                          f" copy bandwidth {machine:.1f} GB/s, {best / n * 1e9:.1f} ns per point",
                          achieved_GBps=achieved, machine_copy_GBps=machine))

    fp_n = 10**6 if not tiny else 1000
    acc = footprint(fp_n, "accelerated") if not tiny else _footprint_child(fp_n, "accelerated")   # tiny: the path only
    ref = footprint(fp_n, "reference") if not tiny else None
    detail = (f"accelerated {acc['peak_extra_MiB']:.0f} MiB (its output alone {16 * fp_n / 2**20:.0f} MiB)"
              + (f", reference {ref['peak_extra_MiB']:.0f} MiB" if ref else ", reference skipped (tiny)"))
    rows.append({"case": f"oracle peak extra memory of one call, n = {fp_n:,}: reference / accelerated",
                 "ratio": (ref["peak_extra_MiB"] / max(acc["peak_extra_MiB"], 1e-9)) if ref else None,
                 "goal": None, "detail": detail, "accelerated_MiB": acc["peak_extra_MiB"],
                 "reference_MiB": ref["peak_extra_MiB"] if ref else None})
    return rows


if __name__ == "__main__":
    from benchmarks.runner import main
    sys.exit(main(["--only", "euler_sampler", *sys.argv[1:]]))
