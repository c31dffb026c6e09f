"""What every job states about its run: the preset, whether it is a smoke test (and why its pictures look as they do),
and whether pictures are drawn."""
from __future__ import annotations

from genspec.accelerated.pictures.grids import VIZ_HINT, available

SMOKE = "the tiny preset is a smoke test: every stage runs for a few steps, and its pictures and metrics mean nothing"

# Why a tiny run's pictures look as they do (measured on the tiny runs; tests/test_models_guidance_effect.py shows that
# guidance and the step count do change the samples of a network that is not this trivial).
WHY = {
    "t2i": "the sampler uses the EMA weights (decay 0.995) of a DiT whose output layer starts at zero, which after 8 "
           "steps give a velocity ~1e-4 of the noise: every guidance weight and step count decodes the noise alone",
    "t2v": "the sampler uses the EMA weights (decay 0.995) of a video DiT whose output layer starts at zero, which "
           "after 4 steps give a velocity near 0: every guidance weight decodes the noise alone",
    "distill": "the teacher is a tiny t2i run whose EMA velocity is ~1e-4 of the noise, so the teacher at 1, 2, 4 and "
               "50 steps gives the same images (paired RMS 0.0000) and the students copy that",
    "ar": "after 150 steps the transformer puts p > 0.8 on the background token at most positions, so the plausible "
          "set of ar.plausibility (α = 0.1) is that one token and every w draws the same tokens (the α = 0 "
          "'_unrestricted' grids differ)",
}


def preset_fields(preset: str, job: str = "") -> dict:
    """metrics.json's record of the preset: its name, smoke_test (true for tiny) and, for tiny, why."""
    out: dict = {"preset": preset, "smoke_test": preset == "tiny"}
    if preset == "tiny":
        out["note"] = SMOKE + (f"; {WHY[job]}" if job in WHY else "")
    return out


def announce(job: str, preset: str, log=print) -> bool:
    """Say, before a run, that a tiny run is a smoke test, and that pictures are skipped without the [viz] extra;
    returns whether pictures will be drawn."""
    if preset == "tiny":
        log(f"train {job}: {SMOKE}")
    if not available():
        log(f"train {job}: {VIZ_HINT}; writing metrics only")
        return False
    return True
