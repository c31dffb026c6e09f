"""The documented exceptions of genspec. Only these (and TypeError for wrong argument types) escape."""
from __future__ import annotations


class GenspecError(Exception):
    """Base class of every error genspec raises on purpose."""


class SpecInputError(GenspecError, ValueError):
    """Bad input to a clause's function: names the clause, the argument and what was expected."""

    def __init__(self, clause: str, argument: str, expected: str, got: str = ""):
        self.clause, self.argument, self.expected, self.got = clause, argument, expected, got
        msg = f"{clause}: argument {argument!r} must be {expected}"
        if got:
            msg += f"; got {got}"
        super().__init__(msg)


class UnknownClauseError(GenspecError, KeyError):
    def __init__(self, clause: str, known=()):
        self.clause = clause
        hint = ""
        close = [k for k in known if k.split(".")[0] == clause.split(".")[0]][:8]
        if close:
            hint = "; clauses of that family: " + ", ".join(close)
        super().__init__(f"unknown clause id {clause!r}{hint}")

    def __str__(self) -> str:  # KeyError quotes its message otherwise
        return self.args[0]


class TargetError(GenspecError):
    """A conformance target cannot be loaded or is malformed."""
