"""Progress of the training jobs' stages: one tqdm bar per stage (elapsed, ETA, rate and the stage's losses) on a
terminal; on a pipe or a file (CI logs, `> log.txt`) plain lines instead of carriage-return redraws, one every
`GENSPEC_PROGRESS_EVERY` seconds (default 10) and one when the stage ends. `--quiet` gives `stage(..., enabled=False)`,
which does nothing.

Losses may be handed over as tensors: they are read (`float`, a device synchronisation on a GPU) only when the line
is redrawn, not at every step.
"""
from __future__ import annotations

import os
import sys
import time
from typing import Any

from tqdm import tqdm


def _value(v: Any) -> float:
    return float(v.detach()) if hasattr(v, "detach") else float(v)


def _metrics(metrics: dict[str, Any]) -> str:
    return " ".join(f"{k}={_value(v):.4g}" for k, v in metrics.items())


def _rate(rate: float) -> str:
    return f"{rate:.1f} step/s" if rate >= 1 or rate == 0 else f"{1 / rate:.1f} s/step"


class Progress:
    """One stage's bar: `update(**losses)` after each step; closes itself at `total` (or call `close`).

    name: what the stage is, e.g. "t2i [2/3] denoiser"; start: the step a resumed stage starts from."""

    def __init__(self, name: str, total: int, start: int = 0, stream=None, every: float | None = None):
        self.name, self.total, self.step, self.start = name, total, start, start
        self.stream = stream or sys.stderr
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self.every = float(os.environ.get("GENSPEC_PROGRESS_EVERY", "10")) if every is None else every
        self.t0 = self.last = time.perf_counter()
        self.metrics: dict[str, Any] = {}
        self.closed = False
        self.bar = (tqdm(total=total, initial=start, desc=name, file=self.stream, unit="step", dynamic_ncols=True,
                         mininterval=0.25, leave=True) if self.tty else None)

    def update(self, n: int = 1, **metrics) -> None:
        self.step += n
        self.metrics.update(metrics)
        now = time.perf_counter()
        if self.bar is not None:
            if now - self.last >= 0.25 or self.step >= self.total:
                self.last = now
                self.bar.set_postfix_str(_metrics(self.metrics), refresh=False)
            self.bar.update(n)
        elif now - self.last >= self.every and self.step < self.total:
            self.last = now
            self._line()
        if self.step >= self.total:
            self.close()

    def _line(self) -> None:
        elapsed = time.perf_counter() - self.t0
        done = self.step - self.start
        rate = done / elapsed if elapsed > 0 else 0.0
        eta = (self.total - self.step) / rate if rate > 0 else 0.0
        pct = 100.0 * self.step / max(self.total, 1)
        self.stream.write(f"{self.name}: {self.step}/{self.total} ({pct:.0f}%) elapsed {tqdm.format_interval(elapsed)}"
                          f" eta {tqdm.format_interval(eta)} {_rate(rate)} {_metrics(self.metrics)}".rstrip()
                          + "\n")
        self.stream.flush()

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        if self.bar is not None:
            self.bar.set_postfix_str(_metrics(self.metrics), refresh=False)
            self.bar.close()
        else:
            self._line()


class _Silent:
    """The quiet stage: every call does nothing."""

    def update(self, n: int = 1, **metrics) -> None:
        pass

    def close(self) -> None:
        pass


def stage(name: str, total: int, enabled: bool = True, start: int = 0) -> Progress | _Silent:
    """A Progress for a stage of `total` steps, or, when not enabled (--quiet), one that does nothing."""
    return Progress(name, total, start) if enabled else _Silent()
