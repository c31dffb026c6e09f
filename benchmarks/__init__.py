"""genspec's benchmarks: ratios of wall times measured in one run (interleaved A/B, minimum of repeats).

Protocol: every module ``benchmarks/<name>.py`` that defines ``run(tiny: bool) -> list[dict]`` is a benchmark; the
runner (``python -m genspec.benchmarks`` or ``genspec bench``) discovers it, calls it and prints one table.
``tiny=True`` means sizes small enough for a test (the whole suite at tiny sizes runs in seconds); the numbers are then
meaningless and only the code path is exercised. Each returned row is a dict with

    case    str      what was compared, e.g. "euler, analytic velocity: reference / accelerated"
    ratio   float    the ratio at the minimum of the repeats (the figure a goal is stated in)
    median  float    the same ratio at the median of the repeats (optional)
    cpu_ratio float  the same ratio at the minimum of the process's CPU times (optional; on a loaded machine it
                     leaves out the time spent waiting for a core)
    goal    str      the goal, e.g. "≥ 3" or "≤ 1.05" (optional; then ``met`` is computed by the runner)
    detail  str      anything else worth one line: absolute times, sizes, errors (optional)

and any further keys (kept in the JSON). Timings in a module use :func:`interleaved`: the variants run round by
round, so load from other processes hits them alike, and the minimum of each is reported.
"""
from __future__ import annotations

import math
import statistics
import time
from collections.abc import Callable


class Times(dict):
    """{variant: wall times in seconds}, with ``cpu``: {variant: CPU times of this process (user + system)}."""

    cpu: dict[str, list[float]]


def interleaved(variants: dict[str, Callable[[], object]], repeats: int, warmup: int = 1,
                sync: Callable[[], None] | None = None) -> Times:
    """Wall times (seconds) of each variant over ``repeats`` rounds, the variants interleaved within each round, after
    ``warmup`` untimed rounds; the process's CPU times alongside (``.cpu``: on a loaded machine they exclude the time
    spent waiting for a core). ``sync`` (e.g. torch.cuda.synchronize) is called before each clock read."""
    sync = sync or (lambda: None)
    for _ in range(warmup):
        for fn in variants.values():
            fn()
    sync()
    times = Times({name: [] for name in variants})
    times.cpu = {name: [] for name in variants}
    for _ in range(repeats):
        for name, fn in variants.items():
            c0, t0 = time.process_time(), time.perf_counter()
            fn()
            sync()
            times[name].append(time.perf_counter() - t0)
            times.cpu[name].append(time.process_time() - c0)
    return times


def ratio_row(case: str, times: dict[str, list[float]], num: str, den: str, goal: str | None = None,
              detail: str = "", **extra) -> dict:
    """A row comparing time(num) / time(den): at the minima (``ratio``), at the medians (``median``) and, when the
    times carry CPU times, at the minima of those (``cpu_ratio``)."""
    tn, td = times[num], times[den]
    row = {"case": case, "ratio": min(tn) / min(td), "median": statistics.median(tn) / statistics.median(td),
           "goal": goal, "detail": detail, "min_s": {num: min(tn), den: min(td)},
           "median_s": {num: statistics.median(tn), den: statistics.median(td)}, "repeats": len(tn)}
    cpu = getattr(times, "cpu", None)
    if cpu:
        row["cpu_ratio"] = min(cpu[num]) / max(min(cpu[den]), 1e-9)
    row.update(extra)
    return row


def goal_met(ratio: float | None, goal: str | None) -> bool | None:
    """'≥ 3' / '>= 3' / '≤ 1.05' / '<= 1.05' against ratio; None when either is missing or the goal has another form."""
    if ratio is None or goal is None or (isinstance(ratio, float) and math.isnan(ratio)):
        return None
    g = goal.replace(">=", "≥").replace("<=", "≤").strip()
    try:
        if g.startswith("≥"):
            return ratio >= float(g[1:].split()[0])
        if g.startswith("≤"):
            return ratio <= float(g[1:].split()[0])
    except ValueError:
        return None
    return None


def fmt_s(seconds: float) -> str:
    return f"{seconds * 1e3:.2f} ms" if seconds < 1 else f"{seconds:.2f} s"


NO_TRIM = {"MALLOC_MMAP_THRESHOLD_": str(1 << 30), "MALLOC_TRIM_THRESHOLD_": str(1 << 30)}
"""glibc malloc settings (read at process start) under which freed memory stays in the heap: no mmap per large block,
no trim of the heap top, so a repeated large allocation is not page-faulted in again on every call."""


def in_child(call: str, env: dict | None = None, timeout: float = 600):
    """Runs ``call`` (a Python expression on this package, e.g. "genspec.benchmarks.guided_step._one_pass(False)") in a
    fresh interpreter with ``env`` added to the environment and returns its value (JSON-serialisable)."""
    import json
    import os
    import subprocess
    import sys
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    mod = call.split("(")[0].rsplit(".", 1)[0]
    code = f"import json, {mod}; print(json.dumps({call}))"
    full = dict(os.environ, **(env or {}), PYTHONPATH=root + os.pathsep + os.environ.get("PYTHONPATH", ""))
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=full, timeout=timeout)
    if res.returncode != 0:
        raise RuntimeError(f"{call} failed in a child process: {res.stderr.strip().splitlines()[-1:]}")
    return json.loads(res.stdout.strip().splitlines()[-1])
