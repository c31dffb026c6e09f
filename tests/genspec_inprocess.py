"""`genspec …` run in this process, for tests of the command line: its exit status, stdout and stderr as a
subprocess gives them, without an interpreter start (each costs ~5 s of CPU: torch, scipy and sympy imported again).
The environment, working directory, sys.path, modules loaded from that directory and hypothesis' storage directory
are restored afterwards. Tests of the installed command's own exit status start a real process instead."""
from __future__ import annotations

import contextlib
import io
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def genspec(args: list[str], env: dict | None = None, cwd=None) -> subprocess.CompletedProcess:
    from hypothesis.configuration import set_hypothesis_home_dir

    from genspec.conformance.harness import run
    from genspec.conformance.harness.cli import main
    out, err = io.StringIO(), io.StringIO()
    saved_env, saved_cwd, saved_path, saved_blob = dict(os.environ), os.getcwd(), list(sys.path), run.PRINT_BLOB
    before = set(sys.modules)
    here = os.path.abspath(cwd or saved_cwd)
    try:
        os.environ.update(env or {})
        os.chdir(here)
        sys.path.insert(0, here)                       # `python -m` puts the working directory first
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                code = main(list(args))
            except SystemExit as e:                    # argparse's errors
                code = e.code if isinstance(e.code, int) else 1
    finally:
        os.environ.clear()
        os.environ.update(saved_env)
        os.chdir(saved_cwd)
        sys.path[:] = saved_path
        run.PRINT_BLOB = saved_blob
        set_hypothesis_home_dir(run.hypothesis_home())
        for name in set(sys.modules) - before:         # a target module written into the test's directory
            if cwd is not None and not name.startswith("genspec") and \
                    (getattr(sys.modules[name], "__file__", None) or "").startswith(here + os.sep):
                del sys.modules[name]
    return subprocess.CompletedProcess(["genspec", *args], code, out.getvalue(), err.getvalue())


def genspec_serial_or_sharded(args: list[str], cwd=None) -> subprocess.CompletedProcess:
    """A command with ``-n N`` in a process of its own (its pytest-xdist controller spawns the workers, which import
    the target from the working directory); without, in this process."""
    if "-n" not in args:
        return genspec(args, cwd=cwd)
    return subprocess.run([sys.executable, "-m", "genspec.conformance", *args], cwd=cwd, capture_output=True,
                          text=True, timeout=600, env={**os.environ, "PYTHONPATH": str(ROOT)})
