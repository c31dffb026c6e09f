"""The run context: dtype and device, conversion to a target's backend, guarded calls, comparisons."""
from __future__ import annotations

import signal
import threading
from dataclasses import dataclass, field

import numpy as np

import spec

from .checks import Dual
from .target import Target


class TargetRaised(AssertionError):
    """The target raised (the clause fails, the suite goes on)."""


class TargetHung(AssertionError):
    """The target ran past the time limit on one call."""


class Mismatch(AssertionError):
    def __init__(self, msg, ratio):
        super().__init__(msg)
        self.ratio = ratio


@dataclass
class ClauseRecord:
    """What the run learned about one clause: the largest error against its tolerance."""

    max_ratio: float = 0.0
    max_abs: float = 0.0
    tol: str = ""
    examples: int = 0
    evaluations: int = 0


@dataclass
class Context:
    target: Target
    dtype: str = "float64"
    device: str = "cpu"
    timeout: float = 20.0
    shrink: bool = True
    records: dict[str, ClauseRecord] = field(default_factory=dict)
    hung: set = field(default_factory=set)
    target_spec: str | None = None   # how the target was named (plugin, api); run.py falls back to its name

    # ---- conversion -------------------------------------------------------------------------
    def _torch_dtype(self):
        import torch
        return {"float64": torch.float64, "float32": torch.float32, "bfloat16": torch.bfloat16}[self.dtype]

    def round(self, inputs: dict) -> dict:
        """Round float arrays to the run's dtype and back: the reference sees exactly what the target sees."""
        if self.dtype == "float64":
            return dict(inputs)
        return {k: self._round(v) for k, v in inputs.items()}

    def _round(self, v):
        if isinstance(v, np.ndarray) and v.dtype.kind == "f":
            if self.dtype == "float32":
                return v.astype(np.float32).astype(np.float64)
            import torch
            return torch.from_numpy(v).to(torch.bfloat16).to(torch.float64).numpy()
        if isinstance(v, (list, tuple)):
            return type(v)(self._round(x) for x in v)
        return v

    def to_target(self, v):
        if isinstance(v, Dual):
            return v.torch if self.target.backend == "torch" else v.numpy
        if isinstance(v, (list, tuple)):
            return type(v)(self.to_target(x) for x in v)
        if not isinstance(v, np.ndarray):
            return v
        if self.target.backend == "numpy":
            if self.dtype == "bfloat16":
                raise TargetRaised("a NumPy target cannot be run in bfloat16")
            return v.astype(self.dtype) if v.dtype.kind == "f" else v.copy()
        import torch
        t = torch.from_numpy(v if v.flags.c_contiguous else v.copy())  # keeps 0-d arrays 0-d
        if v.dtype.kind == "f":
            t = t.to(self._torch_dtype())
        return t.to(self.device)

    @staticmethod
    def to_numpy(v):
        if isinstance(v, (list, tuple)):
            return type(v)(Context.to_numpy(x) for x in v)
        if isinstance(v, dict):
            return {k: Context.to_numpy(x) for k, x in v.items()}
        try:
            import torch
            if isinstance(v, torch.Tensor):
                v = v.detach().cpu()
                return (v.double() if v.is_floating_point() else v).numpy()
        except ImportError:
            pass
        if isinstance(v, (np.ndarray, np.generic, float, int)):
            a = np.asarray(v)
            return a.astype(np.float64) if a.dtype.kind in "fiub" and a.dtype.kind == "f" else a
        return v

    # ---- guarded calls ----------------------------------------------------------------------
    def call(self, clause_id: str, fn, inputs: dict):
        """Call a target function on NumPy inputs; returns NumPy float64 outputs."""
        args = {k: self.to_target(v) for k, v in inputs.items()}
        rec = self.records.setdefault(clause_id, ClauseRecord())
        rec.evaluations += 1
        try:
            if clause_id in self.hung:  # once hung, never wait again: every later call fails at once, the same way
                raise _Timeout()
            out = _with_timeout(lambda: fn(**args), self.timeout)
        except _Timeout:
            self.hung.add(clause_id)
            raise TargetHung(f"{clause_id}: target ran past {self.timeout:g}s (--timeout) on one call") from None
        except AssertionError:
            raise
        except Exception as e:  # noqa: BLE001 - any exception of the target fails its clause only
            raise TargetRaised(f"{clause_id}: target raised {type(e).__name__}: {e}") from e
        return self.to_numpy(out)

    def wrap(self, clause_id: str, fn):
        """The target's function as NumPy float64 -> NumPy float64, for property checks."""
        return lambda **inputs: self.call(clause_id, fn, inputs)

    # ---- comparison -------------------------------------------------------------------------
    def tolerance(self, clause_id: str):
        return spec.get(clause_id).tolerance.for_dtype(self.dtype)

    def assert_close(self, clause_id: str, got, expected, what: str = "output", tol=None):
        """Elementwise |got - expected| <= atol + rtol |expected|, recording the worst ratio."""
        own = tol is None  # the clause's own tolerance: errors are in the clause's units and go in the report
        tol = tol or self.tolerance(clause_id)
        rec = self.records.setdefault(clause_id, ClauseRecord())
        if own or not rec.tol:
            rec.tol = f"rtol={tol.rtol:.0e} atol={tol.atol:.0e}"
        ratio, abs_err = _compare(got, expected, tol, what)
        rec.max_ratio = max(rec.max_ratio, ratio)
        if own:
            rec.max_abs = max(rec.max_abs, abs_err)
        if ratio > 1.0:
            raise Mismatch(
                f"{clause_id}: {what} differs from the reference: max |error| = {abs_err:.3e}, "
                f"{ratio:.3g}× the tolerance ({rec.tol}, {self.dtype})", ratio)
        return ratio

    def require(self, clause_id: str, cond: bool, message: str):
        if not cond:
            raise AssertionError(f"{clause_id}: {message}")


def _compare(got, expected, tol, what):
    if isinstance(expected, dict):
        if not isinstance(got, dict) or set(got) != set(expected):
            raise Mismatch(f"{what}: expected a dict with keys {sorted(expected)}, got {type(got).__name__}", np.inf)
        res = [_compare(got[k], expected[k], tol, f"{what}[{k!r}]") for k in expected]
        return max(r[0] for r in res), max(r[1] for r in res)
    if isinstance(expected, (tuple, list)):
        if not isinstance(got, (tuple, list)) or len(got) != len(expected):
            raise Mismatch(f"{what}: expected a tuple of {len(expected)}, got {type(got).__name__}", np.inf)
        res = [_compare(g, e, tol, f"{what}[{i}]") for i, (g, e) in enumerate(zip(got, expected, strict=True))]
        return (max(r[0] for r in res), max(r[1] for r in res)) if res else (0.0, 0.0)
    e = np.asarray(expected, dtype=np.float64)
    try:
        g = np.asarray(got, dtype=np.float64)
    except (TypeError, ValueError):
        raise Mismatch(f"{what}: expected an array, got {type(got).__name__}", np.inf) from None
    if g.shape != e.shape:
        raise Mismatch(f"{what}: shape {g.shape}, expected {e.shape}", np.inf)
    if g.size == 0:
        return 0.0, 0.0
    same_inf = (np.isinf(e) & (g == e)) | (np.isnan(e) & np.isnan(g))
    with np.errstate(invalid="ignore", over="ignore"):
        diff = np.where(same_inf, 0.0, np.abs(g - e))
    bound = tol.atol + tol.rtol * np.where(np.isfinite(e), np.abs(e), 0.0)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        ratio = np.where(diff == 0, 0.0, diff / np.where(bound > 0, bound, np.finfo(float).tiny))
    ratio = np.where(np.isnan(ratio), np.inf, ratio)
    return float(np.max(ratio)), float(np.nanmax(np.where(np.isnan(diff), np.inf, diff)))


class _Timeout(Exception):
    pass


def _with_timeout(fn, seconds: float):
    if seconds <= 0:
        return fn()
    if threading.current_thread() is threading.main_thread() and hasattr(signal, "setitimer"):
        def handler(signum, frame):
            raise _Timeout()
        old = signal.signal(signal.SIGALRM, handler)
        signal.setitimer(signal.ITIMER_REAL, seconds)
        try:
            return fn()
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, old)
    box: dict = {}

    def run():
        try:
            box["out"] = fn()
        except BaseException as e:  # noqa: BLE001
            box["err"] = e
    th = threading.Thread(target=run, daemon=True)
    th.start()
    th.join(seconds)
    if th.is_alive():
        raise _Timeout()
    if "err" in box:
        raise box["err"]
    return box["out"]
