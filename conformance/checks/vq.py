"""Conformance checks of vector quantisation (vq.*) and the token-level AR clauses of spec/vq.py: nearest entry with
ties by the lowest index, straight-through and stop-gradient gradients (sympy), raster order, the causal mask's
chain rule on a one-layer attention model, temperature/top-k distributions and guidance on logits."""
from __future__ import annotations

import itertools
import math

import numpy as np
import sympy as sp
from hypothesis import reject
from hypothesis import strategies as st

from genspec.spec.schema import Tolerance

from ..harness.declare import ClauseChecks, Proof, Property
from ..harness.inputs import TINY_NORMS, approach, inputs, near_tie_codebook, tie_gaps, tiny_vectors

# ---- derivations (sympy): sg[·] is a symbol frozen at the value of its argument ---------------------------
z_, e_, g_, beta_, zq_, c_ = sp.symbols("z e g beta z_q c", real=True)
SG_Z, SG_E, SG_D = sp.symbols("sg_z sg_e sg_d", real=True)          # sg[z], sg[e], sg[z_q − z]


def _st_value():
    return (z_ + SG_D).subs(SG_D, zq_ - z_) - zq_


def _st_grad_z():
    return sp.diff(g_ * (z_ + SG_D), z_) - g_


def _st_grad_zq():
    return sp.diff(g_ * (z_ + SG_D), zq_)


def _rotation_maps_u_to_q():
    """R û = q̂ for unit û, q̂ (c = û·q̂): R û = û − 2s(s·û)/‖s‖² + 2q̂(û·û) with s = û + q̂, s·û = 1 + c,
    ‖s‖² = 2 + 2c: the coefficients of û and q̂ are 0 and 1 (so λ R z = ‖z_q‖ q̂ = z_q)."""
    c = sp.Symbol("c", real=True)
    return [sp.simplify(1 - 2 * (1 + c) / (2 + 2 * c)), sp.simplify(-2 * (1 + c) / (2 + 2 * c) + 2 - 1)]


def _rotation_is_two_reflections():
    """(I − 2q̂q̂ᵀ)(I − 2wwᵀ) = I − 2wwᵀ − 2q̂q̂ᵀ + 4(q̂·w) q̂wᵀ, and 4(q̂·w) w = 2(û + q̂) (q̂·w = (1 + c)/‖s‖,
    w = s/‖s‖), so it is I − 2wwᵀ + 2q̂ûᵀ = R: a product of two reflections, orthogonal (‖λRᵀg‖ = λ‖g‖)."""
    c = sp.Symbol("c", real=True)
    ns = sp.sqrt(2 + 2 * c)
    return sp.simplify(4 * (1 + c) / ns / ns - 2)


LOSS = (SG_Z - e_) ** 2 + beta_ * (z_ - SG_E) ** 2          # one sample, D = 1


def _loss_value():
    return sp.expand(LOSS.subs({SG_Z: z_, SG_E: e_}) - (1 + beta_) * (z_ - e_) ** 2)


def _loss_grad_z():
    return sp.diff(LOSS, z_).subs({SG_Z: z_, SG_E: e_}) - 2 * beta_ * (z_ - e_)


def _loss_grad_e():
    return sp.diff(LOSS, e_).subs({SG_Z: z_, SG_E: e_}) - 2 * (e_ - z_)


SYMMETRIC = beta_ * (z_ - e_) ** 2                             # the symmetric variant: one β term, no sg


def _symmetric_value():
    """β‖z − e‖² = β/(1 + β) · (‖sg[z] − e‖² + β‖z − sg[e]‖²) in value."""
    return sp.simplify(SYMMETRIC - beta_ / (1 + beta_) * LOSS.subs({SG_Z: z_, SG_E: e_}))


def _symmetric_grads():
    """∂/∂z equals the default's (2β(z − e)); ∂/∂e is β times the default's (2(e − z))."""
    return [sp.expand(sp.diff(SYMMETRIC, z_) - sp.diff(LOSS, z_).subs({SG_Z: z_, SG_E: e_})),
            sp.expand(sp.diff(SYMMETRIC, e_) - beta_ * sp.diff(LOSS, e_).subs({SG_Z: z_, SG_E: e_}))]


def _element_mean_is_norm_mean_over_d():
    """F.mse_loss's mean over n·D elements = the batch mean of squared norms ÷ D (n = 2, D = 3), and so are its
    gradients (the same factor)."""
    d = sp.symbols("d0:6", real=True)
    element_mean = sp.Add(*[x ** 2 for x in d]) / 6
    norm_mean = (sp.Add(*[x ** 2 for x in d[:3]]) + sp.Add(*[x ** 2 for x in d[3:]])) / 2
    return [sp.expand(element_mean - norm_mean / 3)] + [sp.expand(sp.diff(element_mean, x) - sp.diff(norm_mean, x) / 3)
                                                        for x in d]


def _softmax_shift_invariant():
    """softmax(ℓ + c) = softmax(ℓ): guiding log_softmax(ℓ) (ℓ − c per row) gives the guided logits minus a constant."""
    l1, l2, m1, m2, w = sp.symbols("l1 l2 m1 m2 w", real=True)
    cy, cn = sp.symbols("c_y c_n", real=True)
    g = lambda a, b: (1 + w) * a - w * b
    shifted = [g(l1 - cy, m1 - cn), g(l2 - cy, m2 - cn)]
    plain = [g(l1, m1), g(l2, m2)]
    return sp.simplify(sp.exp(shifted[0]) / (sp.exp(shifted[0]) + sp.exp(shifted[1]))
                       - sp.exp(plain[0]) / (sp.exp(plain[0]) + sp.exp(plain[1])))


def _guidance_is_geometric_mixture():
    """softmax((1 + w) log p_y − w log p_∅) ∝ p_y^{1+w} p_∅^{−w} (two tokens, symbolic probabilities)."""
    p1, p2, q1, q2 = sp.symbols("p1 p2 q1 q2", positive=True)
    w = sp.Symbol("w", real=True)
    a = sp.exp((1 + w) * sp.log(p1) - w * sp.log(q1))
    b = sp.exp((1 + w) * sp.log(p2) - w * sp.log(q2))
    u, v = p1 ** (1 + w) * q1 ** (-w), p2 ** (1 + w) * q2 ** (-w)
    return sp.simplify(a / (a + b) - u / (u + v))


def _chain_rule_normalised():
    """Conditionals that depend on the past only define a distribution: Σ_{s0,s1} p(s0) p(s1 | s0) = 1 (K = L = 2,
    softmax conditionals with symbolic logits a_k and b_{s0,k})."""
    a = sp.symbols("a0 a1", real=True)
    b = [sp.symbols(f"b{i}0 b{i}1", real=True) for i in range(2)]
    soft = lambda v, k: sp.exp(v[k]) / (sp.exp(v[0]) + sp.exp(v[1]))
    return sp.simplify(sp.Add(*[soft(a, i) * soft(b[i], j) for i in range(2) for j in range(2)]) - 1)


# ---- strategies ---------------------------------------------------------------------------------
@st.composite
def _near_tie_cases(draw):
    """vq.quantize's declared boundaries (spec/vq.py): each row of z between two entries at nearly the same distance
    (relative gaps 0, a few ulps of the run's dtype, 1e-15..1e-3: inputs.tie_gaps), z far from the origin (|z| up to
    30, where ‖z‖² − 2z·e + ‖e‖² cancels) or tiny (norms 0, subnormal, 1e-20, 1e-7: inputs.TINY_NORMS)."""
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    n, D = draw(st.integers(1, 6)), draw(st.integers(1, 4))
    centre = draw(st.sampled_from([0.0, 1.0, 10.0, 30.0]))
    if centre == 0.0:
        z = tiny_vectors((n, D), seed)
    else:
        z = rng.standard_normal((n, D))
        z *= centre / np.linalg.norm(z, axis=1, keepdims=True)
    gaps = draw(st.lists(st.sampled_from(tie_gaps()), min_size=n, max_size=n))
    radius = draw(st.sampled_from([0.5, 1.0, 2.0]))
    return {"z": z, "codebook": near_tie_codebook(rng, z, gaps, radius, extra=draw(st.integers(0, 3)))}


@st.composite
def _quantize_cases(draw):
    if draw(st.integers(0, 2)) == 0:
        return draw(_near_tie_cases())
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    n, K, D = draw(st.integers(1, 8)), draw(st.integers(1, 6)), draw(st.integers(1, 4))
    cb = rng.standard_normal((K, D))
    if K > 1 and draw(st.booleans()):
        cb[-1] = cb[0]                                          # a repeated entry: exact ties
    z = rng.standard_normal((n, D)) * draw(st.sampled_from([0.5, 1.0, 3.0]))
    hits = draw(st.integers(0, n))
    z[:hits] = cb[rng.integers(0, K, hits)]                    # z exactly on an entry (distance 0)
    return {"z": z, "codebook": cb}


_loss_cases = inputs("vq.loss", beta=st.sampled_from([0.0, 0.25, 1.0, 2.0]) | st.floats(0.0, 5.0))
"""z, e from their domain (one shape (n, D)); β at 0, the default 0.25 and inside [0, 5]."""


@st.composite
def _logit_cases(draw):
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    n, K = draw(st.integers(1, 5)), draw(st.integers(1, 8))
    logits = rng.uniform(-10.0, 10.0, (n, K))
    if K > 2 and draw(st.booleans()):
        logits[:, 1] = logits[:, 0]                              # ties, possibly at the k-th value
    return {"logits": logits, "temperature": draw(st.sampled_from([1.0, 0.5, 2.0]) | st.floats(0.4, 5.0)),
            "top_k": draw(st.integers(0, K + 1))}


def _guidance_cases():
    """l_y, l_null from their domain, clipped to [−5, 5]; w (default units) at −1, 0, 6.5 (03's SDXL-like w = 7.5 in
    the scale form) and inside [−1, 10]."""
    w = st.sampled_from([-1.0, 0.0, 6.5]) | st.floats(-1.0, 10.0)
    return inputs("ar.logit_guidance", w=w).map(
        lambda d: {**d, "l_y": np.clip(d["l_y"], -5, 5), "l_null": np.clip(d["l_null"], -5, 5)})


# ---- compare and properties -----------------------------------------------------------------------------
def _distance_compare(ctx, got, expected, inp):
    """The target's index must be an entry at the minimum distance within the tolerance: at a near-tie either entry
    passes only if its distance is within rtol·d² + atol of the minimum (the rounding of the squared distances in the
    dtype); beyond that margin the farther entry fails."""
    cid = "vq.quantize"
    got = np.asarray(got)
    ctx.require(cid, got.shape == expected.shape and got.dtype.kind in "iu",
                f"indices of shape {expected.shape} (integer), got {got.dtype} {got.shape}")
    K = inp["codebook"].shape[0]
    ctx.require(cid, bool(np.all((got >= 0) & (got < K))), f"indices in [0, {K}), got {got}")
    d2 = ((inp["z"][:, None, :] - inp["codebook"][None]) ** 2).sum(axis=2)
    rows = np.arange(len(got))
    ctx.assert_close(cid, d2[rows, got], d2[rows, expected],
                     what="‖z − e_k‖² of the chosen entry vs the minimum (a near-tie: either entry within this margin)")


def _near_tie_sweep(ctx, fn, inp):
    """Every declared boundary of vq.quantize, deterministically: z at norms 0, subnormal, 1e-20, 1e-7 (TINY_NORMS)
    and at 1, 10, 30 from the origin, between two entries whose squared distances differ by each relative gap of
    inputs.tie_gaps (0, a few ulps of the run's dtype, 1e-15..1e-3), D = 1 and 3; compared as the value check does."""
    from genspec.reference.vq import quantize
    rng = np.random.default_rng(22)
    for centre in (*TINY_NORMS, 1.0, 10.0, 30.0, 50.0):
        for D in (1, 3, 8):
            n = 4 if centre >= 10.0 else 1                  # rows ≥ 10 apart do not reach each other's entries
            z = rng.standard_normal((n, D))
            z *= centre / np.maximum(np.linalg.norm(z, axis=1, keepdims=True), 1e-300)
            for gap in tie_gaps():
                case = ctx.round({"z": z, "codebook": near_tie_codebook(rng, z, [gap] * n, 1.0, extra=2)})
                _distance_compare(ctx, fn(**case), quantize(**case), case)


def _ties_lowest(ctx, fn, inp):
    """A codebook with every entry repeated: z on an entry gets the first copy; any z gets an index < K/2."""
    cb = inp["codebook"]
    doubled = np.concatenate([cb, cb])
    k = np.asarray(fn(z=cb, codebook=doubled))
    ctx.require("vq.quantize", bool(np.all(k < cb.shape[0])), f"ties not resolved by the lowest index: {k}")
    first = np.array([int(np.flatnonzero((cb == cb[i]).all(axis=1))[0]) for i in range(cb.shape[0])])
    ctx.require("vq.quantize", bool(np.array_equal(k, first)), f"z = e_k gave {k}, expected {first}")


@st.composite
def _rotation_cases(draw):
    """vq.straight_through's 'rotation' variant away from its singular points (spec/vq.py): row norms in
    [0.1, 5] and cos(z, z_q) ≥ −0.8 (z_q = z, where the rotation is the identity, among them)."""
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    n, D = draw(st.integers(1, 5)), draw(st.integers(1, 6))
    z, z_q, g = (rng.standard_normal((n, D)) for _ in range(3))
    for x in (z, z_q):
        x *= rng.uniform(0.1, 5.0, (n, 1)) / np.linalg.norm(x, axis=1, keepdims=True)
    cos = (z * z_q).sum(axis=1) / np.linalg.norm(z, axis=1) / np.linalg.norm(z_q, axis=1)
    z_q[cos < -0.8] *= -1.0                                     # off the antipode (D = 1: the same sign)
    if draw(st.booleans()):
        z_q[0] = z[0]
    return {"z": z, "z_q": z_q, "g": g}


def _off_singular(ctx, inp):
    """A property's drawn case as the 'rotation' variant needs it (spec/vq.py's singular points): rows with a norm
    < 0.1 dropped, z_q negated where cos(z, z_q) < −0.8; a case with no row left is rejected. Other variants: as
    drawn."""
    if ctx.convention("vq.straight_through", "estimator") != "rotation":
        return inp
    nz, nq = np.linalg.norm(inp["z"], axis=1), np.linalg.norm(inp["z_q"], axis=1)
    keep = (nz >= 0.1) & (nq >= 0.1)
    if not keep.any():
        reject()
    z, z_q, g = inp["z"][keep], inp["z_q"][keep].copy(), inp["g"][keep]
    z_q[(z * z_q).sum(axis=1) < -0.8 * nz[keep] * nq[keep]] *= -1.0
    return {**inp, "z": z, "z_q": z_q, "g": g}


def _st_cases(conv):
    return _rotation_cases() if conv.get("estimator") == "rotation" else inputs("vq.straight_through")


def _st_compare(ctx, got, expected, inp):
    """The default's elementwise comparison; 'rotation': each component within atol + 4·rtol·(its row's norm)
    (spec/vq.py's tolerance note: the rotation's terms are of the row's size)."""
    cid = "vq.straight_through"
    if ctx.convention(cid, "estimator") != "rotation":
        return ctx.assert_close(cid, got, expected)
    tol = ctx.tolerance(cid)
    for what, g_, e_ in zip(("z̃", "∂⟨g, z̃⟩/∂z", "∂⟨g, z̃⟩/∂z_q"), got, expected, strict=True):
        g_ = np.asarray(g_, dtype=np.float64)
        ctx.require(cid, g_.shape == e_.shape, f"{what} of shape {e_.shape}, got {g_.shape}")
        for i, row in enumerate(e_):
            ctx.assert_close(cid, g_[i], row, what=f"{what}, row {i}", tol=Tolerance(
                rtol=tol.rtol, atol=tol.atol + 4 * tol.rtol * float(np.linalg.norm(row))))


def _st_forward_is_zq(ctx, fn, inp):
    inp = _off_singular(ctx, inp)
    out = fn(**inp)
    tol = ctx.tolerance("vq.straight_through")
    scale = float(np.max(np.abs(inp["z"]), initial=0.0) + np.max(np.abs(inp["z_q"]), initial=0.0))
    if ctx.convention("vq.straight_through", "estimator") == "rotation":   # ≲ 30 ulps of ‖z_q‖ (spec/vq.py)
        scale = 4 * float(np.max(np.linalg.norm(inp["z_q"], axis=1), initial=0.0))
    ctx.assert_close("vq.straight_through", out[0], inp["z_q"], what="forward value vs z_q",
                     tol=Tolerance(rtol=tol.rtol, atol=tol.atol + tol.rtol * scale))


def _st_gradient_norm(ctx, fn, inp):
    """‖∂⟨g, z̃⟩/∂z‖ = ‖g‖ per row (straight-through copies g) or λ‖g‖ ('rotation': R is orthogonal); z_q gets
    none."""
    cid = "vq.straight_through"
    inp = _off_singular(ctx, inp)
    _, gz, gq = fn(**inp)
    lam = 1.0
    if ctx.convention(cid, "estimator") == "rotation":
        lam = np.linalg.norm(inp["z_q"], axis=1) / np.linalg.norm(inp["z"], axis=1)
    want = lam * np.linalg.norm(inp["g"], axis=1)
    tol = ctx.tolerance(cid)
    ctx.assert_close(cid, np.linalg.norm(np.asarray(gz, dtype=np.float64), axis=1), want, what="‖∂⟨g, z̃⟩/∂z‖ per row",
                     tol=Tolerance(rtol=4 * tol.rtol, atol=tol.atol))
    ctx.require(cid, bool(np.all(np.asarray(gq) == 0)), "z_q must get no gradient")


def _loss_gradients_related(ctx, fn, inp):
    """∂L/∂z = −β ∂L/∂e ('loss'), ∂L/∂z = −∂L/∂e ('symmetric'), ∂L/∂e = 0 ('ema')."""
    conv = ctx.convention("vq.loss", "codebook")
    L, gz, ge = fn(**inp)
    if conv == "loss":
        ctx.assert_close("vq.loss", gz, -inp["beta"] * ge, what="∂L/∂z vs −β ∂L/∂e")
    elif conv == "symmetric":
        ctx.assert_close("vq.loss", gz, -np.asarray(ge), what="'symmetric': ∂L/∂z vs −∂L/∂e")
    else:
        ctx.require("vq.loss", bool(np.all(ge == 0)), "'ema': the codebook gets no gradient from the loss")
    ctx.require("vq.loss", L >= 0, f"L = {L} < 0")


def _loss_unit_residual(ctx, fn, inp):
    """A residual of one unit element per vector (e = z + δ, one δ_d = 1) gives L = c (batch_mean_sq_norm) or c/D
    (mse_all_elements), c = 1 + β ('loss'), β ('ema', 'symmetric'): the declared reduction and terms, without the
    reference."""
    z = inp["z"]
    e = z.copy()
    e[:, 0] += 1.0
    e = ctx.round({"e": e})["e"]
    c = (1.0 + inp["beta"]) if ctx.convention("vq.loss", "codebook") == "loss" else inp["beta"]
    per = 1.0 if ctx.convention("vq.loss", "reduction") == "batch_mean_sq_norm" else 1.0 / z.shape[1]
    r = ((e - z) ** 2).sum(axis=1).mean()              # 1 up to the rounding of z + 1
    ctx.assert_close("vq.loss", fn(z=z, e=e, beta=inp["beta"])[0], c * per * r, what="L of a unit residual per vector")


def _raster_positions(ctx, fn, inp):
    """A grid holding its own positions i·W + j reads 0, 1, …, HW − 1 (left to right, top to bottom)."""
    n, H, W = inp["grid"].shape
    pos = np.broadcast_to(np.arange(H * W, dtype=np.int64).reshape(1, H, W), (n, H, W)).copy()
    ctx.assert_close("ar.raster_order", fn(grid=pos), np.broadcast_to(np.arange(H * W), (n, H * W)),
                     what="positions read in raster order")


_MASK_MODEL = np.random.default_rng(7)
_EMB = _MASK_MODEL.standard_normal((4, 3))       # tokens 0..2 and the start token 3, width 3
_POS = _MASK_MODEL.standard_normal((6, 3))
_WQ, _WK, _WV, _WO = (_MASK_MODEL.standard_normal((3, 3)) for _ in range(4))
_HEAD = _MASK_MODEL.standard_normal((3, 3))      # logits over K = 3 tokens


def _attention_logits(mask, s):
    """One attention layer over [start, s_0..s_{L−2}] through the mask; logits ℓ_i (n, L, K) predict s_i."""
    n, L = s.shape
    inp = np.concatenate([np.full((n, 1), 3), s[:, :-1]], axis=1)
    h = _EMB[inp] + _POS[:L]
    q, k, v = h @ _WQ, h @ _WK, h @ _WV
    a = np.where(mask, q @ k.transpose(0, 2, 1) / np.sqrt(3.0), -np.inf)
    a = np.exp(a - a.max(axis=2, keepdims=True))
    a = a / a.sum(axis=2, keepdims=True)
    return (h + (a @ v) @ _WO) @ _HEAD


def _chain_rule(ctx, fn, inp):
    """exp Σ_i log softmax(ℓ_i)[s_i] sums to 1 over all 3^L sequences, and ℓ_i ignores s_{≥ i}; a 'true_masks'
    target's mask is read as True = hidden."""
    cid = "ar.causal_mask"
    L = inp["L"]
    mask = np.asarray(fn(L=L)).astype(bool)
    mask = ~mask if ctx.convention(cid, "mask_polarity") == "true_masks" else mask
    ctx.require(cid, mask.shape == (L, L), f"mask of shape {mask.shape}, expected {(L, L)}")
    ctx.require(cid, bool(mask.diagonal().all()), "a position must attend to itself (the start token for i = 0)")
    seqs = np.array(list(itertools.product(range(3), repeat=L)), dtype=np.int64)
    logits = _attention_logits(mask, seqs)
    logp = logits - np.log(np.exp(logits).sum(axis=2, keepdims=True))
    total = np.exp(np.take_along_axis(logp, seqs[:, :, None], axis=2)[..., 0].sum(axis=1)).sum()
    ctx.require(cid, abs(total - 1.0) < 1e-9, f"Σ_s p(s) = {total!r} ≠ 1: the mask lets a position see its own token")
    for i in range(L):
        changed = seqs.copy()
        changed[:, i:] = (changed[:, i:] + 1) % 3
        same = np.allclose(_attention_logits(mask, changed)[:, i], logits[:, i], rtol=0, atol=1e-12)
        ctx.require(cid, same, f"ℓ_{i} changes with the tokens s_≥{i}: the mask is not causal")


def _probs_normalised(ctx, fn, inp):
    """Rows sum to 1; the survivors of top-k are the logits ≥ the k-th largest (keep_ties) or exactly k."""
    cid = "ar.sampling_distribution"
    p = fn(**inp)
    ctx.assert_close(cid, p.sum(axis=1), np.ones(p.shape[0]), what="Σ_j p_j")
    k, K = inp["top_k"], inp["logits"].shape[1]
    ties = ctx.convention(cid, "top_k_ties")
    if 0 < k < K:
        kth = -np.sort(-inp["logits"], axis=1)[:, k - 1:k]
        alive = (p > 0).sum(axis=1)
        want = (inp["logits"] >= kth).sum(axis=1) if ties == "keep_ties" else np.full(p.shape[0], k)
        ctx.require(cid, bool(np.array_equal(alive, want)), f"{alive} tokens keep probability, expected {want}")


def _probs_compare(ctx, got, expected, inp, what="output"):
    """The reference's p, except under 'torch_topk' (tie order unspecified): there the target's survivors (p > 0)
    must be k tokens holding every logit above the k-th largest and the rest from those tied at it, and p must be
    the softmax of ℓ/τ over that set."""
    cid = "ar.sampling_distribution"
    k, logits = inp["top_k"], inp["logits"]
    if ctx.convention(cid, "top_k_ties") == "torch_topk" and 0 < k < logits.shape[1]:
        got_np = np.asarray(got, dtype=np.float64)
        ctx.require(cid, got_np.shape == logits.shape, f"p of shape {logits.shape}, got {got_np.shape}")
        alive = got_np > 0
        kth = -np.sort(-logits, axis=1)[:, k - 1:k]
        ok = (alive.sum(axis=1) == k) & np.all(alive >= (logits > kth), axis=1) & np.all(~alive | (logits >= kth),
                                                                                        axis=1)
        ctx.require(cid, bool(ok.all()), f"the surviving tokens {[np.flatnonzero(a).tolist() for a in alive]} are "
                                         f"not k = {k} of the largest logits {logits.tolist()}")
        s = np.where(alive, logits / inp["temperature"], -np.inf)
        ex = np.exp(s - s.max(axis=1, keepdims=True))
        expected = ex / ex.sum(axis=1, keepdims=True)
    ctx.assert_close(cid, got, expected, what=what)


def _topk_tie_sweep(ctx, fn, inp):
    """Ties at the k-th largest logit, deterministically (the random cases reach them only by chance): rows with three
    and four equal logits, k = 1, 2, 3. 'keep_ties' keeps every tied token, 'exactly_k' the k lowest indices among
    the tied (the spec's rule), 'torch_topk' any k of them (torch.topk documents no order); compared with the
    reference in the declared convention as the value check does."""
    from genspec.reference.vq import sampling_probs
    cid = "ar.sampling_distribution"
    logits = ctx.round({"logits": np.array([[1.0, 3.0, 3.0, 0.0, 3.0], [2.0, 2.0, 2.0, 2.0, -1.0]])})["logits"]
    for k in (1, 2, 3):
        case = {"logits": logits, "temperature": 1.0, "top_k": k}
        expected = sampling_probs(logits, 1.0, k, ctx.convention(cid, "top_k_ties"))
        _probs_compare(ctx, fn(**case), expected, case, what=f"p with top_k = {k} and ties at the k-th largest logit")


def _temperature_power(ctx, fn, inp):
    """Without truncation, p(τ) ∝ p(1)^{1/τ}: temperature is a power of the model's distribution."""
    cid = "ar.sampling_distribution"
    p1 = fn(logits=inp["logits"], temperature=1.0, top_k=0)
    tau = inp["temperature"]
    with np.errstate(divide="ignore"):
        q = np.exp(np.log(p1) / tau - np.max(np.log(p1) / tau, axis=1, keepdims=True))
    q = q / q.sum(axis=1, keepdims=True)
    tol = ctx.tolerance(cid)
    ctx.assert_close(cid, fn(logits=inp["logits"], temperature=tau, top_k=0), q, what="p(τ) vs p(1)^{1/τ}",
                     tol=Tolerance(rtol=4 * tol.rtol / min(tau, 1.0), atol=4 * tol.atol))


def _guidance_off_and_shift(ctx, fn, inp):
    cid = "ar.logit_guidance"
    ctx.assert_close(cid, fn(l_y=inp["l_y"], l_null=inp["l_null"], w=0.0), inp["l_y"],
                     what="guidance-off weight (w = 0, s = 1) vs ℓ_y")
    ctx.assert_close(cid, fn(l_y=inp["l_y"], l_null=inp["l_null"], w=-1.0), inp["l_null"],
                     what="unconditional weight (w = −1, s = 0) vs ℓ_∅")


# ---- ar.plausibility ------------------------------------------------------------------------------------
PLAUSIBLE = "ar.plausibility"


def _restricted_softmax():
    """p_j/p_m = exp(ℓ_j − ℓ_m) (the normaliser cancels), and p restricted to V = {0, 1} and renormalised is the
    softmax with ℓ_2 = −∞ (K = 3)."""
    l0, l1, l2 = sp.symbols("l_0 l_1 l_2", real=True)
    Z = sp.exp(l0) + sp.exp(l1) + sp.exp(l2)
    p0, p1 = sp.exp(l0) / Z, sp.exp(l1) / Z
    return [sp.simplify(p0 / p1 - sp.exp(l0 - l1)),
            sp.simplify(p0 / (p0 + p1) - sp.exp(l0) / (sp.exp(l0) + sp.exp(l1)))]


ALPHA_NORMAL = 1e-30
"""Tokens are drawn near the threshold only where α max p (≥ α/K) is a normal number in float32 and bfloat16: below
it a softmax written in probabilities underflows (p_j = 0 ≥ α max p = 0) whichever side the token is on, an
ambiguity of the dtype's range, not of rounding."""


def _near_threshold(row, alpha, picks):
    """`row` with the entries after its first largest moved near its threshold max ℓ + log α (the declared boundary,
    spec/vq.py): inputs.approach values at or below max ℓ, chosen by `picks`."""
    m = float(row.max())
    near = approach(m + math.log(alpha), high=m)
    out = row.copy()
    top = int(np.argmax(row))
    for j, k in zip([j for j in range(len(row)) if j != top], picks, strict=False):
        out[j] = near[k % len(near)]
    return out


@st.composite
def _plausible_cases(draw):
    """ℓ_y in [−20, 20] (ties in one draw of two); α at 0, 1, 0.1 and anywhere in [0, 1]; in one draw of three (α > 0)
    tokens within rounding of (and 1e-15..1e-3 from) the threshold max ℓ + log α, for α ≥ ALPHA_NORMAL."""
    d = draw(inputs(PLAUSIBLE, alpha=st.sampled_from([0.0, 0.1, 1.0]) | st.floats(0.0, 1.0)))
    l_y = np.clip(d["l_y"], -20.0, 20.0)
    if draw(st.booleans()) and l_y.shape[1] > 1:
        l_y[:, 1] = l_y[:, 0]
    if d["alpha"] >= ALPHA_NORMAL and draw(st.integers(0, 2)) == 0:
        picks = draw(st.lists(st.integers(0, 63), min_size=l_y.shape[1], max_size=l_y.shape[1]))
        l_y = np.stack([_near_threshold(row, d["alpha"], picks) for row in l_y])
    return {**d, "l_y": l_y}


def _threshold_sweep(ctx, fn, inp):
    """The declared threshold of ar.plausibility, deterministically: for α = 0.1, 0.5, 1e-3 and 1 and rows whose
    largest logit is 0, 3.7, −20 or 20, every inputs.approach value of max ℓ + log α below max ℓ (relative
    1e-15..1e-3 and a few ulps of the run's dtype): V as the reference's beyond the rounding margin."""
    from genspec.reference.vq import plausible_tokens
    for alpha in (0.1, 0.5, 1e-3, 1.0):
        rows = []
        for m in (0.0, 3.7, -20.0, 20.0):
            near = approach(m + math.log(alpha), high=m)
            rows.append(np.array([m, *near]))
        K = max(len(r) for r in rows)
        l_y = np.stack([np.concatenate([r, np.full(K - len(r), r[0] - 50.0)]) for r in rows])
        case = ctx.round({"l_y": l_y, "alpha": alpha})
        _same_set(ctx, fn(**case), plausible_tokens(**case), case, what=f"V near its threshold (α = {alpha:g})")


def _same_set(ctx, got, expected, inp, what="V"):
    """Boolean sets equal except for tokens whose margin ℓ_j − max ℓ − log α is within rounding of 0."""
    l, a = inp["l_y"], inp["alpha"]
    tol = ctx.tolerance(PLAUSIBLE)
    with np.errstate(divide="ignore"):
        margin = l - l.max(axis=1, keepdims=True) - np.log(a)
    near = np.abs(margin) <= tol.atol + tol.rtol * (np.abs(l) + np.abs(l).max(axis=1, keepdims=True))
    g, e = np.asarray(got), np.asarray(expected)
    if g.shape != e.shape:
        return ctx.assert_close(PLAUSIBLE, g, e, what=what)
    ctx.assert_close(PLAUSIBLE, np.where(near, e, g).astype(np.float64), e.astype(np.float64),
                     what=f"{what} away from its boundary (either side accepted where |ℓ_j − max ℓ − log α| ≤ "
                          f"atol + rtol·(|ℓ_j| + |max ℓ|), the rounding margin)")


def _most_likely_kept(ctx, fn, inp):
    """The most likely token is in V for every α (no row is empty); α = 0 keeps every token."""
    v = np.asarray(fn(**inp))
    top = inp["l_y"] == inp["l_y"].max(axis=1, keepdims=True)
    ctx.require(PLAUSIBLE, bool(np.all(v[top])), "a most likely token is outside V")
    ctx.require(PLAUSIBLE, bool(np.all(fn(l_y=inp["l_y"], alpha=0.0))), "α = 0 dropped a token")


def _nested(ctx, fn, inp):
    """α' = α/4 < α keeps a superset: V(α) ⊆ V(α/4) (the boundaries lie log 4 apart, far beyond rounding)."""
    big, small = np.asarray(fn(**inp)), np.asarray(fn(l_y=inp["l_y"], alpha=inp["alpha"] / 4))
    ctx.require(PLAUSIBLE, bool(np.all(small[big])), f"V(α = {inp['alpha']:g}) is not inside V(α/4)")


def _shift_invariant(ctx, fn, inp):
    """V(ℓ + c) = V(ℓ) for a per-row constant c: V depends on probabilities only."""
    c = np.linspace(-8.0, 8.0, len(inp["l_y"]))[:, None]
    _same_set(ctx, fn(l_y=inp["l_y"] + c, alpha=inp["alpha"]), fn(**inp), inp, what="V(ℓ + c) vs V(ℓ)")


# ---- the checks ---------------------------------------------------------------------------------
CHECKS = [
    ClauseChecks(
        clause="vq.quantize",
        cases=_quantize_cases(),
        compare=_distance_compare,
        properties=(Property("exact ties go to the lowest index", _ties_lowest),
                    Property("near-ties far from the origin and tiny z: the nearest entry", _near_tie_sweep,
                             cases=st.just({}))),
        example=lambda: {"z": np.array([[0.1, 0.0], [0.9, 1.0]]), "codebook": np.array([[0.0, 0.0], [1.0, 1.0]])},
    ),
    ClauseChecks(
        clause="vq.straight_through",
        cases=inputs("vq.straight_through"),
        convention_cases=_st_cases,
        compare=_st_compare,
        proofs=(Proof("z + sg[z_q − z] = z_q (forward value)", _st_value),
                Proof("∂⟨g, z + sg[z_q − z]⟩/∂z = g", _st_grad_z),
                Proof("∂⟨g, z + sg[z_q − z]⟩/∂z_q = 0", _st_grad_zq),
                Proof("'rotation': R û = q̂, so λ R z = z_q (forward value)", _rotation_maps_u_to_q),
                Proof("'rotation': R = (I − 2q̂q̂ᵀ)(I − 2wwᵀ), a rotation", _rotation_is_two_reflections)),
        properties=(Property("forward value is z_q", _st_forward_is_zq),
                    Property("‖∂/∂z‖ = ‖g‖ ('rotation': λ‖g‖); z_q gets no gradient", _st_gradient_norm)),
        example=lambda: {"z": np.array([[0.1, 0.2]]), "z_q": np.array([[0.0, 0.0]]), "g": np.array([[1.0, -1.0]])},
    ),
    ClauseChecks(
        clause="vq.loss",
        cases=_loss_cases,
        proofs=(Proof("value: ‖sg[z] − e‖² + β‖z − sg[e]‖² = (1 + β)‖z − e‖²", _loss_value),
                Proof("∂L/∂z = 2β(z − e) (only the commitment term)", _loss_grad_z),
                Proof("∂L/∂e = 2(e − z) (only the codebook term)", _loss_grad_e),
                Proof("'symmetric': β‖z − e‖² = β/(1 + β) · L in value", _symmetric_value),
                Proof("'symmetric': ∂/∂z = the default's, ∂/∂e = β × the default's", _symmetric_grads),
                Proof("mse_all_elements = batch_mean_sq_norm / D, value and gradients (n = 2, D = 3)",
                      _element_mean_is_norm_mean_over_d)),
        properties=(Property("∂L/∂z = −β ∂L/∂e; 'symmetric': −∂L/∂e; 'ema': ∂L/∂e = 0", _loss_gradients_related),
                    Property("a unit residual per vector gives (1 + β) or β, ÷ D for mse_all_elements",
                             _loss_unit_residual)),
        example=lambda: {"z": np.array([[0.1, 0.2]]), "e": np.array([[0.0, 0.0]]), "beta": 0.25},
    ),
    ClauseChecks(
        clause="ar.raster_order",
        cases=inputs("ar.raster_order", dims={"n": (1, 3), "H": (1, 5), "W": (1, 5)}),
        properties=(Property("positions i·W + j read 0..HW − 1", _raster_positions),),
        example=lambda: {"grid": np.array([[[0, 1], [2, 3]]])},
    ),
    ClauseChecks(
        clause="ar.causal_mask",
        cases=inputs("ar.causal_mask"),
        proofs=(Proof("past-only softmax conditionals sum to 1 (K = L = 2)", _chain_rule_normalised),),
        properties=(Property("a one-layer attention model through the mask is a chain rule: Σ p(s) = 1, ℓ_i "
                             "independent of s_≥i", _chain_rule, cases=st.integers(1, 5).map(lambda L: {"L": L})),),
        max_examples=8,
        example=lambda: {"L": 3},
    ),
    ClauseChecks(
        clause="ar.sampling_distribution",
        cases=_logit_cases(),
        convention_cases=lambda conv: _logit_cases(),
        compare=_probs_compare,
        properties=(Property("rows sum to 1; top-k keeps the logits ≥ the k-th largest", _probs_normalised),
                    Property("p(τ) ∝ p(1)^{1/τ}", _temperature_power),
                    Property("ties at the k-th largest logit follow the declared rule", _topk_tie_sweep,
                             cases=st.just({}))),
        example=lambda: {"logits": np.array([[1.0, 2.0, 0.5]]), "temperature": 0.7, "top_k": 2},
    ),
    ClauseChecks(
        clause="ar.logit_guidance",
        cases=_guidance_cases(),
        proofs=(Proof("guiding log_softmax(ℓ) or ℓ gives one distribution (softmax is shift-invariant)",
                      _softmax_shift_invariant),
                Proof("softmax of guided log-probabilities ∝ p_y^{1+w} p_∅^{−w}", _guidance_is_geometric_mixture)),
        properties=(Property("off weight gives ℓ_y, unconditional weight gives ℓ_∅", _guidance_off_and_shift),),
        example=lambda: {"l_y": np.array([[1.0, 2.0]]), "l_null": np.array([[0.0, 1.0]]), "w": 1.5},
    ),
    ClauseChecks(
        clause=PLAUSIBLE,
        cases=_plausible_cases(),
        compare=_same_set,
        proofs=(Proof("p_j/p_m = exp(ℓ_j − ℓ_m); p restricted to V and renormalised = softmax with −∞ outside V",
                      _restricted_softmax),),
        properties=(Property("the most likely token is always kept; α = 0 keeps every token", _most_likely_kept),
                    Property("nested: V(α) ⊆ V(α/4)", _nested),
                    Property("invariant to a per-row shift of ℓ_y", _shift_invariant),
                    Property("near the threshold max ℓ + log α: V beyond the rounding margin", _threshold_sweep,
                             cases=st.just({}))),
        example=lambda: {"l_y": np.array([[2.0, 0.5, -1.0]]), "alpha": 0.1},
    ),
]
