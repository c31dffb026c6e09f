"""The run context: dtype and device, conversion to a target's backend, guarded calls, comparisons."""
from __future__ import annotations

import math
import signal
import threading
from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np

from genspec import spec
from genspec.spec.errors import GenspecError

from .bind import Outside, apply_layout, batched_names, injected, per_call
from .declare import Dual
from .inputs import drawing_in
from .target import Target


def validate_options(target: Target, dtype: str, device: str, timeout: float) -> None:
    """Reject a run that cannot work, up front, with one line (a :class:`GenspecError`), before any check runs."""
    if dtype not in spec.schema.DTYPES:
        raise GenspecError(f"unknown dtype {dtype!r}; expected one of {', '.join(spec.schema.DTYPES)}")
    if not (isinstance(timeout, (int, float)) and math.isfinite(timeout) and timeout > 0):
        raise GenspecError(f"--timeout must be a finite number of seconds > 0; got {timeout!r}")
    if target.backend == "numpy":
        if dtype == "bfloat16":
            raise GenspecError(f"target {target.name!r} has the numpy backend, which has no bfloat16; "
                               f"use float64 or float32")
        if device != "cpu":
            raise GenspecError(f"target {target.name!r} has the numpy backend, which runs on the cpu only; "
                               f"got --device {device!r}")
        return
    import torch
    has = available_devices()
    try:
        dev = torch.device(device)
    except (RuntimeError, ValueError, TypeError):
        raise GenspecError(f"unknown device {device!r}; this build (torch {torch.__version__}) has "
                           f"{', '.join(has)}") from None
    if dev.type == "meta":
        raise GenspecError(f"--device meta holds no values to compare; this build (torch {torch.__version__}) has "
                           f"{', '.join(has)}")
    try:
        torch.zeros(1, device=dev)
    except Exception:  # noqa: BLE001 - not compiled with CUDA, no such ordinal, no MPS, ...
        raise GenspecError(f"device {device!r} is not usable with this build (torch {torch.__version__}), which has "
                           f"{', '.join(has)}") from None


def available_devices() -> list[str]:
    """The devices this torch build can run on, as ``--device`` spells them: cpu, cuda:0..N-1, mps."""
    import torch
    out = ["cpu"]
    if torch.cuda.is_available():
        out += [f"cuda:{i}" for i in range(torch.cuda.device_count())]
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        out.append("mps")
    return out


class TargetRaised(AssertionError):
    """The target raised (the clause fails, the suite goes on)."""


class TargetHung(AssertionError):
    """The target ran past the time limit on one call."""


class Unsupported(Exception):  # noqa: N818 - not an error: the input lies outside what the target declares
    """The call's parameters lie outside the target's declared ``supports`` subset: the example is not run, a check
    that needs it is reported "not implemented" (never "failed")."""


class Mismatch(AssertionError):
    def __init__(self, msg, ratio):
        super().__init__(msg)
        self.ratio = ratio


@dataclass
class CheckRecord:
    """The largest error one check saw, over every example it tried, against the tolerance it used."""

    max_ratio: float = 0.0
    max_abs: float = 0.0
    tol: str = ""
    what: str = ""
    abs_at_worst: float = 0.0
    """max |error| on the input where the ratio to the tolerance was largest (``max_abs`` is over every input)."""


@dataclass
class ClauseRecord:
    """What the run learned about one clause: per check, the largest error against the tolerance it used.

    ``max_ratio``, ``max_abs`` and ``tol`` are the worst check's figures (``worst_check`` names it), so the
    three always belong together.
    """

    checks: dict[str, CheckRecord] = field(default_factory=dict)
    examples: int = 0
    evaluations: int = 0
    unsupported: set[str] = field(default_factory=set)
    """the parameter values met outside the target's declared support (the report lists them)."""

    @property
    def worst_check(self) -> str | None:
        if not self.checks:
            return None
        return max(self.checks, key=lambda k: (self.checks[k].max_ratio, self.checks[k].max_abs))

    @property
    def max_ratio(self) -> float:
        w = self.worst_check
        return self.checks[w].max_ratio if w else 0.0

    @property
    def max_abs(self) -> float:
        w = self.worst_check
        return self.checks[w].max_abs if w else 0.0

    @property
    def tol(self) -> str:
        w = self.worst_check
        return self.checks[w].tol if w else ""

    def check(self, name: str) -> CheckRecord:
        return self.checks.setdefault(name, CheckRecord())


@dataclass
class Context:
    target: Target
    dtype: str = "float64"
    device: str = "cpu"
    timeout: float = 20.0
    shrink: bool = True
    records: dict[str, ClauseRecord] = field(default_factory=dict)
    hung: set = field(default_factory=set)
    calls: int = 0
    """target calls made so far (through :meth:`call`): a check that adds none never touched the target."""
    clause: str | None = None
    check: str = ""
    """the clause and check running now (set by :meth:`checking`): errors are recorded under them."""
    target_spec: str | None = None
    seed: int | None = None
    """hypothesis' seed for the random profiles (``--seed``; ``genspec conform --profile dev`` picks and prints one)."""
    last_call: dict | None = None
    """the arguments of the latest target call as the target received them (its variants' units, its clock), NumPy
    side: a failure message shows them, and the Python lines that reproduce the call."""
    causes: list[str] = field(default_factory=list)
    """what the target's calls on the current example did that explains a failure (NaN or inf in the output, another
    dtype than the run's, an argument modified in place); the check resets it per example."""
    run_dtype: str = ""
    """the dtype arrays are handed to the target in (``--dtype``). ``dtype`` is the dtype comparisons are made in:
    the run's, or inside :meth:`checking` the coarser precision the target declares for the clause."""

    def __post_init__(self):
        self.run_dtype = self.run_dtype or self.dtype

    @contextmanager
    def checking(self, clause_id: str, check: str):
        """Record the errors seen inside the block under ``clause_id`` / ``check``; compare (and round the inputs)
        in the clause's :meth:`tolerance_dtype` while the target still gets arrays in the run's dtype."""
        outer = self.clause, self.check, self.dtype
        self.clause, self.check = clause_id, check
        self.dtype = self.tolerance_dtype(clause_id)
        try:
            with drawing_in(self.dtype):     # boundary draws (harness/inputs.py) land where the target's dtype rounds
                yield
        finally:
            self.clause, self.check, self.dtype = outer

    def _record(self, clause_id: str) -> CheckRecord:
        return self.records.setdefault(self.clause or clause_id, ClauseRecord()).check(self.check or "check")

    # ---- conversion -------------------------------------------------------------------------
    def _torch_dtype(self):
        import torch
        return {"float64": torch.float64, "float32": torch.float32, "bfloat16": torch.bfloat16}[self.run_dtype]

    def round(self, inputs: dict) -> dict:
        """Round float arrays to the run's dtype and back: the reference sees exactly what the target sees.

        On a reversed clock (``Target.time``) the target sees t' = 1 − t: t becomes 1 − round(1 − t), so that
        1 − t is exact and representable (near t = 0, where the velocity on vp is singular, a t' = 1 − t rounded
        differently would be a false failure). A t > 0 too small for the target's clock (1 − t rounds to 1) becomes
        the smallest one it has, 1 − (the dtype's largest number below 1): never the singular t = 0."""
        out = dict(inputs) if self.dtype == "float64" else {k: self._round(v) for k, v in inputs.items()}
        if self.clause and self.target is not None and self.target.time_of(self.clause) == "noise_at_0" \
                and isinstance(out.get("t"), (np.ndarray, float)):
            t = np.asarray(out["t"], dtype=np.float64)
            s_ = 1.0 - t
            s_ = s_ if self.dtype == "float64" else np.asarray(self._round(s_), dtype=np.float64)
            below_one = 1.0 - {"float64": 2.0**-53, "float32": 2.0**-24, "bfloat16": 2.0**-8}[self.dtype]
            t = 1.0 - np.where((t > 0) & (s_ >= 1.0), below_one, s_)
            out["t"] = float(t) if isinstance(out["t"], float) else t
        return out

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
            if self.run_dtype == "bfloat16":
                raise TargetRaised("a NumPy target cannot be run in bfloat16")
            return v.astype(self.run_dtype) if v.dtype.kind == "f" else v.copy()
        import torch
        t = torch.from_numpy(v if v.flags.c_contiguous else v.copy())  # keeps 0-d arrays 0-d
        if v.dtype.kind == "f":
            return t.to(device=self.device, dtype=self._torch_dtype())
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
        """Call a target function on NumPy inputs; returns NumPy float64 outputs.

        Inputs come in the default variants' units and reach the target in its declared variants' units
        (``Variant.arguments``: the scale form of guidance gets s = 1 + w). Inputs outside the target's declared
        ``supports`` raise :class:`Unsupported`; a target on the reversed clock (``time=``) gets t mapped and
        velocities negated both ways (:func:`reverse_clock`). The call itself follows the target's plan for the
        clause (:mod:`.bind`: its argument map, layouts, noise source); a ``NotImplementedError`` (or a declared
        ``unsupported_errors`` type) of the target is :class:`Unsupported` with its message.
        """
        rec = self.records.setdefault(self.clause or clause_id, ClauseRecord())
        conv = self.target.conventions_for(clause_id)
        inputs = spec.get(clause_id).in_variant(inputs, conv)
        why = self.target.unsupported(clause_id, inputs)
        plan = self.target.plan(clause_id)
        if plan.omitted and not why:
            why = [f"passes {n}" for n in plan.omitted if inputs.get(n) is not None]
        if why:
            rec.unsupported.update(why)
            raise Unsupported(f"{clause_id}: {', '.join(why)}: outside target {self.target.name!r}'s declared "
                              "support")
        reversed_clock = self.target.time_of(clause_id) == "noise_at_0"
        if reversed_clock:
            inputs = reverse_clock(clause_id, inputs, inputs)
        rows = next((np.shape(inputs[k]) for k, lay in plan.layouts.items() if lay == "rows" and k in inputs), None) \
            if plan.layouts else None
        if plan.layouts:
            try:
                inputs = {k: apply_layout(k, plan.layouts[k], v, *self._like(clause_id, k, inputs))
                          if k in plan.layouts and v is not None else v for k, v in inputs.items()}
            except Outside as e:
                rec.unsupported.add(f"layout: {e}")
                raise Unsupported(f"{clause_id}: {e}") from None
        args = {k: self.to_target(v) for k, v in inputs.items()}
        self.last_call = inputs
        if self.target.variants:          # the declared variant combination, as a keyword (the reproduce lines too)
            args |= self.target.variant_label(clause_id)
            self.last_call = inputs | self.target.variant_label(clause_id)
        before = {k: _copy(v) for k, v in args.items()}
        ones = tuple(k for k, lay in plan.layouts.items() if lay == "one" and k in args)
        source = self.target.noise_source(clause_id)

        def invoke(a):
            if plan.trivial:                      # fn(**args): the calling convention, nothing declared
                return fn(**a)
            with injected(source, a["noise"]) if source and a.get("noise") is not None else _nothing():
                pos, kw = plan.split(a)
                return plan.result(fn(*pos, **kw))
        rec.evaluations += 1
        self.calls += 1
        try:
            if clause_id in self.hung:  # once hung, never wait again: every later call fails at once, the same way
                raise _Timeout()
            out = _with_timeout(lambda: per_call(invoke, args, ones, batched_names(clause_id)) if ones else
                                invoke(args), self.timeout)
        except _Timeout:
            self.hung.add(clause_id)
            raise TargetHung(f"{clause_id}: target ran past {self.timeout:g}s (--timeout) on one call") from None
        except (TargetRaised, TargetHung, Mismatch):
            raise
        except self.target.declines(clause_id) as e:
            msg = f"{type(e).__name__}: {str(e).splitlines()[0][:160] if str(e) else ''}"
            rec.unsupported.add(f"declined by the target ({msg})")
            raise Unsupported(f"{clause_id}: the target declines this input ({msg})") from None
        except Exception as e:  # noqa: BLE001 - any exception of the target (AssertionError too) fails its clause only
            raise TargetRaised(f"{clause_id}: target raised {type(e).__name__}: {str(e) or '(no message)'}"
                               f"{_raised_at(e)}") from e
        self.causes += [c for c in self._causes(args, before, out) if c not in self.causes]
        out = self.to_numpy(out)
        if rows is not None and isinstance(out, np.ndarray) and out.size == int(np.prod(rows)):
            out = out.reshape(rows)         # the "rows" layout: the result back in the sample shape
        return reverse_clock(clause_id, {"out": out}, inputs)["out"] if reversed_clock else out

    @staticmethod
    def _like(clause_id: str, name: str, inputs: dict):
        """(the array a layout of ``name`` is relative to, whether a 1-d value is one per sample): its
        ``broadcast_to`` symbol (NumPy broadcasting), else the first array input (a time: one per sample)."""
        sym = next((s for s in spec.get(clause_id).symbols if s.name == name), None)
        if sym is not None and sym.domain.broadcast_to and sym.domain.broadcast_to in inputs:
            return inputs[sym.domain.broadcast_to], False
        return next(v for k, v in inputs.items() if k != name and isinstance(v, np.ndarray) and v.ndim), True

    def _causes(self, args: dict, before: dict, out) -> list[str]:
        """What the call did that explains a failure: NaN or inf in its output, an output dtype other than the run's,
        an argument it modified in place."""
        found = [f"the target modified its argument {k!r} in place" for k, v in args.items()
                 if before[k] is not None and not _same(before[k], v)]
        for name, o in _arrays(out, "output"):
            dt = str(o.dtype).removeprefix("torch.")
            if dt.startswith(("float", "bfloat")) and dt != self.run_dtype:
                found.append(f"{name} has dtype {dt}; the run hands the target {self.run_dtype} and expects it back")
            a = self.to_numpy(o)
            if a.dtype.kind == "f" and not np.isfinite(a).all():
                n_nan, n_inf = int(np.isnan(a).sum()), int(np.isinf(a).sum())
                what = " and ".join(x for x in (f"{n_nan} NaN" if n_nan else "", f"{n_inf} inf" if n_inf else "") if x)
                found.append(f"{name} contains {what} (of {a.size} entries)")
        return found

    def conventions(self, clause_id: str) -> dict[str, str]:
        """The variant of each of the clause's conventions the target declares (the spec's defaults with no target)."""
        if self.target is not None:
            return self.target.conventions_for(clause_id)
        return {c.name: c.default for c in spec.get(clause_id).conventions}

    def convention(self, clause_id: str, name: str) -> str:
        """The variant of one convention the target declares: what a property checks against."""
        return self.conventions(clause_id)[name]

    def wrap(self, clause_id: str, fn):
        """The target's function as NumPy float64 -> NumPy float64, for property checks."""
        return lambda **inputs: self.call(clause_id, fn, inputs)

    # ---- comparison -------------------------------------------------------------------------
    def tolerance_dtype(self, clause_id: str) -> str:
        """The run's dtype, or the coarser precision the target declares for the clause (``Target.precision``)."""
        declared = self.target.precision_of(clause_id) if self.target is not None else None
        order = spec.schema.DTYPES  # finest first
        if declared is not None and order.index(declared) > order.index(self.run_dtype):
            return declared
        return self.run_dtype

    def tolerance(self, clause_id: str):
        return spec.get(clause_id).tolerance.for_dtype(self.tolerance_dtype(clause_id))

    @property
    def atol_floor(self) -> float:
        """The smallest atol a comparison uses: the run dtype's smallest normal number.

        No result in the run's dtype is meaningful below it (subnormals and flush-to-zero differ between
        libraries and devices), and a floor keeps error/tolerance ratios finite and readable: with atol = 1e-300
        a float32 rounding error of 1e-9 would read as 1e291 × the tolerance.
        """
        if self.dtype == "float64":
            return float(np.finfo(np.float64).tiny)
        return float(np.finfo(np.float32).tiny)  # bfloat16 has float32's exponent range

    def assert_close(self, clause_id: str, got, expected, what: str = "output", tol=None):
        """Elementwise |got - expected| <= max(atol, smallest normal) + rtol |expected|.

        Records the error under the running check (see :meth:`checking`), whatever tolerance is used, and
        raises :class:`Mismatch` naming the check, the compared quantity and the tolerance actually used. A
        custom ``ClauseChecks.compare`` calls this (with its own ``what=`` and ``tol=``) to get the same record.
        """
        tol = tol or self.tolerance(clause_id)
        atol = max(tol.atol, self.atol_floor)
        used = f"rtol={tol.rtol:.1e} atol={atol:.1e}"          # recorded; the report adds the declared precision
        shown = used + (f" [{self.dtype}: declared precision]" if self.dtype != self.run_dtype else "")
        rec = self._record(clause_id)
        where = f" [{self.check}]" if self.check else ""
        try:
            ratio, abs_err = _compare(got, expected, tol.rtol, atol, what)
        except Mismatch as m:  # wrong type or shape: no number to compare
            rec.max_ratio, rec.tol, rec.what, rec.abs_at_worst = np.inf, used, what, np.inf
            raise Mismatch(f"{clause_id}{where}: {m}", np.inf) from None
        if ratio >= rec.max_ratio:
            rec.max_ratio, rec.tol, rec.what, rec.abs_at_worst = ratio, used, what, abs_err
        rec.max_abs = max(rec.max_abs, abs_err)
        if ratio > 1.0:
            against = "the reference" if self.check in ("target_matches_reference", "") else "its expected value"
            raise Mismatch(
                f"{clause_id}{where}: {what} differs from {against} on this input: max |error| = {abs_err:.3e}, "
                f"{ratio:.3g}× the tolerance used ({shown}, {self.run_dtype})"
                + self._precision_hint(clause_id, got, expected, abs_err), ratio)
        return ratio

    def _precision_hint(self, clause_id: str, got, expected, abs_err: float) -> str:
        """A line when a float64 run's error looks like float32 rounding: the error within a few thousand float32
        ulps of the values compared, or every value the target returned a float32 number (its computation or
        storage is float32)."""
        if self.dtype != "float64" or self.run_dtype != "float64":
            return ""
        try:
            g = np.asarray(got, dtype=np.float64)
            e = np.asarray(expected, dtype=np.float64)
        except (TypeError, ValueError):
            return ""
        if not (np.isfinite(g).all() and np.isfinite(e).all()) or not g.size:
            return ""
        scale = float(np.max(np.abs(e))) or 1.0
        ulps = abs_err / (scale * float(np.finfo(np.float32).eps))
        f32 = bool(np.array_equal(g.astype(np.float32).astype(np.float64), g)) and not \
            np.array_equal(e.astype(np.float32).astype(np.float64), e)
        if not (f32 or 0.01 <= ulps <= 1024):
            return ""
        why = ("every value it returned is a float32 number" if f32 else
               f"the error is {ulps:.3g} float32 ulps of max |expected| = {scale:.3g}")
        return precision_hint(clause_id, f"this looks like float32 rounding in a float64 run ({why})")

    def record_error(self, clause_id: str, got, expected) -> float | None:
        """Record max |got - expected| for the running check without judging it (a custom comparison's raw error)."""
        try:
            _, abs_err = _compare(got, expected, 0.0, 1.0, "output")
        except Mismatch:
            return None
        rec = self._record(clause_id)
        rec.max_abs = max(rec.max_abs, abs_err)
        return abs_err

    def require(self, clause_id: str, cond: bool, message: str):
        if not cond:
            where = f" [{self.check}]" if self.check else ""
            raise AssertionError(f"{clause_id}{where}: {message}")

    def require_raises(self, clause_id: str, call, what: str):
        """``call()`` (a target call) must raise a ValueError (SpecInputError in genspec): where the clause says it
        raises, e.g. at a singular point."""
        try:
            call()
        except TargetRaised as e:
            self.require(clause_id, isinstance(e.__cause__, ValueError),
                         f"{what}: expected a ValueError/SpecInputError, got {type(e.__cause__).__name__}")
            return
        raise AssertionError(f"{clause_id}: {what}: the target returned a value where the spec requires "
                             f"SpecInputError")

    def reference(self, clause_id: str, ref, case: dict):
        """``ref`` on ``case`` (drawn in the default variants' units) in the target's declared variants, as the value
        check evaluates the reference."""
        conv = self.conventions(clause_id)
        return ref(**spec.get(clause_id).in_variant(case, conv), **conv)


PRECISION_HINT = "\n  precision: "


def precision_hint(clause_id: str, why: str) -> str:
    """The line a float64 failure gets when float32 arithmetic explains it (``why``), pointing at ``precision=``."""
    return (f"{PRECISION_HINT}{why}: if the target computes in float32 (a float32 grid, a .float() cast), declare "
            f"Target(precision={{{clause_id!r}: 'float32'}}) and it is compared at the spec's float32 tolerance")


def _raised_at(e: BaseException) -> str:
    """' (at mylib.py:12 in d_star)': where the target's code raised (the innermost frame outside genspec's harness)."""
    import os
    import traceback
    here = os.path.dirname(os.path.abspath(__file__))
    frames = [f for f in traceback.extract_tb(e.__traceback__) if not f.filename.startswith(here)]
    if not frames:
        return ""
    f = frames[-1]
    return f" (at {os.path.basename(f.filename)}:{f.lineno} in {f.name})"


def _arrays(v, name: str):
    """(name, array) for each NumPy array or torch tensor in an output (a tuple or dict of them too)."""
    if isinstance(v, (list, tuple)):
        for i, x in enumerate(v):
            yield from _arrays(x, f"{name}[{i}]")
    elif isinstance(v, dict):
        for k, x in v.items():
            yield from _arrays(x, f"{name}[{k!r}]")
    elif isinstance(v, (np.ndarray, np.generic)) or type(v).__module__.startswith("torch"):
        if hasattr(v, "dtype") and hasattr(v, "shape"):
            yield name, v


def _copy(v):
    """A copy of an array argument to detect changes in place (None for anything else)."""
    if isinstance(v, np.ndarray):
        return v.copy()
    if type(v).__module__.startswith("torch") and hasattr(v, "clone"):
        return v.detach().clone()
    return None


def _same(a, b) -> bool:
    if isinstance(a, np.ndarray):
        return a.shape == b.shape and bool(np.array_equal(a, b, equal_nan=a.dtype.kind == "f"))
    import torch
    if a.shape != b.shape or a.dtype != b.dtype:
        return False
    if a.is_floating_point():
        return bool(torch.equal(a, b) or torch.allclose(a, b, rtol=0, atol=0, equal_nan=True))
    return bool(torch.equal(a, b))


def reverse_clock(clause_id: str, values: dict, params: dict) -> dict:
    """Map between the spec's clock and the reversed one (``Target.time``, family.* only; it is an involution):
    t ↦ 1 − t, and each of the clause's ``velocity_slots`` whose target parameter is ``"velocity"`` ↦ −slot
    (dx/dt' = −dx/dt for t' = 1 − t). ``values`` holds arguments or ``{"out": output}``; ``params`` the call's
    parameters."""
    out = dict(values)
    if "t" in out and not isinstance(out["t"], Dual):
        out["t"] = 1.0 - np.asarray(out["t"]) if isinstance(out["t"], np.ndarray) else 1.0 - out["t"]
    for slot, param in spec.get(clause_id).velocity_slots or ():
        if params.get(param) != "velocity":
            continue
        name, _, idx = slot.partition("[")
        if name not in out:
            continue
        if idx:
            items = list(out[name])
            items[int(idx[:-1])] = -np.asarray(items[int(idx[:-1])])
            out[name] = type(out[name])(items) if isinstance(out[name], tuple) else items
        else:
            out[name] = -np.asarray(out[name])
    return out


def _compare(got, expected, rtol, atol, what):
    if isinstance(expected, dict):
        if not isinstance(got, dict) or set(got) != set(expected):
            raise Mismatch(f"{what}: expected a dict with keys {sorted(expected)}, got {type(got).__name__}", np.inf)
        res = [_compare(got[k], expected[k], rtol, atol, f"{what}[{k!r}]") for k in expected]
        return max(r[0] for r in res), max(r[1] for r in res)
    if isinstance(expected, (tuple, list)):
        if not isinstance(got, (tuple, list)) or len(got) != len(expected):
            raise Mismatch(f"{what}: expected a tuple of {len(expected)}, got {type(got).__name__}", np.inf)
        res = [_compare(g, e, rtol, atol, f"{what}[{i}]") for i, (g, e) in enumerate(zip(got, expected, strict=True))]
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
    with np.errstate(all="ignore"):
        diff = np.abs(g - e)
        if np.isfinite(diff).all():  # both finite everywhere (the usual case): the same figures in fewer passes
            return float(np.max(diff / (atol + rtol * np.abs(e)))), float(np.max(diff))
    same_inf = (np.isinf(e) & (g == e)) | (np.isnan(e) & np.isnan(g))
    with np.errstate(invalid="ignore", over="ignore"):
        diff = np.where(same_inf, 0.0, np.abs(g - e))
    bound = atol + rtol * np.where(np.isfinite(e), np.abs(e), 0.0)  # atol > 0: the ratio is always finite
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        ratio = np.where(diff == 0, 0.0, diff / bound)
    ratio = np.where(np.isnan(ratio), np.inf, ratio)
    return float(np.max(ratio)), float(np.nanmax(np.where(np.isnan(diff), np.inf, diff)))


@contextmanager
def _nothing():
    yield


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
