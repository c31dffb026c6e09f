"""Targets: the implementation a conformance run checks, and how third parties bind theirs.

A target is a :class:`Target`: a backend ("numpy" or "torch"), a mapping from clause id to function,
the variant it implements of each convention, and the spec version it was written against::

    from conformance import Target
    import mylib

    target = Target(
        name="mylib",
        backend="torch",
        bindings={"gan.optimal_discriminator": mylib.d_star},
        conventions={"cfg.combine": {"form": "scale"}},
    )

``genspec conform --target mymodule`` (or ``mymodule:target``) runs the suite against it. Clauses the
target does not bind are reported "not implemented", never "passed".

Three declarations let a real library be bound as it is (conformance/adapters/ binds three), each keyed by clause
selectors (an id, a family, a glob) and each shown in the report:

``supports={"family.*": {"path": ("rf", "vp"), "schedule": ("none", "linear")}}``
    the parameter subset the library implements. A check whose input lies outside it is not run: an example outside
    is discarded, a check that needs it is reported "not implemented", never "failed"; a clause none of whose checks
    could run is "not implemented".
``time={"family.*": "noise_at_0"}``
    the library's clock on the ``family.*`` clauses (the spec's is ``noise_at_1``: t = 0 data, t = 1 noise). The
    harness maps every call: t_target = 1 − t, and a velocity dx/dt (a prediction of the ``velocity`` target, in
    or out) changes sign, d/dt_target = −d/dt. The other families name their clock as a clause convention
    (``rf.interpolation``, ``sampler.euler``: ``time``).
``precision={"ddpm.*": "float32"}``
    the dtype the library computes these clauses in whatever the run's dtype (e.g. schedules held in float32 while
    samples are float64). A run in a finer dtype compares them with the clause's tolerance for the declared dtype
    (the spec states and justifies it), and the report says so: the verdict is about the math, not the storage.
"""
from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass, field

import spec
from spec.errors import TargetError

BACKENDS = ("numpy", "torch")
TIMES = ("noise_at_1", "noise_at_0")
"""``time=`` values: the spec's clock (t = 1 noise) and the reversed one (t = 0 noise: flow_matching, torchcfm)."""


@dataclass
class Target:
    name: str
    bindings: dict[str, Callable]
    backend: str = "numpy"
    conventions: dict[str, dict[str, str]] = field(default_factory=dict)
    spec_version: str = spec.SPEC_VERSION
    supports: dict[str, dict[str, tuple]] = field(default_factory=dict)
    """clause selector -> {parameter: the values the target implements}; see the module docstring."""
    time: dict[str, str] = field(default_factory=dict)
    """clause selector (family.* clauses) -> "noise_at_0" | "noise_at_1" (the default)."""
    precision: dict[str, str] = field(default_factory=dict)
    """clause selector -> the dtype the target computes those clauses in, whatever the run's dtype."""

    def __post_init__(self):
        if self.backend not in BACKENDS:
            raise TargetError(f"target {self.name!r}: backend must be one of {BACKENDS}, got {self.backend!r}")
        for cid, fn in self.bindings.items():
            spec.get(cid)  # raises UnknownClauseError naming the id
            if not callable(fn):
                raise TargetError(f"target {self.name!r}: binding for {cid} is not callable ({fn!r})")
        for cid, convs in self.conventions.items():
            clause = spec.get(cid)
            for cname, variant in convs.items():
                try:
                    conv = clause.convention(cname)
                except KeyError:
                    raise TargetError(f"target {self.name!r}: clause {cid} has no convention {cname!r}; "
                                      f"it has {[c.name for c in clause.conventions]}") from None
                if variant not in [v.name for v in conv.variants]:
                    raise TargetError(f"target {self.name!r}: {cid} convention {cname!r} has no variant "
                                      f"{variant!r}; expected one of {[v.name for v in conv.variants]}")
        self._supports = self._per_clause("supports", self.supports, self._subset)
        self._time = self._per_clause("time", self.time, self._clock)
        self._precision = self._per_clause("precision", self.precision, self._dtype)
        if self.spec_version.split(".")[:2] != spec.SPEC_VERSION.split(".")[:2]:
            raise TargetError(f"target {self.name!r} was written against spec {self.spec_version}; "
                              f"this is spec {spec.SPEC_VERSION} (major.minor must match)")

    def _per_clause(self, what: str, decl: dict, resolve) -> dict:
        """``{selector: value}`` -> ``{clause id: resolve(clause id, value)}``, later selectors overriding earlier
        ones. ``resolve`` checks the value and returns None where it does not apply to a clause the selector names
        (``time=`` on family.equivalence, a ``supports`` parameter the clause lacks)."""
        from .registry import matches
        out: dict = {}
        for sel, value in decl.items():
            got = {cid: r for cid in matches(sel) if (r := resolve(cid, value)) is not None}
            if not got:
                raise TargetError(f"target {self.name!r}: {what}= selector {sel!r} names no clause it applies to")
            out.update(got)
        return out

    def _subset(self, cid: str, subset) -> dict | None:
        """The part of ``subset`` that names the clause's parameters, each cut to the clause's domain (``family.*``
        spans paths with different schedules); None if it names none of them."""
        if not isinstance(subset, dict) or any(isinstance(v, str) or not v for v in subset.values()):
            raise TargetError(f"target {self.name!r}: supports must map parameter names to non-empty tuples of "
                              f"values, got {subset!r}")
        known: dict[str, set] = {}
        for c in spec.CLAUSES.values():
            for sym in c.symbols:
                if sym.role == "parameter":
                    known.setdefault(sym.name, set()).update(sym.domain.choices)
        unknown = [f"{k}={v!r}" for k, vs in subset.items() for v in vs
                   if k not in known or (known[k] and v not in known[k])]
        if unknown:
            raise TargetError(f"target {self.name!r}: supports: no clause has a parameter value {unknown}")
        params = {s.name: s.domain.choices for s in spec.get(cid).symbols if s.role == "parameter"}
        mine = {k: tuple(x for x in v if not params[k] or x in params[k]) for k, v in subset.items() if k in params}
        return mine or None

    def _clock(self, cid: str, time) -> str | None:
        if time not in TIMES:
            raise TargetError(f"target {self.name!r}: time= takes a value in {TIMES}; got {cid}: {time!r}")
        return time if spec.get(cid).velocity_slots is not None else None

    def _dtype(self, cid: str, dtype) -> str:
        if dtype not in spec.schema.DTYPES:
            raise TargetError(f"target {self.name!r}: precision for {cid} must be one of {spec.schema.DTYPES}, "
                              f"got {dtype!r}")
        return dtype

    def binding(self, clause_id: str) -> Callable | None:
        return self.bindings.get(clause_id)

    def unsupported(self, clause_id: str, inputs: dict) -> list[str]:
        """Why ``inputs`` lie outside the declared ``supports`` subset of the clause, one "name=value" per argument
        ([]: inside)."""
        subset = self._supports.get(clause_id, {})
        return [f"{k}={inputs[k]!r}" for k, allowed in subset.items()
                if k in inputs and inputs[k] is not None and inputs[k] not in allowed]

    def time_of(self, clause_id: str) -> str:
        return self._time.get(clause_id, "noise_at_1")

    def precision_of(self, clause_id: str) -> str | None:
        return self._precision.get(clause_id)

    def conventions_for(self, clause_id: str) -> dict[str, str]:
        """The variant of each of the clause's conventions this target implements (default if undeclared)."""
        clause = spec.get(clause_id)
        chosen = self.conventions.get(clause_id, {})
        return {c.name: chosen.get(c.name, c.default) for c in clause.conventions}


def from_modules(name: str, package: str, backend: str) -> Target:
    """Bind every clause whose ``function`` is defined in ``<package>.<family>``."""
    bindings = {}
    for fam in spec.FAMILIES:
        try:
            mod = importlib.import_module(f"{package}.{fam}")
        except ModuleNotFoundError as e:
            if e.name == f"{package}.{fam}":
                continue
            raise
        for c in spec.CLAUSES.values():
            if spec.module_of(c.id) == fam and c.function and hasattr(mod, c.function):
                bindings[c.id] = getattr(mod, c.function)
    return Target(name=name, bindings=bindings, backend=backend)


BUILTIN = {
    "reference": lambda: from_modules("reference", "reference", "numpy"),
    "accelerated": lambda: from_modules("accelerated", "accelerated", "torch"),
}


def load(spec_str: str) -> Target:
    """Load a target: 'reference', 'accelerated', an adapter's library name ('diffusers', 'torchcfm',
    'flow_matching': conformance/adapters/), 'module' or 'module:attr'."""
    if spec_str in BUILTIN:
        return BUILTIN[spec_str]()
    from conformance import adapters
    if spec_str in adapters.ADAPTERS:
        return adapters.load(spec_str)
    modname, _, attr = spec_str.partition(":")
    try:
        mod = importlib.import_module(modname)
    except ImportError as e:
        raise TargetError(f"cannot import target module {modname!r}: {e}") from None
    candidates = [attr] if attr else ["target", "TARGET", "GENSPEC"]
    for a in candidates:
        if hasattr(mod, a):
            obj = getattr(mod, a)
            break
    else:
        raise TargetError(f"target module {modname!r} defines none of {candidates}; define "
                          f"`target = conformance.Target(...)` or name the attribute as 'module:attr'")
    if callable(obj) and not isinstance(obj, Target):
        obj = obj()
    if not isinstance(obj, Target):
        raise TargetError(f"{modname}.{a} is a {type(obj).__name__}, expected a conformance.Target: "
                          f"`{a} = Target(name=..., backend=..., bindings={{clause id: function}})`")
    return obj
