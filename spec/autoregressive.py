"""Clauses of the autoregressive family, ids `ar.*` (sources 03, 04).

A model over sequences x = (x_0, …, x_{L-1}) of tokens in {0, …, K-1} is given here by its explicit joint: an
array `joint` of shape (K,)*L, non-negative, summing to 1. Conditionals are ratios of marginals of the joint,
p(x_i | x_<i) = p(x_≤i) / p(x_<i), p(x_≤i) = Σ_{x_{i+1..}} joint. Tokens are integer arrays (never rounded).
Logs are natural logs, log 0 = -inf exactly.

Validation of `joint`: finite, ≥ 0, every axis of one length K, |Σ joint - 1| ≤ 1e-9 for float64 (for float32 /
bfloat16 tensors the bound is K^L·ε_dtype: the rounding of a normalised joint), else SpecInputError.
"""
import math

from .errors import SpecInputError
from .schema import Clause, Domain, Provenance, Symbol, tolerances

ALSO_PREFIXES = ("ar",)

P = Provenance
JOINT = Domain(low=0.0, high=1.0, shape=("K", "..."))
"""(K,)*L: every further axis also of length K and the sum 1 are checked by :func:`check_joint`."""
SUM_TOL = 1e-9
"""|Σ joint - 1| for a float64 joint; a lower-precision one is normalised within its rounding, K^L·ε_dtype."""


def check_joint(clause: str, joint, eps: float = 0.0):
    """What the joint's domain cannot say: shape (K,)*L, Σ joint = 1 within max(SUM_TOL, K^L·eps) (eps: the
    machine epsilon of a joint that is not float64). NumPy arrays and torch tensors alike."""
    shape = tuple(joint.shape)
    if shape[0] == 0 or any(s != shape[0] for s in shape):
        raise SpecInputError(clause, "joint", "shape (K,)*L with K ≥ 1", f"shape {shape}")
    tol = max(SUM_TOL, math.prod(shape) * eps)
    total = float((joint.double() if hasattr(joint, "double") else joint).sum())       # torch: in float64
    if abs(total - 1.0) > tol:
        raise SpecInputError(clause, "joint", f"a distribution summing to 1 within {tol:.1g}", f"sum {total!r}")
    return shape[0], len(shape)


def check_sequences(clause: str, name: str, v, K: int, L: int, integer: bool = True):
    """Rows of length L = the joint's number of axes (and tokens in [0, K))."""
    if v.shape[1] != L:
        raise SpecInputError(clause, name, f"shape (n, L) with L = {L}", f"shape {tuple(v.shape)}")
    if integer and v.shape[0] * L and (int(v.min()) < 0 or int(v.max()) >= K):
        raise SpecInputError(clause, name, f"tokens in [0, {K})", f"values in [{int(v.min())}, {int(v.max())}]")
    return v

CLAUSES = [
    Clause(
        id="ar.factorization",
        title="Chain rule: log p(x) = Σ_i log p(x_i | x_<i)",
        statement=(r"\log p(x) = \sum_{i=0}^{L-1}\log p(x_i\mid x_{<i}),\qquad "
                   r"p(x_i\mid x_{<i}) = \frac{p(x_{\le i})}{p(x_{<i})},\ p(x_{\le i}) = \sum_{x_{i+1},\dots,x_{L-1}} "
                   r"p(x)"),
        kind=("identity", "value", "property"),
        provenance=(P(source="03",
                      quote="Autoregressive models factor the joint distribution into a product of conditionals."),
                    P(source="04",
                      quote="Autoregressive models factorize the joint density as a product of conditional "
                            "distributions over a sequence"),
                    P(source="04", quote="Enable exact likelihood evaluation.")),
        function="chain_rule_log_prob",
        symbols=(Symbol(name="joint", description="explicit joint p(x) over {0..K-1}^L, shape (K,)*L", domain=JOINT),
                 Symbol(name="x", description="token sequences, one per row",
                        domain=Domain(kind="integer", low=0, high=float("inf"), shape=("n", "L"))),
                 Symbol(name="log_p", description="Σ_i log p(x_i | x_<i) per sequence, shape (n,)", role="output")),
        tolerance=tolerances(
            float64=(1e-13, 1e-14), float32=(2e-6, 1e-6), bfloat16=(1e-2, 1e-2),
            why="a telescoping sum of L ≤ 4 differences of logs of marginals; every |log p(x_≤i)| ≤ |log p(x)| "
                "(marginals dominate the joint), so the error is ≤ (2L + K^L-term sums) ulps relative to |log p(x)| "
                "plus an absolute floor for log p(x) ≈ 0. bfloat16: logs in float32, output rounding 2^-9"),
        singular="p(x_<i) = 0 for some i: the sequence has probability 0 and the result is -inf (the conditional is "
                 "undefined; the spec does not evaluate it). p(x_i | x_<i) = 0 also gives -inf. No NaN is ever "
                 "returned.",
        notes="The sum equals log joint[x] exactly in exact arithmetic (telescoping; sympy proof for L = 3). A tokens "
              "array that is not integer, not (n, L), or has entries outside [0, K) raises SpecInputError.",
    ),
    Clause(
        id="ar.sampling",
        title="Ancestral (inverse-CDF) sampling reproduces the joint",
        statement=(r"x_i = \min\{k : F(k\mid x_{<i}) > u_i\},\quad F(k\mid x_{<i}) = \sum_{j\le k} p(j\mid "
                   r"x_{<i}),\quad u_i\sim U[0,1)\ \Rightarrow\ x\sim p"),
        kind=("value", "property"),
        provenance=(P(source="04", quote="Support straightforward sampling via ancestral sampling."),
                    P(source="03", quote="GPT generates text one token at a time.")),
        function="ancestral_sample",
        symbols=(Symbol(name="joint", description="explicit joint p(x), shape (K,)*L", domain=JOINT),
                 Symbol(name="u", description="uniforms, one per token",
                        domain=Domain(low=0.0, high=1.0, shape=("n", "L"))),
                 Symbol(name="x", description="sampled tokens, integer array (n, L)", role="output",
                        domain=Domain(kind="integer", low=0, high=float("inf"), shape=("n", "L")))),
        tolerance=tolerances(
            float64=(0.0, 0.0), float32=(0.0, 0.0), bfloat16=(0.0, 0.0),
            why="tokens are integers: exact. Both implementations compare the unnormalised CDF with u·p(x_<i) in "
                "float64 (Σ_{j≤k} p(x_<i, j) > u_i p(x_<i)), so given the same (rounded) inputs they agree exactly "
                "whenever the float64 marginal sums are exact (dyadic joints, as in the conformance cases); for other "
                "joints the two may differ only where u_i p(x_<i) lies within an ulp of a CDF step (summation order)"),
        singular="u_i = 1 (reachable after rounding a float32/bfloat16 uniform) or a CDF whose last entry rounds below "
                 "u_i: x_i is the last token of positive conditional probability. A token of conditional probability "
                 "0 is never drawn, so a sampled prefix always has p(x_<i) > 0.",
        notes="Deterministic given u: the randomness is an argument. Property: the frequencies of n = 20000 samples "
              "pass a chi-square goodness-of-fit test (p > 1e-3; cells with expected count < 5 merged), no sample "
              "falls in a zero-probability cell, and sampling x_i from the marginal instead of the conditional fails "
              "it.",
    ),
]
