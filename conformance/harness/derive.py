"""The checks a clause's declared math implies (spec/expression.py): stated once in spec/, checked here four ways.

- ``Clause.expression``: the reference is compared with it (the derivation, lambdified);
- ``Clause.variant_expressions``: a proof that each variant, under its ``arguments``, is the default's value;
- each ``Law``: a sympy proof in every variant (where the clause has an expression) and a property on every target;
- ``Clause.error_scale``: the value check (and each law) compares errors divided by it.

``registry.checks_for`` adds these to what conformance/checks/<family>.py declares by hand.
"""
from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

import numpy as np

from genspec import spec
from genspec.spec import expression as E
from genspec.spec.schema import Clause, Law, _raw

if TYPE_CHECKING:
    import sympy as sp

from .declare import ClauseChecks, Proof, Property


def with_derived(chk: ClauseChecks, clause: Clause | None = None) -> ClauseChecks:
    """``chk`` with the proofs, properties, derivation and comparison its clause's declarations imply put first
    (``clause``: another declaration of the same id, e.g. a deliberately wrong one in the tests)."""
    c = clause or spec.get(chk.clause)
    if c.expression is None and not c.laws and c.error_scale is None:
        return chk
    proofs = [] if c.expression is None else [_proof(c, law) for law in c.laws if not _reads_std(law)]
    if c.variant_expressions and c.expression is not None:
        proofs.insert(0, _proof(c, None))
    return dataclasses.replace(
        chk, proofs=(*proofs, *chk.proofs),
        properties=(*(Property(law.name, _law_check(c, law), cases=_law_cases(chk, law)) for law in c.laws),
                    *chk.properties),
        symbolic=chk.symbolic or (None if c.expression is None else lambda **kw: E.evaluate(c.expression, kw)),
        compare=chk.compare or (None if c.error_scale is None else _scaled_compare(c)))


def _proof(c: Clause, law: Law | None) -> Proof:
    """In every variant: its value is the default's (law None), or the law holds."""
    def claim():
        import sympy as sp
        return [sp.expand(f - c.expression) if law is None else _law_claim(law, f) for f in forms(c).values()]
    if law is None:
        return Proof(f"every variant is the default's value under its arguments ({', '.join(c.variant_expressions)})",
                     claim)
    return Proof(law.name, claim)


def forms(c: Clause) -> dict[str, sp.Expr]:
    """The clause's value in each variant with an expression, rewritten in the default's units (its ``arguments``)."""
    assert c.expression is not None
    return {"default": c.expression,
            **{name: E.substitute(e, c.variant(name).arguments) for name, e in c.variant_expressions.items()}}


def _reads_std(law: Law) -> bool:
    """Whether the law reads std (it is checked on targets, not proven): read from the declaration, sympy or not."""
    return any(E.reads(e, E.std) for e in (_raw(law, "of"), _raw(law, "equals"), *_raw(law, "at").values()))


def derived_counts(c: Clause) -> tuple[int, int]:
    """How many proofs and properties :func:`with_derived` adds to the clause's checks, counted from the declaration
    without building a sympy expression (``genspec list``)."""
    expression, variants = _raw(c, "expression"), _raw(c, "variant_expressions")
    if expression is None and not c.laws and _raw(c, "error_scale") is None:
        return 0, 0
    proofs = 0 if expression is None else sum(not _reads_std(law) for law in c.laws)
    return proofs + bool(variants and expression is not None), len(c.laws)


def _law_claim(law: Law, value: sp.Expr) -> sp.Expr:
    """of − equals with out = the value at the law's arguments and base = the value: zero if the law holds."""
    out = E.substitute(value, law.at)
    return (law.of - law.equals).subs({E.sympy(E.OUT): out, E.sympy(E.BASE): value}, simultaneous=True)


def _law_cases(chk: ClauseChecks, law: Law):
    """The clause's value cases without the arguments the law sets to constants (a failure shows what was used)."""
    fixed = {k for k, e in law.at.items() if not E.names(e)}
    return chk.value_cases().map(lambda inp: {k: v for k, v in inp.items() if k not in fixed}) if fixed else None


def _at(c: Clause, law: Law, inp: dict) -> dict:
    kinds = {s.name: s.domain.kind for s in c.inputs}
    out = {}
    for k, e in law.at.items():
        v = E.evaluate(e, inp)
        out[k] = (int(v) if kinds.get(k) == "integer" else float(v)) if np.ndim(v) == 0 else v
    return out


def _law_scale(c: Clause, law: Law, values: dict):
    """The magnitude of ``law.of``'s error: error_scale M at the law's arguments, times |∂of/∂out| where ``of`` is
    linear in out, else M's largest entry per sample (std and the like are 1-Lipschitz in the max norm)."""
    if c.error_scale is None:
        return 1.0
    m = np.asarray(E.evaluate(c.error_scale, values), dtype=np.float64)
    import sympy as sp
    if law.of == E.sympy(E.OUT):
        return m
    slope = sp.diff(law.of, E.sympy(E.OUT))
    if not slope.has(E.sympy(E.OUT)) and not slope.free_symbols:
        return m * abs(float(slope))
    return np.max(m, axis=tuple(range(1, m.ndim)), keepdims=True) if m.ndim > 1 else m


def _law_check(c: Clause, law: Law):
    """fn at the law's arguments: ``of`` (of its output) equals ``equals``, within the clause's tolerance."""
    def check(ctx, fn, inp):
        at = _at(c, law, inp)
        values = {**inp, **at}
        env = {**inp, "out": np.asarray(fn(**values), dtype=np.float64)}
        if E.sympy(E.BASE) in law.of.free_symbols | law.equals.free_symbols:
            env["base"] = np.asarray(fn(**inp), dtype=np.float64)
        got, want = E.evaluate(law.of, env), E.evaluate(law.equals, env)
        m = _law_scale(c, law, values)
        shown = ", ".join(f"{k} = {law.at[k]}" for k in at)
        ctx.assert_close(c.id, np.asarray(got) / m, np.asarray(want) / m,
                         what=f"{law.of} at {shown or 'the drawn arguments'} vs {law.equals}"
                              + (" (divided by error_scale)" if c.error_scale is not None else ""))
    return check


def _scaled_compare(c: Clause):
    """|got − expected| / M within the tolerance, M = error_scale at the inputs (as drawn: the default's units)."""
    def compare(ctx, got, expected, inp):
        g, e = np.asarray(got, dtype=np.float64), np.asarray(expected, dtype=np.float64)
        if g.shape != e.shape:
            return ctx.assert_close(c.id, g, e)
        m = np.asarray(E.evaluate(c.error_scale, inp), dtype=np.float64)
        ctx.assert_close(c.id, g / m, e / m, what=f"output / M, M = {c.error_scale}")
    return compare
