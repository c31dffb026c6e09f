"""Target-independent checks (sympy proofs, reference vs derivation, the properties of clauses with nothing to bind)
computed in a forked worker process.

They never call the target, so they can run on a second core while the main process checks the target; the
suite puts them last and collects their results. Where ``fork`` is unavailable, on one core, or with
``GENSPEC_WORKERS=0``, they run in the main process as before.
"""
from __future__ import annotations

import multiprocessing
import os
import sys
from concurrent.futures import Future, ProcessPoolExecutor

from .registry import checks_for

Job = tuple[str, str, int]  # ("proof", clause, index), ("derivation", clause, 0) or ("property", clause, index)


def run_job(job: Job, profile: str, dtype: str = "float64") -> str | None:
    """Run one target-independent check; None if it holds, else its failure message."""
    from . import run
    kind, cid, idx = job
    try:
        if kind == "proof":
            run.check_proof(cid, checks_for(cid).proofs[idx])
        elif kind == "property":                      # a spec-only clause's property: it never calls the target
            from .context import Context
            ctx = Context(target=None, dtype=dtype)  # type: ignore[arg-type]
            run.check_property(ctx, cid, checks_for(cid).properties[idx], profile)
        else:
            run.check_reference_matches_derivation(cid, profile)
    except AssertionError as e:
        return str(e)
    except Exception as e:  # noqa: BLE001 - reported as this check's failure, like in the main process
        return f"{type(e).__name__}: {e}"
    return None


def workers() -> int:
    env = os.environ.get("GENSPEC_WORKERS")
    if env is not None:
        return max(0, int(env))
    if not sys.platform.startswith("linux") or "fork" not in multiprocessing.get_all_start_methods():
        return 0
    return min(1, (os.cpu_count() or 1) - 1)


class Background:
    """Submits every job at once to a forked pool; :meth:`result` waits for one (None if no pool)."""

    def __init__(self, jobs: list[Job], profile: str, dtype: str = "float64"):
        self.futures: dict[Job, Future] = {}
        self.pool: ProcessPoolExecutor | None = None
        n = workers()
        if not jobs or n == 0:
            return
        self.pool = ProcessPoolExecutor(max_workers=n, mp_context=multiprocessing.get_context("fork"))
        self.futures = {j: self.pool.submit(run_job, j, profile, dtype) for j in jobs}

    def result(self, job: Job) -> tuple[bool, str | None]:
        """(True, message or None) when the worker ran the job; (False, None) to run it here instead."""
        fut = self.futures.get(job)
        if fut is None:
            return False, None
        try:
            return True, fut.result()
        except Exception:  # noqa: BLE001 - a broken pool: run the check in this process
            return False, None

    def close(self) -> None:
        if self.pool is not None:
            self.pool.shutdown(wait=False, cancel_futures=True)
            self.pool = None
