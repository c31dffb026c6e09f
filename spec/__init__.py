"""genspec's specification: every clause of the source notes as data.

>>> import spec
>>> spec.get("gan.optimal_discriminator").statement
'D^*(x) = \\\\frac{p_{data}(x)}{p_{data}(x) + p_G(x)}'
"""
from __future__ import annotations

import importlib

from .errors import GenspecError, SpecInputError, TargetError, UnknownClauseError
from .schema import Boundary, Clause, Convention, Domain, Provenance, Symbol, Tolerance, Tolerances, Variant, tolerances

SPEC_VERSION = "0.1.0"

# One module per family; each defines CLAUSES: list[Clause]. The order here is the order of the catalog.
FAMILIES = (
    "gan", "vae", "autoregressive",
    "rf", "ddpm", "family", "schedule", "score", "optimal", "sampler", "consistency", "distill",
    "cond", "cfg",
    "ldm", "dit", "attention", "video",
    "vq", "sde", "guidance",
)


_MODULE: dict[str, str] = {}


def _load() -> dict[str, Clause]:
    out: dict[str, Clause] = {}
    for fam in FAMILIES:
        mod = importlib.import_module(f"genspec.spec.{fam}")
        for c in mod.CLAUSES:
            if c.id in out:
                raise ValueError(f"duplicate clause id {c.id}")
            if c.family not in (fam, *getattr(mod, "ALSO_PREFIXES", ())):
                raise ValueError(f"clause {c.id} declared in spec/{fam}.py")
            out[c.id] = c
            _MODULE[c.id] = fam
    return out


CLAUSES: dict[str, Clause] = _load()


def get(clause_id: str) -> Clause:
    try:
        return CLAUSES[clause_id]
    except KeyError:
        raise UnknownClauseError(clause_id, list(CLAUSES)) from None


def module_of(clause_id: str) -> str:
    """The family module that declares a clause: spec/<m>.py, reference/<m>.py, accelerated/<m>.py, conformance/<m>.py.

    Usually the id's prefix; a module may also declare other prefixes (``ALSO_PREFIXES``, e.g. ``fm.`` in ``rf``).
    """
    get(clause_id)
    return _MODULE[clause_id]


def export() -> dict:
    """The whole spec as JSON-ready data."""
    return {
        "spec_version": SPEC_VERSION,
        "families": list(FAMILIES),
        "clauses": [c.model_dump(mode="json") for c in CLAUSES.values()],
    }


def json_schema() -> dict:
    return Clause.model_json_schema()


__all__ = [
    "SPEC_VERSION", "FAMILIES", "CLAUSES", "get", "module_of", "export", "json_schema", "Boundary",
    "Clause", "Convention", "Domain", "Provenance", "Symbol", "Tolerance", "Tolerances", "Variant", "tolerances",
    "GenspecError", "SpecInputError", "TargetError", "UnknownClauseError",
]
