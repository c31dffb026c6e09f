"""Collects the ClauseChecks declared in conformance/checks/<family>.py for every family of the spec.

``genspec list`` and ``genspec explain`` should not import every checks module (hypothesis, scipy.stats, sympy:
seconds): :func:`declared` reads where each clause's checks are declared, and how many proofs and properties they
list, from the modules' source; ``explain`` imports the one module, ``list`` imports none.
"""
from __future__ import annotations

import ast
import fnmatch
import functools
import importlib
import os
from functools import cache

from genspec import spec
from genspec.spec.errors import UnknownClauseError

from .declare import ClauseChecks, Dual

CHECKS_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "checks")


@cache
def module_checks(module: str) -> dict[str, ClauseChecks]:
    """The ClauseChecks of conformance/checks/<module>.py, by clause, with their derived checks."""
    from .derive import with_derived
    out: dict[str, ClauseChecks] = {}
    mod = importlib.import_module(f"genspec.conformance.checks.{module}")
    for chk in getattr(mod, "CHECKS", []):
        spec.get(chk.clause)
        if chk.clause in out:
            raise ValueError(f"two ClauseChecks for {chk.clause}")
        out[chk.clause] = with_derived(chk)
    return out


@cache
def all_checks() -> dict[str, ClauseChecks]:
    out: dict[str, ClauseChecks] = {}
    for fam in spec.FAMILIES:
        for cid, chk in module_checks(fam).items():
            if cid in out:
                raise ValueError(f"two ClauseChecks for {cid}")
            out[cid] = chk
    return out


@cache
def declared() -> tuple[dict[str, tuple[str, int | None, int | None]], tuple[str, ...]]:
    """Read from the checks modules' source without importing them: for each clause whose ``ClauseChecks(clause=...)``
    names it by a literal (or a module constant holding one), (its module, its proofs, its properties): a count is
    None where the tuple is not written out element by element. Second, the modules with a ClauseChecks call whose
    clause the source does not say: any clause may be declared there."""
    found: dict[str, tuple[str, int | None, int | None]] = {}
    opaque: list[str] = []
    for fam in spec.FAMILIES:
        with open(os.path.join(CHECKS_DIR, f"{fam}.py"), encoding="utf-8") as f:
            source = f.read()
        tree = ast.parse(source)
        calls = [i for i, line in enumerate(source.splitlines(), 1) if "ClauseChecks(" in line]
        consts: dict[str, object] = {}
        for top in tree.body:
            if isinstance(top, ast.Assign) and len(top.targets) == 1:
                t, v = top.targets[0], top.value
                pairs = (zip(t.elts, v.elts, strict=True) if isinstance(t, ast.Tuple) and isinstance(v, ast.Tuple)
                         and len(t.elts) == len(v.elts) else [(t, v)])
                consts.update({n.id: e.value for n, e in pairs
                               if isinstance(n, ast.Name) and isinstance(e, ast.Constant)})
        # only the statements that write ClauseChecks( are walked (most of a module is functions without one)
        nodes = [n for top in tree.body if any(top.lineno <= i <= (top.end_lineno or top.lineno) for i in calls)
                 for n in ast.walk(top)]
        for node in nodes:
            if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "ClauseChecks"):
                continue
            kw = {k.arg: k.value for k in node.keywords}
            cl = kw.get("clause", node.args[0] if node.args else None)
            cid = cl.value if isinstance(cl, ast.Constant) else consts.get(getattr(cl, "id", ""))
            if not isinstance(cid, str) or cid in found or any(k.arg is None for k in node.keywords):
                opaque.append(fam)
                continue
            found[cid] = (fam, _listed(kw.get("proofs")), _listed(kw.get("properties")))
    return found, tuple(dict.fromkeys(opaque))


def _listed(v: ast.expr | None) -> int | None:
    """How many elements a keyword's tuple or list writes out (0 if absent; None if not written out)."""
    if v is None:
        return 0
    if isinstance(v, (ast.Tuple, ast.List)) and not any(isinstance(e, ast.Starred) for e in v.elts):
        return len(v.elts)
    return None


def checks_for(clause_id: str) -> ClauseChecks:
    """The clause's checks: those its checks module declares (only that module is imported: the clause's own module's,
    else the one :func:`declared` finds), with the derived ones (harness/derive.py)."""
    own = module_checks(spec.module_of(clause_id))      # where nearly every clause's checks are
    if clause_id in own:
        return own[clause_id]
    where, opaque = declared()
    modules = [where[clause_id][0]] if clause_id in where else opaque
    for m in modules:
        if clause_id in module_checks(m):
            return module_checks(m)[clause_id]
    from .derive import with_derived
    return with_derived(ClauseChecks(clause=clause_id))


def counts(clause_id: str) -> tuple[int, int]:
    """(proofs, properties) of :func:`checks_for`, counted from the checks' source and the clause's declaration where
    the source lists them element by element (``genspec list`` then imports no checks module), else by importing."""
    from .derive import derived_counts
    where, opaque = declared()
    mine = where.get(clause_id)
    if (mine is None and opaque) or (mine is not None and None in mine):
        chk = checks_for(clause_id)
        return len(chk.proofs), len(chk.properties)
    proofs, properties = derived_counts(spec.get(clause_id))
    hand = (mine[1] or 0, mine[2] or 0) if mine else (0, 0)
    return proofs + hand[0], properties + hand[1]


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
