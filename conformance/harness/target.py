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
"""
from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass, field

import spec
from spec.errors import TargetError

BACKENDS = ("numpy", "torch")


@dataclass
class Target:
    name: str
    bindings: dict[str, Callable]
    backend: str = "numpy"
    conventions: dict[str, dict[str, str]] = field(default_factory=dict)
    spec_version: str = spec.SPEC_VERSION

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
        if self.spec_version.split(".")[:2] != spec.SPEC_VERSION.split(".")[:2]:
            raise TargetError(f"target {self.name!r} was written against spec {self.spec_version}; "
                              f"this is spec {spec.SPEC_VERSION} (major.minor must match)")

    def binding(self, clause_id: str) -> Callable | None:
        return self.bindings.get(clause_id)

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
    """Load a target: 'reference', 'accelerated', 'module' or 'module:attr'."""
    if spec_str in BUILTIN:
        return BUILTIN[spec_str]()
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
    if isinstance(obj, dict):
        obj = Target(name=modname, bindings=obj)
    if not isinstance(obj, Target):
        raise TargetError(f"{spec_str} is a {type(obj).__name__}, expected a conformance.Target or a dict")
    return obj
