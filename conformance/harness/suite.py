"""The conformance suite, generated from the spec and the ClauseChecks of each family.

Run it with ``genspec conform`` (or
``pytest -p genspec.conformance.harness.plugin --pyargs genspec.conformance.harness.suite``).
"""
from __future__ import annotations

import pytest

from genspec.conformance.harness import run
from genspec.conformance.harness.plugin import state
from genspec.conformance.harness.registry import checks_for


@pytest.fixture
def st(request):
    return state(request.config)


def test_proof(st, clause_id, item):
    """A sympy derivation of an identity the clause claims."""
    done, failure = st.background.result(("proof", clause_id, checks_for(clause_id).proofs.index(item)))
    if not done:
        run.check_proof(clause_id, item)
    elif failure:
        raise AssertionError(failure)


def test_reference_matches_derivation(st, clause_id, item):
    """The float64 reference equals the expression derived symbolically."""
    done, failure = st.background.result(("derivation", clause_id, 0))
    if not done:
        run.check_reference_matches_derivation(clause_id, st.profile)
    elif failure:
        raise AssertionError(failure)


def _outside_support(request, e) -> None:
    """Skip a check none of whose inputs lies inside the target's declared support, marked so (the report counts it
    "not implemented"; an unbound clause's skip is not this)."""
    request.node.user_properties.append(("outside_support", "1"))
    pytest.skip(str(e))


def test_target_matches_reference(st, clause_id, item, variant, request):
    """The target equals the reference within the clause's tolerance for the run's dtype (in the declared variant
    combination ``variant``: the target's run, see Target.in_run)."""
    if st.target.binding(clause_id) is None:
        pytest.skip(f"not implemented: target {st.target.name!r} binds nothing to {clause_id}")
    try:
        run.check_target_matches_reference(st.ctxs[variant], clause_id, st.profile)
    except run.NotSupported as e:
        _outside_support(request, e)


def test_property(st, clause_id, item, variant, request):
    """An invariant the clause states, checked on the target."""
    from genspec import spec
    if spec.get(clause_id).function is None:         # spec-only: a worker process may have run it meanwhile
        done, failure = st.background.result(("property", clause_id, checks_for(clause_id).properties.index(item)))
        if done and failure:
            raise AssertionError(failure)
        if done:
            return
    if spec.get(clause_id).function is not None and st.target.binding(clause_id) is None:
        pytest.skip(f"not implemented: target {st.target.name!r} binds nothing to {clause_id}")
    try:
        run.check_property(st.ctxs[variant], clause_id, item, st.profile)
    except run.NotSupported as e:
        _outside_support(request, e)
