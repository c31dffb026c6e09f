"""Wall time of the text-to-image job (`genspec train t2i`): the default preset on a GPU, the GPU table's last figure.

    python -m genspec.benchmarks --only t2i_job --device cuda

One row, no ratio: the job's total seconds and its phases (autoencoder, denoiser, sampling), written to a temporary
directory. On the CPU the default job takes too long for a benchmark run (the README's job table states its CPU
time): the row says so and runs nothing; tiny runs the tiny preset (the code path only).
"""
from __future__ import annotations

import tempfile


def run(tiny: bool = False, device: str = "cpu") -> list[dict]:
    from genspec.accelerated.jobs.t2i import PRESETS
    from genspec.accelerated.jobs.t2i import run as t2i_run
    case = f"t2i job, {'tiny' if tiny else 'default'} preset, {device}: wall time (s)"
    if device == "cpu" and not tiny:
        return [{"case": case, "ratio": None, "skipped": "the default t2i job is a GPU figure; on the CPU run "
                 "`genspec train t2i` (README: job table)", "detail": "skipped on the CPU"}]
    with tempfile.TemporaryDirectory() as out:
        m = t2i_run(PRESETS["tiny" if tiny else "default"], out, device, progress=False)
    t = m["timings"]
    return [{"case": case, "ratio": None, "seconds": round(t["total_s"], 1),
             "detail": f"total {t['total_s']:.1f} s: autoencoder {t['autoencoder_s']:.1f} s, denoiser "
                       f"{t['denoiser_s']:.1f} s, sampling {t['sampling_s']:.1f} s; adherence vs w "
                       + ", ".join(f"{w}: {v:.3f}" for w, v in m["adherence_vs_w"].items())}]
