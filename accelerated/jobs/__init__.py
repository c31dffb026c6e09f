"""`genspec train <job> [args]`: the registry of training jobs a person can run and watch.

JOBS maps a job name to main(argv) → exit status; each job parses its own arguments (``genspec train <job> -h``).
A job module is imported only when its job runs, so `genspec` stays quick to start.

This folder holds the jobs (t2i.py, t2v.py, ar.py, distill.py with distill_images.py; each one's docstring says what
it trains and writes), their shared training utilities (train.py), progress bars (progress.py) and what a run states
about its preset (report.py). The networks are in accelerated/models/, the data made in code in accelerated/data/,
the pictures in accelerated/pictures/.
"""
from __future__ import annotations

import argparse
from collections.abc import Callable

from genspec.spec.errors import GenspecError


def _t2i(argv: list[str]) -> int:
    from genspec.accelerated.jobs.t2i import main
    return main(argv)


def _t2v(argv: list[str]) -> int:
    from genspec.accelerated.jobs.t2v import main
    return main(argv)


def _distill(argv: list[str]) -> int:
    from genspec.accelerated.jobs.distill import main
    return main(argv)


def _ar(argv: list[str]) -> int:
    from genspec.accelerated.jobs.ar import main
    return main(argv)


JOBS: dict[str, Callable[[list[str]], int]] = {
    "t2i": _t2i,          # text-to-image: KL autoencoder, then a DiT on frozen latents, CFG samples, adherence
    "t2v": _t2v,          # text-to-video: spatio-temporal autoencoder, video DiT with factorized attention, CFG
    "distill": _distill,  # few-step students (progressive, consistency) of the exact 2-D flow and the toy t2i teacher
    "ar": _ar,            # VQ-VAE tokens, a text- (or class-) conditional causal transformer, guided KV-cached sampling
}


def run(a: argparse.Namespace) -> int:
    """The `train` subcommand's handler: look the job up and hand it the rest of the command line."""
    if a.job not in JOBS:
        raise GenspecError(f"unknown training job {a.job!r}; jobs: {', '.join(sorted(JOBS))}")
    return int(JOBS[a.job](list(a.args)))


def add_parser(subparsers) -> argparse.ArgumentParser:
    """Register `train` on genspec's subparsers."""
    p = subparsers.add_parser("train", help="train a model stack (jobs: " + ", ".join(sorted(JOBS)) + ")",
                              description="genspec train <job> [job arguments]; `genspec train <job> -h` lists them")
    p.add_argument("job", help="one of: " + ", ".join(sorted(JOBS)))
    p.add_argument("args", nargs=argparse.REMAINDER, help="the job's own arguments")
    p.set_defaults(fn=run)
    return p
