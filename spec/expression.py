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

Importing sympy costs half a second, which ``genspec list``, ``explain`` and ``--version`` should not pay: the spec's
modules write their math with :func:`symbols`, whose symbols record the arithmetic done on them (:class:`Math`) and
replay it on sympy's own symbols the first time a consumer reads the expression (:func:`sympy`). The clause schema
hands its readers the sympy expression (spec/schema.py); the replay is the declaration's own arithmetic, so the result
is the expression that writing it with sympy symbols gives.
"""
from __future__ import annotations

import functools
import operator
from typing import Any


class Math:
    """A sympy expression not built yet: a symbol (``symbols``), a number, or an operator or function applied to
    others. It acts as its sympy expression wherever one is used (arithmetic with sympy objects, ``str``, ``==``,
    attributes such as ``.subs``, sympy's functions through ``_sympy_``); the spec's validation reads it without
    sympy (:func:`names`, :func:`reads`)."""

    __slots__ = ("_op", "_args", "_built")

    def __init__(self, op: str, args: tuple):
        self._op, self._args, self._built = op, args, None

    @property
    def name(self) -> str:
        """A symbol's name (what ``at={w: 0}`` keys by)."""
        if self._op != "symbol":
            raise AttributeError("name")
        return self._args[0]

    def _sympy_(self):
        if self._built is None:
            import sympy as sp
            if self._op == "symbol":
                self._built = sp.Symbol(self._args[0], real=True)
            elif self._op == "function":
                self._built = sp.Function(self._args[0])
            elif self._op == "number":
                self._built = sp.sympify(self._args[0])
            else:
                self._built = _REPLAY[self._op](*(_built(a) for a in self._args))
        return self._built

    def __getattr__(self, attr: str):
        if attr.startswith("__") or attr in Math.__slots__:
            raise AttributeError(attr)
        return getattr(self._sympy_(), attr)

    def __str__(self) -> str:
        return str(self._sympy_())

    def __repr__(self) -> str:
        return repr(self._sympy_())

    def __eq__(self, other) -> bool:
        return self is other or self._sympy_() == _built(other)

    def __hash__(self) -> int:
        return object.__hash__(self)

    def __call__(self, *args):
        if self._op != "function":
            raise TypeError(f"{self} is not a function")
        return Math("call", (self, *args))

    def __add__(self, o): return Math("add", (self, o))
    def __radd__(self, o): return Math("add", (o, self))
    def __sub__(self, o): return Math("sub", (self, o))
    def __rsub__(self, o): return Math("sub", (o, self))
    def __mul__(self, o): return Math("mul", (self, o))
    def __rmul__(self, o): return Math("mul", (o, self))
    def __truediv__(self, o): return Math("truediv", (self, o))
    def __rtruediv__(self, o): return Math("truediv", (o, self))
    def __pow__(self, o): return Math("pow", (self, o))
    def __rpow__(self, o): return Math("pow", (o, self))
    def __neg__(self): return Math("neg", (self,))
    def __pos__(self): return self
    def __abs__(self): return Math("abs", (self,))


_REPLAY = {"add": operator.add, "sub": operator.sub, "mul": operator.mul, "truediv": operator.truediv,
           "pow": operator.pow, "neg": operator.neg, "abs": abs, "call": lambda f, *a: f(*a)}


def _built(x):
    return x._sympy_() if isinstance(x, Math) else x


def sympy(x):
    """``x`` as sympy: a :class:`Math` built (once), anything else as it is."""
    return x._sympy_() if isinstance(x, Math) else x


def _walk(x):
    if isinstance(x, Math):
        yield x
        if x._op not in ("symbol", "function", "number"):
            for a in x._args:
                yield from _walk(a)


def reads(expr, function: Math) -> bool:
    """Whether ``expr`` applies ``function`` (e.g. :data:`std`); without building it where it is not built yet."""
    if isinstance(expr, Math) and expr._built is None:
        return any(m._op == "call" and m._args[0] is function for m in _walk(expr))
    return bool(getattr(expr, "has", lambda f: False)(sympy(function)))


OUT, BASE = Math("symbol", ("out",)), Math("symbol", ("base",))
std = Math("function", ("std",))


def symbols(names: str) -> tuple[Any, ...]:
    """Real symbols named after a clause's arguments: ``symbols("v_y v_null w")`` (built as sympy's real symbols
    when first read, :class:`Math`)."""
    return tuple(Math("symbol", (n,)) for n in names.replace(",", " ").split())


def as_expression(value):
    """A number, sympy expression (or :class:`Math`) or exported tree ({"text": ..., "tree": ...}, :func:`exported`)
    as an expression; anything else (a string above all: it would need eval) is refused."""
    if isinstance(value, Math):
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return Math("number", (value,))
    import sympy as sp
    if isinstance(value, sp.Expr):
        if not all(s.is_real for s in value.free_symbols):     # the export reads names back as real symbols
            raise ValueError(f"{value}: declare its symbols real (spec.expression.symbols)")
        return value
    if isinstance(value, dict) and "tree" in value:
        return _from_tree(value["tree"])
    raise ValueError(f"{value!r} is not a sympy expression of the clause's arguments (spec.expression.symbols)")


@functools.cache
def _heads() -> dict:
    import sympy as sp
    return {"Add": sp.Add, "Mul": sp.Mul, "Pow": sp.Pow, "Rational": sp.Rational, "Abs": sp.Abs, "exp": sp.exp,
            "log": sp.log, "std": std._sympy_()}


HEADS = ("Add", "Mul", "Pow", "Rational", "Abs", "exp", "log", "std")
"""What an exported expression may be built of: read back by walking the tree, never by eval."""


def exported(expr) -> dict:
    """The JSON form of an expression: its text for a reader, its tree (symbols as names) to read it back."""
    expr = sympy(expr)

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


def _from_tree(t):
    import sympy as sp
    if isinstance(t, str):
        return sp.Symbol(t, real=True)
    if isinstance(t, (int, float)) and not isinstance(t, bool):
        return sp.sympify(t)
    if isinstance(t, dict) and len(t) == 1 and next(iter(t)) in HEADS:
        head, args = next(iter(t.items()))
        return _heads()[head](*(_from_tree(a) if head != "Rational" else a for a in args))
    raise ValueError(f"{t!r} is not an exported expression tree (heads: {sorted(HEADS)})")


def names(expr) -> set[str]:
    """The argument names an expression reads (a :class:`Math` not built yet: every symbol it was written with)."""
    if isinstance(expr, Math) and expr._built is None:
        out = set()
        for m in _walk(expr):
            if m._op == "symbol":
                out.add(m._args[0])
            out |= {s.name for a in m._args if not isinstance(a, Math) for s in getattr(a, "free_symbols", ())}
        return out
    return {s.name for s in sympy(expr).free_symbols}


def _sample_std(v):
    import numpy as np
    v = np.asarray(v, dtype=np.float64)
    return np.std(v, axis=tuple(range(1, v.ndim)), keepdims=True)


@functools.cache
def _numeric(expr, args: tuple[str, ...]):
    import sympy as sp
    return sp.lambdify([sp.Symbol(a, real=True) for a in args], expr, modules=[{"std": _sample_std}, "numpy"])


def evaluate(expr, values: dict):
    """``expr`` on NumPy arrays or Python numbers (the names it reads looked up in ``values``)."""
    expr = sympy(expr)
    args = tuple(sorted(names(expr)))
    return _numeric(expr, args)(*(values[a] for a in args))


def substitute(expr, replace: dict):
    """``expr`` with arguments replaced by expressions, simultaneously (names as keys)."""
    expr = sympy(expr)
    return expr.subs({s: sympy(replace[s.name]) for s in expr.free_symbols if s.name in replace}, simultaneous=True)
