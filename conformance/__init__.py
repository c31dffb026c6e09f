"""genspec's conformance suite: checks any implementation against the spec's reference.

Bind your functions to clause ids with :class:`Target` and run ``genspec conform --target yourmodule``.
"""
from .harness.bind import (
           SELF_ATTENTION,
           Composition,
           Module,
           Where,
           check_composition,
           const,
           even,
           interval,
           recorded,
           square,
           without,
)
from .harness.declare import ClauseChecks, Dual, Proof, Property
from .harness.gradients import with_gradients
from .harness.target import Target

__all__ = ["Target", "ClauseChecks", "Dual", "Proof", "Property", "Module", "Where", "const", "interval", "without",
           "even", "square", "recorded", "SELF_ATTENTION", "Composition", "check_composition", "with_gradients"]
