"""Declarations of the checks each clause owes, in the style of PyTorch's OpInfo.

A family module `conformance/<family>.py` defines ``CHECKS = [ClauseChecks(...), ...]``. From these the
suite generates its tests; nothing here runs anything.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

Strategy = Any  # a hypothesis SearchStrategy


@dataclass(frozen=True)
class Proof:
    """A symbolic claim: ``claim()`` returns a sympy expression that must simplify to 0, or a bool True."""

    name: str
    claim: Callable[[], Any]
    statement: str = ""


@dataclass(frozen=True)
class Dual:
    """A callable argument given in both backends (e.g. a velocity field f(x_t, t)).

    The harness hands the target the one that matches its backend and the reference the NumPy one.
    """

    numpy: Callable
    torch: Callable
    label: str = "callable"

    def __repr__(self) -> str:
        return f"<{self.label}>"


@dataclass(frozen=True)
class Property:
    """An invariant checked on the target's function.

    ``check(ctx, fn, inputs)`` calls ``fn(**inputs)`` (NumPy float64 in, NumPy float64 out; the harness
    converts to and from the target's backend and dtype) and uses ``ctx.assert_close`` / ``ctx.require``.
    """

    name: str
    check: Callable
    cases: Strategy | None = None  # defaults to the clause's cases
    description: str = ""


@dataclass(frozen=True)
class ClauseChecks:
    clause: str
    cases: Strategy | None = None
    """hypothesis strategy of keyword inputs (NumPy float64 arrays, Python scalars, Dual callables); None: generated
    from the clause's symbols (``harness.inputs.inputs(clause)``, which also takes the per-clause overrides)."""
    reference: Callable | None = None
    """override: ``reference(**inputs, **conventions)``; default: reference.<family>.<clause.function>."""
    proofs: tuple[Proof, ...] = ()
    symbolic: Callable | None = None
    """a NumPy function lambdified from the derivation, compared with the reference on ``cases``."""
    symbolic_cases: Strategy | None = None
    properties: tuple[Property, ...] = ()
    compare: Callable | None = None
    """override of the output comparison: ``compare(ctx, got, expected, inputs)``. Compare with
    ``ctx.assert_close(clause, got', expected', what=..., tol=...)``: it records the error against the tolerance it
    used under the running check (the report's figures) and raises with a message naming both; the harness records
    the raw max |got - expected| itself."""
    convention_cases: Callable | None = None
    """optional: ``convention_cases(conventions) -> strategy`` when inputs depend on the declared variant."""
    example: Callable[[], dict] | None = None
    """a worked example for ``genspec explain``: returns keyword inputs for the reference."""
    max_examples: int | None = None
    """cap on examples for costly clauses (the profile's count is used if smaller)."""
    extra: dict = field(default_factory=dict)

    def value_cases(self, conventions: dict | None = None) -> Strategy:
        """The value check's inputs: ``convention_cases(conventions)`` when declared, else ``cases``, else generated
        from the clause's symbols (harness/inputs.py)."""
        if self.convention_cases is not None and conventions is not None:
            return self.convention_cases(conventions)
        if self.cases is not None:
            return self.cases
        from .inputs import inputs
        return inputs(self.clause)
