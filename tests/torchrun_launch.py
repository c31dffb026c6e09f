"""Launching a test's job script on one process or under torchrun (gloo, CPU), shared by the distributed tests."""
from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def launch(tmp: Path, job: str, out: str, steps: int, procs: int, resume: bool = False) -> Path:
    """Write ``job`` to tmp/job.py and run it as ``job.py STEPS OUT fresh|resume``, under torchrun when procs > 1;
    fails the test with the job's output if it exits non-zero. Returns tmp/out (created)."""
    (tmp / "job.py").write_text(job)
    os.makedirs(tmp / out, exist_ok=True)
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    args = [str(tmp / "job.py"), str(steps), str(tmp / out), "resume" if resume else "fresh"]
    if procs > 1:
        cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", str(procs), "--master_addr",
               "127.0.0.1", "--master_port", str(free_port()), *args]
    else:
        cmd = [sys.executable, *args]
    p = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=600)
    assert p.returncode == 0, p.stdout[-2000:] + p.stderr[-4000:]
    return tmp / out
