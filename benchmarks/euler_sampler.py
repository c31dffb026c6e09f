"""Wall time of the Euler sampler (sampler.euler): accelerated (torch) vs reference (NumPy), 10^6 2-D points × 50 steps,
with a cheap analytic velocity and with the Gaussian-mixture oracle velocity (optimal.prediction). One run each.

    python benchmarks/euler_sampler.py [--n 1000000] [--steps 50] [--device cpu|cuda] [--threads K]
                                       [--skip-reference-oracle]
"""
from __future__ import annotations

import argparse
import functools
import platform
import time

import numpy as np
import torch

from accelerated import optimal as AO
from accelerated.sampler import euler_sample as euler_torch
from reference import optimal as RO
from reference.sampler import euler_sample as euler_numpy

# the bimodal 2-D mixture of the conformance checks
W, M, C = np.array([0.5, 0.5]), np.array([[-2.0, 0.0], [2.0, 0.0]]), np.stack([0.1 * np.eye(2)] * 2)
MU = np.array([1.0, -0.5])


def timed(fn):
    t0 = time.perf_counter()
    out = fn()
    if isinstance(out, torch.Tensor) and out.is_cuda:
        torch.cuda.synchronize()
    return out, time.perf_counter() - t0


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n", type=int, default=10**6)
    p.add_argument("--steps", type=int, default=50)
    p.add_argument("--device", default="cpu")
    p.add_argument("--threads", type=int, default=None, help="torch intra-op threads (default: torch's)")
    p.add_argument("--skip-reference-oracle", action="store_true")
    a = p.parse_args()
    if a.threads:
        torch.set_num_threads(a.threads)
    dev = torch.device(a.device)
    x1 = np.random.default_rng(0).standard_normal((a.n, 2))
    x1_t = torch.tensor(x1, device=dev)
    mu_t = torch.tensor(MU, device=dev)
    mix = AO.Mixture(W, M, C, device=dev, dtype=torch.float64)

    fields = {
        "analytic (x − μ)/t": (lambda x, t: (x - MU) / t[:, None], lambda x, t: (x - mu_t) / t[:, None]),
        "oracle f*(x, t)": (lambda x, t: RO.optimal_prediction(x, t, W, M, C),
                            lambda x, t: AO.optimal_prediction(x, t, mix)),
    }
    print(f"Euler sampler, n = {a.n:,} points × d = 2, T = {a.steps} steps, float64; torch {torch.__version__} on "
          f"{a.device} ({torch.get_num_threads()} threads), NumPy {np.__version__}, "
          f"{platform.processor() or platform.machine()}")
    for name, (f_np, f_t) in fields.items():
        with torch.no_grad():
            euler_torch(f_t, x1_t[:1000], 2)                                    # warm-up (kernels, allocator)
            out_t, sec_t = timed(functools.partial(euler_torch, f_t, x1_t, a.steps))
        if name.startswith("oracle") and a.skip_reference_oracle:
            print(f"  {name:<20} accelerated {sec_t:8.3f} s   reference skipped")
            continue
        out_np, sec_np = timed(functools.partial(euler_numpy, f_np, x1, a.steps))
        err = float(np.abs(out_t.cpu().numpy() - out_np).max())
        print(f"  {name:<20} accelerated {sec_t:8.3f} s   reference {sec_np:8.3f} s   speed-up "
              f"{sec_np / sec_t:6.1f}×   max |difference| {err:.1e}")


if __name__ == "__main__":
    main()
