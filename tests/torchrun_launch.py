"""Launching a test's job script on one process or under torchrun (gloo, CPU), shared by the distributed tests."""
from __future__ import annotations

import json
import os
import runpy
import socket
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def launch(tmp: Path, job: str, runs: list[tuple[int, str, bool]], procs: int) -> list[Path]:
    """Write ``job`` to tmp/job.py and run it as ``job.py RUNS``, RUNS a JSON list of (steps, out, resume) the job
    carries out in order: under torchrun when procs > 1 (fails the test with the job's output if it exits non-zero),
    else in this process (one interpreter start fewer; sys.argv is restored). Returns tmp/out of each run (created)."""
    (tmp / "job.py").write_text(job)
    outs = [tmp / out for _, out, _ in runs]
    for out in outs:
        os.makedirs(out, exist_ok=True)
    args = [str(tmp / "job.py"), json.dumps([(steps, str(tmp / out), resume) for steps, out, resume in runs])]
    if procs == 1:
        saved = sys.argv
        sys.argv = args
        try:
            runpy.run_path(args[0], run_name="__main__")
        finally:
            sys.argv = saved
        return outs
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", str(procs), "--master_addr",
           "127.0.0.1", "--master_port", str(free_port()), *args]
    p = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=600)
    assert p.returncode == 0, p.stdout[-2000:] + p.stderr[-4000:]
    return outs
