"""The Euler sampler (sampler.euler) and the Gaussian-mixture oracle velocity (optimal.prediction): accelerated (torch)
against reference (NumPy, float64), 10⁶ 2-D points, interleaved repeats, minimum of each.

    python -m genspec.benchmarks --only euler_sampler [--tiny] [--threads K]
    python benchmarks/euler_sampler.py [--tiny]

Rows: the sampler alone (a velocity that returns a constant tensor: the update, t and the checks), the sampler with
an analytic velocity (goal ≥ 3×: each side's velocity writes into one preallocated buffer, so neither loop allocates
for f and the ratio is the samplers'), the same with the velocity written as one expression (two fresh 16 MB
temporaries a step, no goal: its time depends on whether glibc malloc hands the freed memory back to the kernel, and
then every step page-faults it in again), the sampler with the oracle velocity (goal ≥ 10×), one oracle call (its
achieved bandwidth against the machine's) and the oracle's peak memory at 10⁶ points (in a fresh process: peak
resident memory during one call above that before it).
"""
from __future__ import annotations

import sys

import numpy as np
import torch

from genspec.accelerated import optimal as AO
from genspec.accelerated.sampler import euler_sample as euler_torch
from genspec.benchmarks import _machine, fmt_s, in_child, interleaved, ratio_row
from genspec.reference import optimal as RO
from genspec.reference.sampler import euler_sample as euler_numpy

# the bimodal 2-D mixture of the conformance checks
W, M, C = np.array([0.5, 0.5]), np.array([[-2.0, 0.0], [2.0, 0.0]]), np.stack([0.1 * np.eye(2)] * 2)
MU = np.array([1.0, -0.5])
ANALYTIC_PASSES = 7   # a step of the analytic field: x − μ (read x, write) 2, / t (read, write v) 2, x += α v 3


def analytic_velocity(mu_t: torch.Tensor, like: torch.Tensor, period: int = 512):
    """v = (x − μ)/t, the reference's expression with the same two roundings (bit-identical), written for speed:
    into one buffer allocated here (no allocation per call; the buffer is returned and holds v until the next call,
    which is all euler_sample needs: it adds v into its state before calling f again), and x − μ taken over x
    flattened into rows of ``period`` values against μ tiled to that length (a broadcast along a last dimension of 2
    runs torch's elementwise loop two elements at a time: ≈ 4× slower here). x must be contiguous, of like's shape."""
    buf = torch.empty_like(like)
    d = mu_t.numel()
    K = period // d * d                                 # a whole number of points per row: the tiling stays aligned
    mu_rows = mu_t.repeat(K // d)

    def f(x, t):
        flat, out = x.view(-1), buf.view(-1)
        L = flat.numel() // K * K
        torch.sub(flat[:L].view(-1, K), mu_rows, out=out[:L].view(-1, K))
        torch.sub(flat[L:], mu_rows[:flat.numel() - L], out=out[L:])      # the last partial row
        return buf.div_(t[:, None])
    return f


def analytic_velocity_numpy(like: np.ndarray):
    """The same v = (x − μ)/t for the reference sampler, written the same way: into one buffer, no allocation per
    call (bit-identical to the one expression)."""
    buf = np.empty_like(like)

    def f(x, t):
        np.subtract(x, MU, out=buf)
        return np.divide(buf, t[:, None], out=buf)
    return f


def _sizes(tiny: bool) -> dict:
    if tiny:
        return dict(n=2000, steps=4, oracle_steps=2, repeats=2, oracle_repeats=2, call_repeats=2)
    return dict(n=10**6, steps=50, oracle_steps=10, repeats=5, oracle_repeats=3, call_repeats=7)


def _fields(mix, mu_t, x1_t):
    """(reference, accelerated) pairs: the analytic velocity (each into one buffer), the same written as one
    expression, the oracle."""
    analytic = (analytic_velocity_numpy(x1_t.cpu().numpy()), analytic_velocity(mu_t, x1_t))
    expression = (lambda x, t: (x - MU) / t[:, None], lambda x, t: (x - mu_t) / t[:, None])
    oracle = (lambda x, t: RO.optimal_prediction(x, t, W, M, C), mix.prediction)
    return analytic, expression, oracle


def _field(mix):
    """The oracle velocity as a sampler gets it: validated once (accelerated.optimal.prediction_field)."""
    return AO.prediction_field(mix)


def _sync(x):
    return torch.cuda.synchronize if x.is_cuda else None


def _sampler_row(name, goal, f_np, f_t, x1, x1_t, steps, repeats, passes=None, tiny=False):
    """``passes``: the accelerated step's compulsory traffic in units of one n × 2 float64 array (each elementwise op
    reads its inputs and writes its output once), for its achieved bandwidth against the machine's."""
    out = {}
    variants = {"reference": lambda: out.__setitem__("np", euler_numpy(f_np, x1, steps)),
                "accelerated": lambda: out.__setitem__("t", euler_torch(f_t, x1_t, steps))}
    with torch.no_grad():
        times = interleaved(variants, repeats, warmup=0, sync=_sync(x1_t))
    err = float(np.abs(out["t"].cpu().numpy() - out["np"]).max())
    n = x1.shape[0]
    detail = f"{fmt_s(min(times['accelerated']))} vs {fmt_s(min(times['reference']))}, max |difference| {err:.1e}"
    extra = {}
    if passes:
        step_bytes = passes * 16 * n
        per_step = min(times["accelerated"]) / steps
        machine = _machine.bandwidth(tiny)["copy_GBps"]
        extra = {"achieved_GBps": step_bytes / per_step / 1e9, "machine_copy_GBps": machine}
        detail += (f"; accelerated streams ≥ {step_bytes / 1e6:.0f} MB a step ({passes} arrays of n × 2 float64) = "
                   f"{extra['achieved_GBps']:.1f} GB/s, {extra['achieved_GBps'] / machine:.0%} of the machine's copy "
                   f"bandwidth {machine:.1f} GB/s"
                   + (" (above 100%: the step's arrays partly stay in the L3 cache)" if step_bytes / per_step / 1e9
                      > machine else ""))
    return ratio_row(f"euler, {name}, n = {n:,}, T = {steps}: reference / accelerated", times, "reference",
                     "accelerated", goal, detail, max_abs_diff=err, **extra)


def footprint(n: int, backend: str) -> dict:
    """Peak extra memory of one oracle call at n points (x, t and the mixture allocated beforehand), in a fresh
    process."""
    return in_child(f"genspec.benchmarks.euler_sampler._footprint_child({n}, {backend!r})")


def _status_kib(field: str) -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise RuntimeError(f"no {field} in /proc/self/status")


def _footprint_child(n: int, backend: str) -> dict:
    """Peak resident memory above the resident memory before the call (Linux: the peak VmHWM is reset through
    /proc/self/clear_refs right before the call)."""
    torch.set_num_threads(1)
    x = np.random.default_rng(0).standard_normal((n, 2))
    if backend == "accelerated":
        x_t = torch.tensor(x)
        t_t = torch.full((1,), 0.5, dtype=torch.float64).expand(n)        # as the sampler passes t
        mix = AO.Mixture(W, M, C)
        call = lambda: mix.prediction(x_t, t_t)
    else:
        t = np.full(n, 0.5)
        call = lambda: RO.optimal_prediction(x, t, W, M, C)
    call() if n <= 10**4 else None                                        # warm-up at tiny sizes only
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")                                                      # reset the peak resident set size
    before = _status_kib("VmRSS")
    out = call()
    peak = _status_kib("VmHWM")
    return {"peak_extra_MiB": (peak - before) / 1024, "out_shape": list(out.shape)}


def run(tiny: bool = False, device: str = "cpu") -> list[dict]:
    s = _sizes(tiny)
    n = s["n"]
    x1 = np.random.default_rng(0).standard_normal((n, 2))
    dev = torch.device(device)
    x1_t = torch.tensor(x1, device=dev)
    mix = AO.Mixture(W, M, C, dtype=torch.float64, device=dev)
    (a_np, a_t), (e_np, e_t), (o_np, o_t) = _fields(mix, torch.tensor(MU, device=dev), x1_t)
    v_np, v_t = 0.1 * x1, 0.1 * x1_t                  # a constant velocity: the sampler's own per-step cost alone
    rows = [_sampler_row("the sampler alone (f returns a constant tensor)", None, lambda x, t: v_np,
                         lambda x, t: v_t, x1, x1_t, s["steps"], s["repeats"], 3, tiny),
            _sampler_row("analytic velocity (x − μ)/t, each side into one preallocated buffer", "≥ 3", a_np, a_t,
                         x1, x1_t, s["steps"], s["repeats"], ANALYTIC_PASSES, tiny),
            _sampler_row("analytic velocity (x − μ)/t as one expression on both sides (two fresh temporaries a step)",
                         None, e_np, e_t, x1, x1_t, s["steps"], s["repeats"], ANALYTIC_PASSES, tiny),
            _sampler_row("oracle velocity f*(x, t) (prediction_field: validated once per sampler call)", "≥ 10",
                         o_np, _field(mix), x1, x1_t, s["oracle_steps"], s["oracle_repeats"])]

    # one oracle call, as the sampler makes it (t one value broadcast to n): time and achieved bandwidth
    t_np, t_t = np.full(n, 0.5), torch.full((1,), 0.5, dtype=torch.float64, device=dev).expand(n)
    with torch.no_grad():
        times = interleaved({"reference": lambda: o_np(x1, t_np), "accelerated": lambda: o_t(x1_t, t_t)},
                            s["call_repeats"], sync=_sync(x1_t))
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
    from genspec.benchmarks.runner import main
    sys.exit(main(["--only", "euler_sampler", *sys.argv[1:]]))
