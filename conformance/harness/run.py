"""The checks themselves, independent of pytest: each raises AssertionError on failure."""
from __future__ import annotations

import os
import sys

import numpy as np
import sympy as sp
from hypothesis import HealthCheck, Phase, given, reject, seed, settings
from hypothesis.database import DirectoryBasedExampleDatabase
from hypothesis.errors import HypothesisException, Unsatisfiable

from genspec import spec

from .context import PRECISION_HINT, ClauseRecord, Context, Unsupported, precision_hint
from .declare import Dual
from .registry import checks_for, reference_function

PROFILES: dict[str, dict] = {
    # derandomized and fast: the CI job
    "ci": dict(max_examples=25, derandomize=True),
    # random, with the example database: a developer's loop
    "dev": dict(max_examples=60, database=True),
    # many examples: before a release
    "thorough": dict(max_examples=500, database=True),
}

PRINT_BLOB = True
"""Whether hypothesis prints its ``@reproduce_failure`` advice; ``genspec conform`` turns it off (its own
``reproduce:`` line is what a CLI user needs)."""


class NotSupported(Exception):  # noqa: N818 - an outcome, not an error
    """A check none of whose inputs lies inside the target's declared ``supports``: reported "not implemented"."""


def _supported_only(ctx: Context, clause_id: str, check: str, run) -> None:
    """Run a hypothesis test whose examples outside the target's support were rejected; none inside: NotSupported."""
    try:
        run()
    except Unsatisfiable:
        rec = ctx.records.get(clause_id)
        why = "; ".join(sorted(rec.unsupported)) if rec else ""
        raise NotSupported(f"{clause_id} [{check}]: not implemented: every input needs parameters outside target "
                           f"{ctx.target.name!r}'s declared support ({why})") from None


def hypothesis_home() -> str:
    """Where hypothesis keeps its files under ``genspec conform``: a cache directory, never the user's cwd.

    ``$GENSPEC_HYPOTHESIS_DIR``, else ``$XDG_CACHE_HOME/genspec/hypothesis``, else ``~/.cache/genspec/hypothesis``.
    The dev and thorough profiles keep failing examples in its ``examples/``.
    """
    if os.environ.get("GENSPEC_HYPOTHESIS_DIR"):
        return os.environ["GENSPEC_HYPOTHESIS_DIR"]
    cache = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(cache, "genspec", "hypothesis")


def keep_hypothesis_out_of_cwd() -> None:
    """Point hypothesis' storage (its example database, its constants cache) at :func:`hypothesis_home`."""
    from hypothesis.configuration import set_hypothesis_home_dir
    set_hypothesis_home_dir(hypothesis_home())


_DB: dict[str, DirectoryBasedExampleDatabase] = {}


def _without_local_constants() -> None:
    """Keep the source of the loaded modules out of the draws. Hypothesis mixes literals found in the source of
    every non-library module it has seen into its draws (5% of them), so an edit anywhere in this project (or in the
    user's target module) redrew cases and moved which input-dependent failures a run catches. The clauses declare
    their own special points (their boundaries and edge tables), so the draws depend on the seed and the strategies
    only: the modules loaded now are marked as already scanned, and a pool filled before (hypothesis tests of the
    user's own that ran earlier in this process) is emptied, so that a check run inside a test suite draws what
    `genspec conform` draws in a fresh process. (Private hypothesis names; another hypothesis version without them
    keeps its own behaviour.)"""
    try:
        from hypothesis.internal.conjecture import providers
        seen, pool, cache = providers._seen_modules, providers._local_constants, providers.CONSTANTS_CACHE
    except (ImportError, AttributeError):
        return
    if isinstance(seen, set):
        seen.update(id(m) for m in list(sys.modules.values()))
        if len(pool):
            providers._local_constants = type(pool)()
            cache.cache.clear()


def hypothesis_settings(profile: str, cap: int | None = None, shrink: bool = True) -> settings:
    """The hypothesis settings of a profile; ``shrink=False`` reports the first failing example as found."""
    _without_local_constants()
    if profile not in PROFILES:
        raise ValueError(f"unknown profile {profile!r}; expected one of {sorted(PROFILES)}")
    kw = dict(PROFILES[profile])
    if cap is not None:
        kw["max_examples"] = min(kw["max_examples"], cap)
    # hypothesis' explain phase (after shrinking: which parts of the failing input could vary) only annotates its own
    # report, which genspec does not print; it re-runs the check hundreds of times (~14 s of a failing clause's 17)
    kw["phases"] = (Phase.explicit, Phase.reuse, Phase.generate, *((Phase.target, Phase.shrink) if shrink else ()))
    if kw.pop("database", None):
        path = os.path.join(hypothesis_home(), "examples")
        kw["database"] = _DB.get(path) or _DB.setdefault(path, DirectoryBasedExampleDatabase(path))
    else:
        kw["database"] = None
    return settings(deadline=None, print_blob=PRINT_BLOB, report_multiple_bugs=False,
                    suppress_health_check=list(HealthCheck), **kw)


def proof_holds(claim) -> bool:
    """A claim holds if it is True, or a sympy expression (or matrix) that simplifies to zero."""
    v = claim()
    if isinstance(v, bool):
        return v
    if v is sp.true:
        return True
    if isinstance(v, sp.MatrixBase):
        return all(sp.simplify(e) == 0 for e in v)
    if isinstance(v, (list, tuple)):
        return all(proof_holds(lambda e=e: e) for e in v)
    if isinstance(v, sp.logic.boolalg.Boolean):
        return bool(sp.simplify(v))
    return sp.simplify(v) == 0


def check_proof(clause_id: str, proof) -> None:
    assert proof_holds(proof.claim), f"{clause_id}: symbolic claim {proof.name!r} does not simplify to 0"


def check_reference_matches_derivation(clause_id: str, profile: str) -> None:
    """The float64 reference equals the function lambdified from the sympy derivation."""
    chk = checks_for(clause_id)
    ref = reference_function(clause_id)
    ctx = Context(target=None, dtype="float64")  # type: ignore[arg-type]
    symbolic = chk.symbolic
    cases = chk.symbolic_cases if chk.symbolic_cases is not None else chk.cases
    assert symbolic is not None and ref is not None and cases is not None

    @_seeded(None, profile, clause_id, "reference_matches_derivation")
    @hypothesis_settings(profile, chk.max_examples)
    @given(inputs=cases)
    def run(inputs):
        expected = symbolic(**numpy_side(inputs))
        got = ref(**numpy_side(inputs))
        ctx.assert_close(clause_id, got, expected, what="reference vs derivation")

    with ctx.checking(clause_id, "reference_matches_derivation"):
        run()


def check_target_matches_reference(ctx: Context, clause_id: str, profile: str) -> None:
    """The target's function equals the reference on the clause's cases (in the target's declared conventions; the
    cases are drawn in the default variants' units and converted, compare() sees them as drawn)."""
    chk = checks_for(clause_id)
    fn = ctx.target.binding(clause_id)
    ref = reference_function(clause_id)
    assert ref is not None
    conv = ctx.target.conventions_for(clause_id)
    cases = chk.value_cases(conv)
    reproduce = reproduction(ctx, clause_id, profile)
    name = "target_matches_reference"

    @_seeded(ctx, profile, clause_id, name)
    @hypothesis_settings(profile, chk.max_examples, ctx.shrink)
    @given(inputs=cases)
    def run(inputs):
        inputs = ctx.round(inputs)
        ctx.causes, ctx.last_call, raw, got = [], None, None, None
        try:
            try:
                got = ctx.call(clause_id, fn, inputs)     # converts to the target's variants' units, or Unsupported
            except Unsupported:
                reject()  # outside the declared support (recorded by ctx.call): hypothesis draws another example
            ctx.records.setdefault(clause_id, ClauseRecord()).examples += 1
            expected = ref(**numpy_side(spec.get(clause_id).in_variant(inputs, conv)), **conv)
            if chk.compare is not None:
                raw = ctx.record_error(clause_id, got, expected)  # the raw error, whatever the comparison scales by
                raw = raw if spec.get(clause_id).error_scale is not None else None
                chk.compare(ctx, got, expected, inputs)
            else:
                ctx.assert_close(clause_id, got, expected)  # records the same raw error itself
        except AssertionError as e:
            if got is not None and PRECISION_HINT not in str(e) and float32_explains(ctx, clause_id, got, inputs,
                                                                                     conv):
                e = AssertionError(f"{e}" + precision_hint(clause_id, "the target's output matches the reference "
                                                           "evaluated on the inputs rounded to float32"))
            raise AssertionError(_failure(ctx, clause_id, name, e, inputs, reproduce, raw)) from None
        except (HypothesisException, Unsupported):
            raise
        except Exception as e:  # noqa: BLE001 - the check itself broke on this input: say where, and how to rerun
            raise AssertionError(_failure(ctx, clause_id, name, _harness_error(clause_id, name, e), inputs,
                                          reproduce)) from e

    with ctx.checking(clause_id, name):
        _supported_only(ctx, clause_id, name, run)


def float32_explains(ctx: Context, clause_id: str, got, inputs: dict, conv: dict) -> bool:
    """In a float64 run: whether the reference on the inputs rounded to float32 is within the clause's float32
    tolerance of ``got`` (the failure is the target computing in float32, not a slip in its math)."""
    if ctx.run_dtype != "float64" or ctx.dtype != "float64":
        return False
    ref = reference_function(clause_id)
    r32 = {k: (v.astype(np.float32).astype(np.float64) if isinstance(v, np.ndarray) and v.dtype.kind == "f" else
               float(np.float32(v)) if isinstance(v, float) else v) for k, v in numpy_side(inputs).items()}
    with np.errstate(all="ignore"):
        # an input beyond float32's largest value is no float32 computation; one below its smallest normal underflows
        # as it would in the target's float32 grid
        for k, v in numpy_side(inputs).items():
            if isinstance(v, (np.ndarray, float)) and np.asarray(v).dtype.kind == "f" and not np.all(
                    (np.abs(np.asarray(r32[k]) - v) <= 2.0**-24 * np.abs(v)) | ~np.isfinite(v)
                    | (np.abs(v) < np.finfo(np.float32).tiny)):
                return False
    try:
        expected = ref(**spec.get(clause_id).in_variant(r32, conv), **conv)
        probe = Context(target=ctx.target, dtype="float32")
        probe.assert_close(clause_id, got, expected)
    except Exception:  # noqa: BLE001 - no float32 explanation (a mismatch, or the reference refuses the input)
        return False
    return True


def check_property(ctx: Context, clause_id: str, prop, profile: str) -> None:
    """An invariant of the clause, checked on the target's function (or on the spec alone if nothing is bound)."""
    chk = checks_for(clause_id)
    fn = ctx.target.binding(clause_id) if ctx.target is not None else None
    wrapped = ctx.wrap(clause_id, fn) if fn is not None else None
    cases = prop.cases if prop.cases is not None else (chk.value_cases() if fn is not None else chk.cases)
    reproduce = reproduction(ctx, clause_id, profile)
    name = f"property:{prop.name}"
    if cases is None:
        with ctx.checking(clause_id, name):
            try:
                prop.check(ctx, wrapped, {})
            except AssertionError as e:
                raise AssertionError(_failure(ctx, clause_id, name, e, None, reproduce)) from None
            except Unsupported as e:
                raise NotSupported(f"{clause_id} [{name}]: not implemented: {e}") from None
        return

    @_seeded(ctx, profile, clause_id, name)
    @hypothesis_settings(profile, chk.max_examples, ctx.shrink)
    @given(inputs=cases)
    def run(inputs):
        inputs = ctx.round(inputs)
        if ctx is not None:
            ctx.causes, ctx.last_call = [], None
        try:
            prop.check(ctx, wrapped, inputs)
        except AssertionError as e:
            raise AssertionError(_failure(ctx, clause_id, name, e, inputs, reproduce)) from None
        except Unsupported:
            reject()
        except HypothesisException:
            raise
        except Exception as e:  # noqa: BLE001 - the check itself broke on this input: say where, and how to rerun
            raise AssertionError(_failure(ctx, clause_id, name, _harness_error(clause_id, name, e), inputs,
                                          reproduce)) from e

    with ctx.checking(clause_id, name):
        _supported_only(ctx, clause_id, name, run)


def _seeded(ctx: Context | None, profile: str, clause_id: str, check: str):
    """hypothesis' ``@seed`` of a check. Derandomized profiles (ci): a number derived from the clause and the check's
    name, so the draws are the same whatever else changes (hypothesis' own derandomize seeds from the test function's
    source, so an edit anywhere in a check's body, or in this file's inner functions, redrew every case and moved which
    real-library failures the draws catch). Random profiles: the run's ``--seed N`` when it has one (replays a dev run);
    none otherwise."""
    if PROFILES[profile].get("derandomize"):
        return seed(stable_seed(clause_id, check))
    s = getattr(ctx, "seed", None)
    return (lambda f: f) if s is None else seed(s)


def stable_seed(*names: str) -> int:
    """A 64-bit seed that depends only on ``names`` (sha256: the same in every process and Python version)."""
    import hashlib
    return int.from_bytes(hashlib.sha256("\x00".join(names).encode()).digest()[:8], "little")


def _harness_error(clause_id: str, check: str, e: Exception) -> AssertionError:
    from .context import _raised_at
    return AssertionError(f"{clause_id} [{check}]: the check itself raised {type(e).__name__}: "
                          f"{str(e) or '(no message)'}{_raised_at(e)}; a genspec error, not the target's: please "
                          f"report it with the lines below")


def _failure(ctx: Context, clause_id: str, check: str, e: AssertionError, inputs: dict | None, reproduce: str,
             raw: float | None = None) -> str:
    """The failure message: what failed on this input (its cause where one is known), the input as the target
    received it, the worst this check saw on any input, how to reproduce (a command and a few lines of Python)."""
    lines = [str(e)] if f"[{check}]" in str(e) else [str(e), f"  check: {check}"]
    lines += [f"  cause: {c}" for c in getattr(ctx, "causes", None) or ()]
    if raw is not None:
        lines.append(f"  raw max |target - reference| on this input: {raw:.3e} (the figure above is the clause's "
                     f"scaled error, which its tolerance bounds)")
    called = getattr(ctx, "last_call", None)
    if inputs is not None and called is not None and _show(called) != _show(inputs):
        lines.append(f"  target called with: {_show(called)}   (its variants' units and clock; the last call)")
        lines.append(f"  drawn input: {_show(inputs)}")
    elif inputs is not None:
        lines.append(f"  input: {_show(inputs)}")
    rec = ctx.records.get(clause_id)
    worst = rec.checks.get(check) if rec else None
    if worst is not None and worst.max_ratio > getattr(e, "ratio", 0.0) and worst.max_ratio > 1.0:
        lines.append(f"  worst over every input {check} tried: {worst.max_ratio:.3g}× the tolerance "
                     f"({worst.what}; {worst.tol})")
    seeded = getattr(ctx, "seed", None)
    lines.append(f"  reproduce: {reproduce}" + (f" --seed {seeded}" if seeded is not None and "--seed" not in reproduce
                                                  and "--profile ci" not in reproduce else ""))
    if called is not None and ctx.target is not None:
        lines += python_lines(ctx, clause_id, called)
    return "\n".join(lines)


def python_lines(ctx: Context, clause_id: str, args: dict) -> list[str]:
    """A few lines of Python that call the target's function on ``args`` (NumPy or torch per its backend), to paste
    into the author's own test; [] where an argument has no literal (a callable field, a large array)."""
    torch_ = ctx.target.backend == "torch"
    out = []
    for k, v in args.items():
        if isinstance(v, np.ndarray):
            if v.size > 64:
                return []
            dt = f"torch.{ctx.run_dtype}" if torch_ and v.dtype.kind == "f" else (
                f"np.{ctx.run_dtype}" if v.dtype.kind == "f" else f"np.{v.dtype}")
            lit = repr(v.tolist())
            out.append(f"{k}=torch.tensor({lit}, dtype={dt})" if torch_ and v.dtype.kind == "f" else
                       (f"{k}=torch.tensor({lit})" if torch_ else f"{k}=np.array({lit}, dtype={dt})"))
        elif isinstance(v, (bool, int, float, str, type(None))) or (isinstance(v, tuple) and all(
                isinstance(x, (int, float, str)) for x in v)):
            out.append(f"{k}={v!r}")
        else:
            return []
    t = getattr(ctx, "target_spec", None) or ctx.target.name
    return ["  in Python:",
            "    import numpy as np" + ("\n    import torch" if torch_ else ""),
            "    from genspec.conformance.harness.plugin import load_target",
            f"    fn = load_target({t!r}).bindings[{clause_id!r}]",
            f"    out = fn({', '.join(out)})"]


def numpy_side(inputs: dict) -> dict:
    """The inputs as the float64 reference takes them: a Dual callable becomes its NumPy side."""
    return {k: (v.numpy if isinstance(v, Dual) else v) for k, v in inputs.items()}


def reproduction(ctx: Context, clause_id: str, profile: str) -> str:
    t = getattr(ctx, "target_spec", None) or (ctx.target.name if ctx.target else "reference")
    timeout = getattr(ctx, "timeout", 20.0)
    return (f"genspec conform --target {t} --clause {clause_id} --dtype {ctx.run_dtype} "
            f"--device {ctx.device} --profile {profile}" + (f" --timeout {timeout:g}" if timeout != 20.0 else ""))


def _show(inputs: dict) -> str:
    with np.printoptions(precision=17, threshold=40, edgeitems=4):
        return "{" + ", ".join(f"{k!r}: {_repr(v)}" for k, v in inputs.items()) + "}"


def _repr(v):
    if isinstance(v, np.ndarray):
        return f"np.array({' '.join(np.array2string(v, separator=', ', max_line_width=10**9).split())})"  # one line
    return repr(v)


def clause_has_function(clause_id: str) -> bool:
    return spec.get(clause_id).function is not None
