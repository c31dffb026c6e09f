"""Collects the ClauseChecks declared in conformance/<family>.py for every family of the spec."""
from __future__ import annotations

import fnmatch
import functools
import importlib
from functools import cache

from genspec import spec
from genspec.spec.errors import UnknownClauseError

from .declare import ClauseChecks, Dual
from .derive import with_derived


@cache
def all_checks() -> dict[str, ClauseChecks]:
    out: dict[str, ClauseChecks] = {}
    for fam in spec.FAMILIES:
        mod = importlib.import_module(f"genspec.conformance.checks.{fam}")
        for chk in getattr(mod, "CHECKS", []):
            spec.get(chk.clause)
            if chk.clause in out:
                raise ValueError(f"two ClauseChecks for {chk.clause}")
            out[chk.clause] = with_derived(chk)
    return out


def checks_for(clause_id: str) -> ClauseChecks:
    spec.get(clause_id)
    return all_checks().get(clause_id) or with_derived(ClauseChecks(clause=clause_id))


def reference_function(clause_id: str):
    """The reference implementation of a clause: the checks' override, else reference.<family>.<function>; a Dual
    argument is handed over as its NumPy side."""
    chk = checks_for(clause_id)
    if chk.reference is not None:
        fn = chk.reference
    else:
        name = spec.get(clause_id).function
        if name is None:
            return None
        fn = getattr(importlib.import_module(f"genspec.reference.{spec.module_of(clause_id)}"), name)

    @functools.wraps(fn)
    def reference(*args, **kw):            # a Dual argument (a callable in both backends) arrives as its NumPy side
        return fn(*args, **{k: (v.numpy if isinstance(v, Dual) else v) for k, v in kw.items()})
    return reference


SELECTOR_HELP = "exact id, family or module name (gan, autoregressive), dotted prefix (cfg.), or glob (gan.*, *loss)"


class UnknownSelectorError(UnknownClauseError):
    """A clause selector that matches no clause."""

    def __init__(self, pattern: str):
        UnknownClauseError.__init__(self, pattern, ())
        fams = sorted({c.family for c in spec.CLAUSES.values()} | set(spec.FAMILIES))
        self.args = (f"no clause matches {pattern!r}; a selector is an {SELECTOR_HELP}; "
                     f"families and modules: {', '.join(fams)}",)


def matches(pattern: str) -> list[str]:
    """The clause ids one selector names, in catalog order; [] if none.

    A selector is an exact id (``gan.value``); a family or module name (``rf`` selects ``rf.*`` and the ``fm.*``
    clauses declared in the rf module; ``autoregressive`` selects ``ar.*``); a dotted prefix (``cfg.`` or a
    multi-part ``a.b`` selecting ``a.b.*``); or a glob on the id (``gan.*``, ``*loss``, ``ddpm.?*``).
    The same definition serves ``genspec conform --clause``, ``genspec list`` and ``genspec explain``.
    """
    ids = list(spec.CLAUSES)
    if pattern in spec.CLAUSES:
        return [pattern]
    if any(ch in pattern for ch in "*?["):
        return [i for i in ids if fnmatch.fnmatchcase(i, pattern)]
    stem = pattern.removesuffix(".")
    return [i for i in ids if i.startswith(stem + ".") or spec.module_of(i) == stem]


def select(patterns: list[str] | None) -> list[str]:
    """Clause ids matching any selector (see :func:`matches`): the first selector's matches in catalog order, then
    the next one's new matches; all clauses if none given. A selector that matches nothing raises
    :class:`spec.UnknownClauseError` naming it (an id-like one lists the clauses of its family).
    """
    if not patterns:
        return list(spec.CLAUSES)
    out: list[str] = []
    for p in patterns:
        hit = matches(p)
        if not hit:
            if "." in p.strip(".") and not any(ch in p for ch in "*?["):
                raise UnknownClauseError(p, list(spec.CLAUSES))
            raise UnknownSelectorError(p)
        out += [h for h in hit if h not in out]
    return out
