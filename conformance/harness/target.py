"""Targets: the implementation a conformance run checks, and how third parties bind theirs.

A target is a :class:`Target`: a backend ("numpy" or "torch"), a mapping from clause id to function,
the variant it implements of each convention, and the spec version it was written against::

    from genspec.conformance import Target
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

How each bound function is called, and how a library's own calling convention is declared (:mod:`.bind` states each
exactly; README "Binding a library" shows each in an example a test runs):

``arguments={"cfg.combine": {"v_y": "cond", "v_null": "uncond", "w": "guidance_scale"}}``
    an argument map: renames, a tuple for positional order (``("h", "beta", "gamma")``), ``const(value)`` for a
    library argument the clause lacks, ``"return"`` for what to take of the result. Signatures are checked when the
    target is built, before any check runs.
``layouts={"dit.adaln": {"gamma": "B D", "beta": "B D"}}``
    the array layout the function takes ("B", "B D", "B ...", "full", "rows", "one"): it is called only with that.
``supports`` also takes :func:`~.bind.interval` s, predicates and ``"where": [Where(...), without(...)]``;
``unsupported_errors={"ddpm.*": IndexError}``
    exception types that mean "outside support" (``NotImplementedError`` always does): the input is declined, with the
    target's message, never failed.
``variants={"ddpm.ddim_eta_step": {"prediction_type": ("epsilon", "v_prediction", "sample")}}``
    every variant combination implemented: :func:`~conformance.harness.api.check`, ``genspec matrix`` and ``genspec
    conform`` check each and report it as its own row (``ddpm.ddim_eta_step (prediction_type=sample)``: the table,
    JSON and JUnit row, the pytest id); the function gets the variant as a keyword named after the convention.
``conventions={("rf.interpolation", "rf.velocity"): {"time": "noise_at_0"}}``
    the variant of each convention, by clause id or selector (each clause it names gets the conventions it has).
``noise={"ddpm.ancestral_step": "diffusers.schedulers.scheduling_ddpm.randn_tensor"}``
    the function the library draws its noise with returns the clause's ``noise`` during the call.

A binding may be a :class:`~.bind.Module`: an ``nn.Module`` or other object built per call, with a weight mapping;
:func:`~.bind.recorded` makes the network (or loss) a library's module takes out of a clause's callable, recording
what the library hands it.
"""
from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from genspec import spec
from genspec.spec.errors import TargetError

BACKENDS = ("numpy", "torch")
Selector = str | tuple[str, ...]
"""a clause id, family or glob (conformance/harness/registry.py: matches), or a tuple of them"""
TIMES = ("noise_at_1", "noise_at_0")
"""``time=`` values: the spec's clock (t = 1 noise) and the reversed one (t = 0 noise: flow_matching, torchcfm)."""


@dataclass
class Target:
    name: str
    bindings: dict[str, Callable]
    backend: str = "numpy"
    conventions: dict[Any, dict[str, str]] = field(default_factory=dict)
    """clause id, or selector (each clause it names gets the conventions it has), -> {convention: variant}."""
    spec_version: str = spec.SPEC_VERSION
    supports: dict[Selector, dict[str, object]] = field(default_factory=dict)
    """clause selector -> {parameter: the values the target implements}; see the module docstring."""
    time: dict[Selector, str] = field(default_factory=dict)
    """clause selector (family.* clauses) -> "noise_at_0" | "noise_at_1" (the default)."""
    precision: dict[Selector, str] = field(default_factory=dict)
    """clause selector -> the dtype the target computes those clauses in, whatever the run's dtype."""
    arguments: dict[Selector, object] = field(default_factory=dict)
    """clause selector -> argument map (renames, positions, constants, ``"return"``): see :mod:`.bind`."""
    layouts: dict[Selector, dict[str, str]] = field(default_factory=dict)
    """clause selector -> {symbol: layout} ("B", "B D", "B ...", "full", "one"): see :mod:`.bind`."""
    unsupported_errors: dict[Selector, tuple] = field(default_factory=dict)
    """clause selector -> exception types that mean "outside support" (NotImplementedError always does)."""
    variants: dict[Selector, dict[str, tuple[str, ...]]] = field(default_factory=dict)
    """clause selector -> {convention: every variant implemented}: each is checked, in one run, reported per variant;
    the bound function gets the variant as a keyword named after the convention (mappable like any argument)."""
    noise: dict[Selector, str] = field(default_factory=dict)
    """clause selector -> dotted path of the function the library draws noise with (``pkg.mod.randn_tensor``):
    during a call it returns the clause's ``noise`` argument."""

    def __post_init__(self):
        if self.backend not in BACKENDS:
            raise TargetError(f"target {self.name!r}: backend must be one of {BACKENDS}, got {self.backend!r}")
        for cid, fn in self.bindings.items():
            spec.get(cid)  # raises UnknownClauseError naming the id
            if not callable(fn):
                raise TargetError(f"target {self.name!r}: binding for {cid} is not callable ({fn!r})")
        exact = {k: v for k, v in self.conventions.items() if isinstance(k, str) and k in spec.CLAUSES}
        self._conventions = self._per_clause("conventions", {k: v for k, v in self.conventions.items()
                                                             if k not in exact}, self._convention_subset, merge=True)
        for cid, convs in exact.items():
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
        self._variants = self._per_clause("variants", self.variants, self._variant_set)
        self._arguments = self._per_clause("arguments", self.arguments, self._argmap)
        self._layouts = self._per_clause("layouts", self.layouts, self._layout)
        self._errors = self._per_clause("unsupported_errors", self.unsupported_errors, self._exceptions)
        self._noise = self._per_clause("noise", self.noise, lambda cid, v: v if "noise" in self._names(cid) else None)
        self._chosen: dict[str, dict[str, str]] = {}
        self._plans = {cid: self._plan(cid, fn) for cid, fn in self.bindings.items()}
        if self.spec_version.split(".")[:2] != spec.SPEC_VERSION.split(".")[:2]:
            raise TargetError(f"target {self.name!r} was written against spec {self.spec_version}; "
                              f"this is spec {spec.SPEC_VERSION} (major.minor must match)")

    def _per_clause(self, what: str, decl: dict, resolve, merge: bool = False) -> dict:
        """``{selector: value}`` -> ``{clause id: resolve(clause id, value)}``, later selectors overriding earlier
        ones (``merge``: updating them, dict by dict). ``resolve`` checks the value and returns None where it does not
        apply to a clause the selector names (``time=`` on family.equivalence, a ``supports`` parameter the clause
        lacks)."""
        from .registry import matches
        out: dict = {}
        for sel, value in decl.items():          # a selector, or a tuple of them: ("family.interpolate", "rf.*")
            ids = [c for one in (sel if isinstance(sel, tuple) else (sel,)) for c in matches(one)]
            got = {cid: r for cid in ids if (r := resolve(cid, value)) is not None}
            if not got:
                raise TargetError(f"target {self.name!r}: {what}= selector {sel!r} names no clause it applies to")
            if merge:
                for cid, r in got.items():
                    out[cid] = out.get(cid, {}) | r
            else:
                out.update(got)
        return out

    def _convention_subset(self, cid: str, convs: dict) -> dict | None:
        """The conventions of a selector's declaration that the clause has, their variants checked (None: none)."""
        clause = spec.get(cid)
        mine = {k: v for k, v in convs.items() if k in [c.name for c in clause.conventions]}
        for cname, variant in mine.items():
            names = [v.name for v in clause.convention(cname).variants]
            if variant not in names:
                raise TargetError(f"target {self.name!r}: {cid} convention {cname!r} has no variant {variant!r}; "
                                  f"expected one of {names}")
        return mine or None

    def _subset(self, cid: str, subset) -> dict | None:
        """The part of ``subset`` that names the clause's arguments, value lists cut to the clause's domain
        (``family.*`` spans paths with different schedules); None if it names none of them. A parameter takes a
        tuple of values, an :func:`~.bind.interval` or a predicate; ``"where"`` a list of :class:`~.bind.Where`."""
        from .bind import Interval, Where
        if not isinstance(subset, dict) or any(isinstance(v, str) or (isinstance(v, tuple) and not v)
                                               for v in subset.values()):
            raise TargetError(f"target {self.name!r}: supports must map parameter names to non-empty tuples of "
                              f"values, intervals or predicates, got {subset!r}")
        where = subset.get("where", ())
        where = (where,) if isinstance(where, Where) else tuple(where)
        if not all(isinstance(w, Where) for w in where):
            raise TargetError(f"target {self.name!r}: supports 'where' takes Where predicates, got {where!r}")
        values = {k: v for k, v in subset.items() if k != "where" and isinstance(v, (tuple, list))}
        known: dict[str, set] = {}
        for c in spec.CLAUSES.values():
            for sym in c.symbols:
                if sym.role == "parameter":
                    known.setdefault(sym.name, set()).update(sym.domain.choices)
        unknown = [f"{k}={v!r}" for k, vs in values.items() for v in vs
                   if k not in known or (known[k] and v not in known[k])]
        if unknown:
            raise TargetError(f"target {self.name!r}: supports: no clause has a parameter value {unknown}")
        for k, v in subset.items():
            if k != "where" and not isinstance(v, (tuple, list, Interval)) and not callable(v):
                raise TargetError(f"target {self.name!r}: supports {k}: expected values, an interval or a "
                                  f"predicate, got {v!r}")
        params = {s.name: s.domain.choices for s in spec.get(cid).symbols if s.role == "parameter"}
        names = self._names(cid)
        mine: dict = {k: (tuple(x for x in v if not params[k] or x in params[k]) if isinstance(v, (tuple, list))
                          else v) for k, v in subset.items() if k != "where" and k in names}
        mine = {k: v for k, v in mine.items() if not isinstance(v, tuple) or k in params}
        if where:
            mine["where"] = where
        return mine or None

    @staticmethod
    def _names(cid: str) -> frozenset[str]:
        """Every name the clause passes (symbols and the reference's optional inputs)."""
        from .bind import clause_names
        return clause_names(cid)

    def _argmap(self, cid: str, amap):
        """An argument map, cut to the names this clause passes where its selector spans several clauses."""
        from .bind import RETURN, Const
        names = self._names(cid) | set(self._variants.get(cid, {}))
        if cid in self.arguments or any(isinstance(k, tuple) and cid in k for k in self.arguments):
            return amap                      # named exactly: every key must fit (Plan.make says which does not)
        if isinstance(amap, dict):
            mine = {k: v for k, v in amap.items() if k in names or k == RETURN or isinstance(v, Const)}
            return mine if set(mine) - {RETURN} or mine == amap else None
        return amap if all(a in names for a in amap if isinstance(a, str)) else None

    def _layout(self, cid: str, layouts) -> dict | None:
        mine = {k: v for k, v in layouts.items() if k in self._names(cid)}
        return mine or None

    def _exceptions(self, cid: str, types) -> tuple:
        types = types if isinstance(types, tuple) else (types,)
        if not all(isinstance(t, type) and issubclass(t, BaseException) for t in types):
            raise TargetError(f"target {self.name!r}: unsupported_errors takes exception types, got {types!r}")
        return types

    def _variant_set(self, cid: str, decl) -> dict | None:
        clause = spec.get(cid)
        mine = {}
        for cname, vs in decl.items():
            try:
                conv = clause.convention(cname)
            except KeyError:
                continue
            bad = [v for v in vs if v not in [x.name for x in conv.variants]]
            if bad or not vs:
                raise TargetError(f"target {self.name!r}: {cid} convention {cname!r} has no variant {bad or vs}; "
                                  f"expected some of {[v.name for v in conv.variants]}")
            mine[cname] = tuple(vs)
        return mine or None

    def _plan(self, cid: str, fn):
        """The call plan of a binding, its signature checked now (before any check runs)."""
        from .bind import Module, Plan
        omitted = tuple(n for w in self._supports.get(cid, {}).get("where", ()) for n in w.omits)
        plan = Plan.make(cid, self._arguments.get(cid), self._layouts.get(cid), omitted,
                         extra=tuple(self._variants.get(cid, {})), consumed=("noise",) if cid in self._noise else ())
        plan.check(self.name, fn)
        if isinstance(fn, Module):
            unknown = sorted(fn._used() - set(plan.passable))
            if unknown:
                raise TargetError(f"target {self.name!r}: {cid}: the Module's build/weights name {unknown}, which the "
                                  f"clause does not pass (it passes {', '.join(plan.passable)})")
        return plan

    def plan(self, clause_id: str):
        return self._plans[clause_id]

    def declines(self, clause_id: str) -> tuple:
        """The exception types that mean "outside support" for this clause."""
        return (NotImplementedError, *self._errors.get(clause_id, ()))

    def noise_source(self, clause_id: str) -> str | None:
        return self._noise.get(clause_id)

    def support_text(self, clause_id: str) -> str:
        """The declared support of a clause, compactly (one line; '' if it is the whole domain)."""
        from .bind import describe_support
        return describe_support(self._supports.get(clause_id, {}))

    # ---- several variants in one target ----------------------------------------------------------------
    def variant_combinations(self, clause_id: str) -> list[dict[str, str]]:
        """Every {convention: variant} combination the target declares for the clause (one: its conventions)."""
        import itertools
        decl = self._variants.get(clause_id)
        if not decl:
            return [{}]
        return [dict(zip(decl, combo, strict=True)) for combo in itertools.product(*decl.values())]

    def variant_runs(self) -> int:
        """How many runs check every declared combination once (the longest list of combinations)."""
        return max([len(self.variant_combinations(c)) for c in self.bindings] or [1])

    def in_run(self, i: int) -> Target:
        """The target as run number ``i`` sees it: each clause with several combinations in its i-th (a clause with
        fewer is not bound in that run, except in run 0)."""
        import copy
        view = copy.copy(self)
        view._chosen = {}
        view.bindings = {}
        for cid, fn in self.bindings.items():
            combos = self.variant_combinations(cid)
            if i < len(combos):
                view.bindings[cid] = fn
                view._chosen[cid] = combos[i]
        return view

    def variant_label(self, clause_id: str) -> dict[str, str]:
        """The declared-several conventions of the clause in this view (outside a view: the first combination), for
        its report row and the bound function's keywords ({} when none)."""
        if clause_id in self._chosen:
            return dict(self._chosen[clause_id])
        return self.variant_combinations(clause_id)[0]

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
        """Why ``inputs`` lie outside the declared ``supports`` of the clause, one short declaration each ([]:
        inside)."""
        subset = self._supports.get(clause_id)
        if not subset:
            return []
        from .bind import outside
        return outside(subset, inputs)

    def time_of(self, clause_id: str) -> str:
        return self._time.get(clause_id, "noise_at_1")

    def precision_of(self, clause_id: str) -> str | None:
        return self._precision.get(clause_id)

    def conventions_for(self, clause_id: str) -> dict[str, str]:
        """The variant of each of the clause's conventions this target implements (default if undeclared)."""
        clause = spec.get(clause_id)
        chosen = self._conventions.get(clause_id, {}) | self.conventions.get(clause_id, {}) | \
            self._chosen.get(clause_id, {})
        several = self._variants.get(clause_id, {})
        return {c.name: chosen.get(c.name, several[c.name][0] if c.name in several else c.default)
                for c in clause.conventions}


def row_name(cid: str, variant: dict[str, str]) -> str:
    """A report row: the clause id, with each convention variant that is not the spec's default (``ddpm.beta_schedule
    (beta_schedule=scaled_linear)``)."""
    clause = spec.get(cid)
    return cid + "".join(f" ({k}={v})" for k, v in variant.items() if v != clause.convention(k).default)


def _namespaced(package: str) -> str:
    """A package of this project by its folder name ("reference") -> its module name."""
    return "genspec." + package if package in ("spec","reference","accelerated","conformance","benchmarks") else package


def from_modules(name: str, package: str, backend: str) -> Target:
    """Bind every clause whose ``function`` is defined in ``<package>.<family>``."""
    bindings = {}
    for fam in spec.FAMILIES:
        try:
            mod = importlib.import_module(f"{_namespaced(package)}.{fam}")
        except ModuleNotFoundError as e:
            if e.name == f"{_namespaced(package)}.{fam}":
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
    from genspec.conformance import adapters
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
                          f"`target = genspec.conformance.Target(...)` or name the attribute as 'module:attr'")
    if callable(obj) and not isinstance(obj, Target):
        obj = obj()
    if not isinstance(obj, Target):
        raise TargetError(f"{modname}.{a} is a {type(obj).__name__}, expected a genspec.conformance.Target: "
                          f"`{a} = Target(name=..., backend=..., bindings={{clause id: function}})`")
    return obj
