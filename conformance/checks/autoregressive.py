"""Conformance checks of the autoregressive family (ar.*): the chain rule's telescoping (sympy), target vs reference
on explicit joints, log p(x) = log joint[x], and a chi-square test of ancestral sampling."""
from __future__ import annotations

import itertools
import math

import numpy as np
import sympy as sp
from hypothesis import strategies as st
from scipy import stats

from ..harness.arrays import P_EDGES, draw_edges
from ..harness.declare import ClauseChecks, Proof, Property

# ---- derivation (sympy): an arbitrary positive joint over {0, 1}^3 ----------------------------------
K3, L3 = 2, 3
P3 = {idx: sp.Symbol("p_" + "".join(map(str, idx)), positive=True) for idx in itertools.product(range(K3), repeat=L3)}


def _marginal(prefix):
    """p(x_0..x_{i-1} = prefix) = Σ over the remaining tokens of the joint."""
    rest = itertools.product(range(K3), repeat=L3 - len(prefix))
    return sp.Add(*[P3[tuple(prefix) + r] for r in rest])


def _telescoping():
    """Π_i p(x_≤i)/p(x_<i) - p(x) = 0 for every x, with p(x_<0) = 1 (the empty prefix)."""
    prefix_prob = lambda pre: _marginal(pre) if pre else sp.Integer(1)
    return [sp.Mul(*[_marginal(idx[:i + 1]) / prefix_prob(idx[:i]) for i in range(L3)]) - P3[idx] for idx in P3]


def _conditionals_normalised():
    """Σ_k p(x_<i, k) / p(x_<i) = 1 for every prefix."""
    return [sp.Add(*[_marginal(pre + (k,)) for k in range(K3)]) / _marginal(pre) - 1
            for i in range(1, L3) for pre in itertools.product(range(K3), repeat=i)]


# ---- strategies: dyadic joints, exact in float64, float32 and bfloat16 ---------------------------------------
def dyadic_joint(rng, K, L, alpha=0.5, zero_cells=0):
    """counts / 2^m with integer counts ≤ 256 summing to 2^m: every entry is exact in bfloat16 (8 significant bits),
    every marginal sum is exact in float32, so the target sees the joint the reference sees and Σ joint = 1 exactly."""
    cells = K**L
    T = 2 ** (max(0, math.ceil(math.log2(cells))) + 3)                    # ≈ 8 counts per cell
    counts = rng.multinomial(T, rng.dirichlet(np.full(cells, alpha)))
    for _ in range(zero_cells):                                           # zero-probability cells: singular points
        i, j = rng.choice(cells, 2, replace=False)
        counts[j] += counts[i]
        counts[i] = 0
    while counts.max() > 256:
        i, j = int(np.argmax(counts)), int(np.argmin(counts))
        move = min(counts[i] - 256, 256 - counts[j])
        counts[i] -= move
        counts[j] += move
    return (counts / T).reshape((K,) * L)


def _sample_from(rng, joint, n):
    flat = rng.choice(joint.size, size=n, p=joint.ravel())
    return np.stack(np.unravel_index(flat, joint.shape), axis=1).astype(np.int64)


@st.composite
def _shape(draw):
    K = draw(st.integers(2, 4))
    L = draw(st.integers(1, 4))
    return K, L


@st.composite
def _factorization_inputs(draw):
    K, L = draw(_shape())
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    joint = dyadic_joint(rng, K, L, zero_cells=draw(st.integers(0, 2)))
    n = draw(st.integers(1, 6))
    x = np.concatenate([_sample_from(rng, joint, n), rng.integers(0, K, (n, L))])  # likely and arbitrary sequences
    return {"joint": joint, "x": x}


@st.composite
def _sampling_inputs(draw):
    K, L = draw(_shape())
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    joint = dyadic_joint(rng, K, L, zero_cells=draw(st.integers(0, 2)))
    n = draw(st.integers(1, 30))
    u = draw_edges(draw, rng.random((n, L)), P_EDGES)      # u within 1e-12 of 0 and 1 (and 5e-324), a third of draws
    # the singular and boundary values: u = 0, u = 1, and u exactly on a CDF step of the first token
    cdf0 = np.cumsum(joint.reshape(K, -1).sum(axis=1))
    u[0, 0] = draw(st.sampled_from([0.0, 1.0, *cdf0.tolist()]))
    if n > 1:
        u[1] = draw(st.sampled_from([0.0, 1.0]))
    return {"joint": joint, "u": u}


# ---- properties ---------------------------------------------------------------------------------
def _equals_lookup(ctx, fn, inp):
    with np.errstate(divide="ignore"):
        direct = np.log(inp["joint"][tuple(inp["x"].T)])
    ctx.assert_close("ar.factorization", fn(**inp), direct, what="Σ log p(x_i | x_<i) vs log joint[x]")


def _last_conditional_normalised(ctx, fn, inp):
    """exp(log p(x) - log p(x_<L-1)) summed over the last token is 1 for every prefix of positive probability."""
    cid = "ar.factorization"
    joint = inp["joint"]
    K, L = joint.shape[0], joint.ndim
    if L < 2:
        return
    marg = joint.sum(axis=-1)                          # exact for the dyadic joints of the cases
    prefixes = np.array(list(itertools.product(range(K), repeat=L - 1)), dtype=np.int64)
    prefixes = prefixes[marg[tuple(prefixes.T)] > 0]
    full = np.concatenate([np.repeat(prefixes, K, axis=0), np.tile(np.arange(K), len(prefixes))[:, None]], axis=1)
    log_full = fn(joint=joint, x=full).reshape(len(prefixes), K)
    log_prefix = fn(joint=marg, x=prefixes)[:, None]
    with np.errstate(invalid="ignore"):
        cond = np.exp(log_full - log_prefix)
    total = cond.sum(axis=1)
    # both logs carry the clause's tolerance; exp turns an absolute error δ of the difference into a relative one
    tol = ctx.tolerance(cid)
    delta = tol.rtol * (np.abs(np.where(np.isfinite(log_full), log_full, 0.0)) + np.abs(log_prefix)) + 2 * tol.atol
    bound = np.sum(cond * np.expm1(delta), axis=1) + 1e-13
    worst = float(np.max(np.abs(total - 1.0) - bound, initial=-1.0))
    ctx.require(cid, worst <= 0, f"Σ_k p(k | x_<L-1) = {total} differs from 1 beyond the tolerance")


CHI2_N = 20000
CHI2_ALPHA = 1e-3
CHI2_SEEDS = ((0, 3, 3), (1, 2, 4), (2, 4, 2), (3, 4, 4))   # (seed, K, L)


def chi_square_cells(observed, expected, min_expected=5.0):
    """Merge the cells with expected count < min_expected into one bin (growing it with the next smallest cells
    until its own expected count reaches min_expected); returns (observed, expected) per bin."""
    order = np.argsort(expected, kind="stable")
    o, e = observed[order].astype(np.float64), expected[order].astype(np.float64)
    cut = int(np.sum(e < min_expected))
    while 0 < cut < len(e) and e[:cut].sum() < min_expected:
        cut += 1
    if cut == 0:
        return o, e
    return np.concatenate([[o[:cut].sum()], o[cut:]]), np.concatenate([[e[:cut].sum()], e[cut:]])


def _sampling_case(seed, K, L):
    rng = np.random.default_rng(seed)
    return {"joint": dyadic_joint(rng, K, L, alpha=0.7, zero_cells=2), "u": rng.random((CHI2_N, L))}


def _chi_square(ctx, fn, inp):
    cid = "ar.sampling"
    joint = inp["joint"]
    x = np.asarray(fn(**inp)).astype(np.int64)
    ctx.require(cid, x.shape == inp["u"].shape, f"samples of shape {x.shape}, expected {inp['u'].shape}")
    counts = np.bincount(np.ravel_multi_index(tuple(x.T), joint.shape), minlength=joint.size)
    p = joint.ravel()
    ctx.require(cid, int(counts[p == 0].sum()) == 0, f"{int(counts[p == 0].sum())} samples in zero-probability cells")
    obs, exp = chi_square_cells(counts[p > 0], CHI2_N * p[p > 0] / p.sum())
    pvalue = stats.chisquare(obs, exp).pvalue
    ctx.require(cid, pvalue > CHI2_ALPHA,
                f"chi-square goodness of fit against the joint: p = {pvalue:.3g} ≤ {CHI2_ALPHA:g} "
                f"({len(obs)} bins, n = {CHI2_N})")


# ---- the checks ---------------------------------------------------------------------------------
CHECKS = [
    ClauseChecks(
        clause="ar.factorization",
        cases=_factorization_inputs(),
        proofs=(Proof("Π_i p(x_≤i)/p(x_<i) = p(x): the chain rule telescopes (K = 2, L = 3, symbolic joint)",
                      _telescoping),
                Proof("each conditional p(· | x_<i) = p(x_<i, ·)/p(x_<i) sums to 1", _conditionals_normalised)),
        symbolic=lambda joint, x: np.log(joint[tuple(x.T)]),
        symbolic_cases=_factorization_inputs().map(lambda d: {**d, "x": d["x"][d["joint"][tuple(d["x"].T)] > 0]}),
        properties=(Property("equals log joint[x] (direct lookup)", _equals_lookup),
                    Property("the last conditional sums to 1 over the token", _last_conditional_normalised)),
        example=lambda: {"joint": np.array([[0.5, 0.0], [0.25, 0.25]]), "x": np.array([[0, 0], [1, 1], [0, 1]])},
    ),
    ClauseChecks(
        clause="ar.sampling",
        cases=_sampling_inputs(),
        properties=(Property(f"n = {CHI2_N} samples pass a chi-square test against the joint (p > {CHI2_ALPHA:g})",
                             _chi_square, cases=st.sampled_from(CHI2_SEEDS).map(lambda s: _sampling_case(*s))),),
        example=lambda: {"joint": np.array([[0.5, 0.0], [0.25, 0.25]]),
                         "u": np.array([[0.1, 0.9], [0.6, 0.4], [0.9, 0.5]])},
    ),
]
