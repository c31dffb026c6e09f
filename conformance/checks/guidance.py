"""Conformance checks of classifier guidance (cfg.classifier_guidance): Bayes' rule in sympy, and with the exact
class posterior of the conditional oracles (reference/cond.py) the guided score equals CFG's score form at s = 1 + w."""
from __future__ import annotations

import numpy as np
import sympy as sp
from hypothesis import strategies as st

from genspec.reference import cfg as RCFG
from genspec.spec.schema import Tolerance

from ..fixtures import fd_grad_log_posterior, oracle_inputs, oracle_scores
from ..harness.declare import ClauseChecks, Proof, Property
from ..harness.inputs import inputs

CID = "cfg.classifier_guidance"


def _bayes_identity():
    """Two classes, any class densities p(x | 0), p(x | 1): ∂log p(x) + s ∂log p(y=0 | x) = (1 + w) ∂log p(x | 0) −
    w ∂log p(x) at w = s − 1 (CFG's score form)."""
    x, s = sp.symbols("x s", real=True)
    pi = sp.Symbol("pi", positive=True)
    n0, n1 = sp.Function("n0", positive=True)(x), sp.Function("n1", positive=True)(x)
    px = pi * n0 + (1 - pi) * n1
    lhs = sp.diff(sp.log(px), x) + s * sp.diff(sp.log(pi * n0 / px), x)
    w = s - 1
    rhs = (1 + w) * sp.diff(sp.log(n0), x) - w * sp.diff(sp.log(px), x)
    d0, d1, m0, m1 = sp.symbols("d0 d1 m0 m1", positive=True)       # n0', n1', n0, n1 at x: a rational identity
    return sp.cancel((lhs - rhs).subs({sp.Derivative(n0, x): d0, sp.Derivative(n1, x): d1}).subs({n0: m0, n1: m1}))


def _cases():
    """score and ∇log p_φ from their domains; the gain s ∈ {0, 1, 3} ∪ [−1, 10] (a target declaring scale="w" gets
    w = s − 1 from the harness)."""
    return inputs(CID, s=st.sampled_from([0.0, 1.0, 3.0]) | st.floats(-1.0, 10.0))


@st.composite
def _oracle_cases(draw):
    inp = draw(oracle_inputs(allow_null=False, t_low=0.1, t_high=0.9, max_n=6))
    return {**inp, "s": draw(st.sampled_from([0.0, 1.0]) | st.floats(0.0, 5.0))}


def _equals_cfg_score_form(ctx, fn, inp):
    """With the exact posterior: s_∅ + s ∇log p(y | x_t) = (1 + w) s_y − w s_∅ at w = s − 1 (cfg.combine)."""
    s = inp["s"]
    s_y, s_null, gm, _ = oracle_scores(inp)
    got = fn(score=s_null, grad_log_classifier=fd_grad_log_posterior(inp["x_t"], inp["y"], inp["t"], gm), s=s)
    tol = ctx.tolerance(CID)
    fd = Tolerance(rtol=max(tol.rtol, 1e-6), atol=max(tol.atol, 1e-6 * (1 + s)))
    ctx.assert_close(CID, got, RCFG.cfg_combine(s_y, s_null, s - 1.0), tol=fd,
                     what="classifier-guided score [exact posterior] vs CFG score form at w = s − 1")


CHECKS = [
    ClauseChecks(
        clause=CID,
        cases=_cases(),
        proofs=(Proof("Bayes: ∇log p + s ∇log p(y|x) = CFG score form at w = s − 1 (two-class 1-D mixture)",
                      _bayes_identity),),
        properties=(Property("with the exact class posterior it equals CFG's score form at s = 1 + w",
                             _equals_cfg_score_form, cases=_oracle_cases()),),
        example=lambda: {"score": np.array([[0.1, -0.2]]), "grad_log_classifier": np.array([[1.0, 0.5]]), "s": 2.0},
    ),
]
