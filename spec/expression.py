"""Math the spec states once, as sympy expressions of a clause's arguments (never as strings, never eval'd).

A clause may declare its value (``Clause.expression``), each variant its own form (``Variant.expression``) and the
units its arguments take (``Variant.arguments``), laws it obeys (``Law``) and the magnitude its errors are measured
against (``Clause.error_scale``). From these one declaration the harness derives the sympy proofs, the reference's
check against the derivation, the property checks on every target and the comparison; ``genspec explain`` prints them.

    w, v_y, v_null = symbols("w v_y v_null")
    expression = (1 + w) * v_y - w * v_null           # v_cfg
    Law("guidance off at w = 0", at={w: 0}, equals=v_y)

``out`` is the function's output at a law's arguments, ``base`` its output at the drawn ones; ``std`` is the
standard deviation of each sample over every axis but the first (population; torch's ``correction=0``).
"""
from __future__ import annotations

import functools

import numpy as np
import sympy as sp

OUT, BASE = sp.Symbol("out", real=True), sp.Symbol("base", real=True)
std = sp.Function("std")


def symbols(names: str) -> tuple[sp.Symbol, ...]:
    """Real sympy symbols named after a clause's arguments: ``symbols("v_y v_null w")``."""
    return tuple(sp.symbols(names, real=True, seq=True))


def as_expression(value) -> sp.Expr:
    """A number, sympy expression or exported tree ({"text": ..., "tree": ...}, :func:`exported`) as a sympy
    expression; anything else (a string above all: it would need eval) is refused."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return sp.sympify(value)
    if isinstance(value, sp.Expr):
        if not all(s.is_real for s in value.free_symbols):     # the export reads names back as real symbols
            raise ValueError(f"{value}: declare its symbols real (spec.expression.symbols)")
        return value
    if isinstance(value, dict) and "tree" in value:
        return _from_tree(value["tree"])
    raise ValueError(f"{value!r} is not a sympy expression of the clause's arguments (spec.expression.symbols)")


HEADS = {"Add": sp.Add, "Mul": sp.Mul, "Pow": sp.Pow, "Rational": sp.Rational, "Abs": sp.Abs, "exp": sp.exp,
         "log": sp.log, "std": std}
"""What an exported expression may be built of: read back by walking the tree, never by eval."""


def exported(expr: sp.Expr) -> dict:
    """The JSON form of an expression: its text for a reader, its tree (symbols as names) to read it back."""
    def tree(e):
        if e.is_Symbol:
            return e.name
        if e.is_Integer or e.is_Float:
            return int(e) if e.is_Integer else float(e)
        if e.is_Rational:
            return {"Rational": [int(e.p), int(e.q)]}
        head = getattr(e.func, "__name__", str(e.func))
        if head not in HEADS:
            raise ValueError(f"{expr}: {head} cannot be exported (spec.expression.HEADS)")
        return {head: [tree(a) for a in e.args]}
    return {"text": str(expr), "tree": tree(expr)}


def _from_tree(t) -> sp.Expr:
    if isinstance(t, str):
        return sp.Symbol(t, real=True)
    if isinstance(t, (int, float)) and not isinstance(t, bool):
        return sp.sympify(t)
    if isinstance(t, dict) and len(t) == 1 and next(iter(t)) in HEADS:
        head, args = next(iter(t.items()))
        return HEADS[head](*(_from_tree(a) if head != "Rational" else a for a in args))
    raise ValueError(f"{t!r} is not an exported expression tree (heads: {sorted(HEADS)})")


def names(expr: sp.Expr) -> set[str]:
    """The argument names an expression reads."""
    return {s.name for s in expr.free_symbols}


def _sample_std(v):
    v = np.asarray(v, dtype=np.float64)
    return np.std(v, axis=tuple(range(1, v.ndim)), keepdims=True)


@functools.cache
def _numeric(expr: sp.Expr, args: tuple[str, ...]):
    return sp.lambdify([sp.Symbol(a, real=True) for a in args], expr, modules=[{"std": _sample_std}, "numpy"])


def evaluate(expr: sp.Expr, values: dict):
    """``expr`` on NumPy arrays or Python numbers (the names it reads looked up in ``values``)."""
    args = tuple(sorted(names(expr)))
    return _numeric(expr, args)(*(values[a] for a in args))


def substitute(expr: sp.Expr, replace: dict[str, sp.Expr]) -> sp.Expr:
    """``expr`` with arguments replaced by expressions, simultaneously (names as keys)."""
    return expr.subs({s: replace[s.name] for s in expr.free_symbols if s.name in replace}, simultaneous=True)
