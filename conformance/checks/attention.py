"""Conformance checks of attention: sdpa (masks, permutation equivariance, deleted keys, large logits), multi-head
self/cross-attention and MM-DiT joint attention."""
from __future__ import annotations

import math

import numpy as np
import sympy as sp
from hypothesis import strategies as st

from genspec.reference import attention as R
from genspec.spec.schema import Tolerance

from ..harness.arrays import gaussian
from ..harness.declare import ClauseChecks, Proof, Property
from ..harness.inputs import approach, declared


def _polar(ctx, clause, keep):
    """A keep-mask (True = may attend) in the target's declared polarity."""
    return None if keep is None else (~keep if ctx.convention(clause, "mask_polarity") == "true_masks" else keep)


def _mask(draw, shape):
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    return rng.random(shape) < 0.7


# ---- sdpa ---------------------------------------------------------------------------------------
@st.composite
def _sdpa_cases(draw):
    lead = draw(st.sampled_from([(), (2,), (2, 2)]))
    Lq, Lk, d, dv = draw(st.integers(1, 4)), draw(st.integers(1, 5)), draw(st.sampled_from([1, 2, 4, 8])), \
        draw(st.sampled_from([1, 3]))
    out = {"q": draw(gaussian((*lead, Lq, d))), "k": draw(gaussian((*lead, Lk, d))),
           "v": draw(gaussian((*lead, Lk, dv)))}
    kind = draw(st.sampled_from(["none", "full", "keys"]))
    if kind != "none":
        out["mask"] = _mask(draw, (*lead, Lq, Lk) if kind == "full" else (*lead, 1, Lk))
    return out


def _sdpa_keep_mask(ctx, inp):
    m = inp.get("mask")
    return None if m is None else _polar(ctx, "attention.sdpa", m)


def _sdpa_case(ctx, inp):
    return {**inp, **({"mask": _sdpa_keep_mask(ctx, inp)} if "mask" in inp else {})}


def _equivariance(ctx, fn, inp):
    """Permuting the queries permutes the output rows; permuting keys and values together changes nothing."""
    q, k, v, m = inp["q"], inp["k"], inp["v"], inp.get("mask")
    pq, pk = np.roll(np.arange(q.shape[-2]), 1), np.roll(np.arange(k.shape[-2]), 1)
    base = fn(**_sdpa_case(ctx, inp))
    mq = None if m is None else (m[..., pq, :] if m.shape[-2] > 1 else m)
    got = fn(**_sdpa_case(ctx, {**inp, "q": q[..., pq, :], **({} if m is None else {"mask": mq})}))
    ctx.assert_close("attention.sdpa", got, base[..., pq, :], what="permuted queries vs permuted output")
    mk = None if m is None else m[..., pk]
    got = fn(**_sdpa_case(ctx, {**inp, "k": k[..., pk, :], "v": v[..., pk, :], **({} if m is None else {"mask": mk})}))
    ctx.assert_close("attention.sdpa", got, base, what="permuted keys and values vs output")


@st.composite
def _padding_cases(draw):
    Lq, Lk, d = draw(st.integers(1, 3)), draw(st.integers(2, 6)), draw(st.sampled_from([2, 4]))
    keep = _mask(draw, (Lk,))
    keep[draw(st.integers(0, Lk - 1))] = True
    return {"q": draw(gaussian((Lq, d))), "k": draw(gaussian((Lk, d))), "v": draw(gaussian((Lk, 3))), "keep": keep}


def _padding_is_deletion(ctx, fn, inp):
    """A key-padding mask equals deleting those keys (and their values)."""
    keep = inp["keep"]
    masked = fn(q=inp["q"], k=inp["k"], v=inp["v"], mask=_polar(ctx, "attention.sdpa", keep[None, :]))
    deleted = fn(q=inp["q"], k=inp["k"][keep], v=inp["v"][keep])
    ctx.assert_close("attention.sdpa", masked, deleted, what="masked keys vs deleted keys")


def _no_key_is_zero(ctx, fn, inp):
    """A query whose mask admits no key outputs 0 (rows that admit keys are unaffected)."""
    q, k, v = inp["q"], inp["k"], inp["v"]
    keep = np.ones((q.shape[-2], k.shape[-2]), dtype=bool)
    keep[0] = False
    out = fn(q=q, k=k, v=v, mask=_polar(ctx, "attention.sdpa", keep))
    ctx.require("attention.sdpa", bool(np.all(np.isfinite(out))), "a fully masked row gives non-finite output")
    ctx.assert_close("attention.sdpa", out[..., 0, :], np.zeros_like(out[..., 0, :]), what="fully masked row vs 0")


def _large_logits(ctx, fn, inp):
    """Logits of order 10⁴ (q, k scaled by 100): finite, a convex combination of the values, equal to the
    reference (softmax evaluated as exp(s − max s)) within the declared tolerance plus the rounding bound of logits
    that large in the run's dtype (spec/attention.py)."""
    q, k, v = 100.0 * inp["q"], 100.0 * inp["k"], inp["v"]
    r = ctx.round({"q": q, "k": k})
    out = fn(q=r["q"], k=r["k"], v=v)
    ctx.require("attention.sdpa", bool(np.all(np.isfinite(out))), "large logits give non-finite output")
    lo, hi = v.min(axis=-2, keepdims=True), v.max(axis=-2, keepdims=True)
    tol = ctx.tolerance("attention.sdpa")
    slack = tol.atol + tol.rtol * np.abs(v).max()
    ctx.require("attention.sdpa", bool(np.all((out >= lo - slack) & (out <= hi + slack))),
                "large logits give an output outside the values' range")
    u = {"float64": 2.0**-53, "float32": 2.0**-24, "bfloat16": 2.0**-8}[ctx.dtype]   # unit roundoff of the dtype
    d = r["q"].shape[-1]
    delta = (d + 2) * u * np.linalg.norm(r["q"], axis=-1).max() * np.linalg.norm(r["k"], axis=-1).max() / np.sqrt(d)
    ctx.assert_close("attention.sdpa", out, R.sdpa(r["q"], r["k"], v), what="large-logit output vs the reference",
                     tol=Tolerance(rtol=tol.rtol, atol=tol.atol + 2 * delta * float(np.abs(v).max())))  # spec's bound


FILLS = (-1e4, -65504.0)
"""Finite fills an additive mask is written with: −1e4 (BERT's extended attention mask), −65504 (float16's lowest)."""


def _admitted_below_fill(ctx, fn, inp):
    """The declared threshold (spec/attention.py): for each finite fill f a mask might be written with (−1e4,
    −65504), one row per inputs.approach value a of f (relative 1e-15..1e-3 and 1, 2, 4 ulps of the run's dtype):
    two admitted keys with logits a and the next such value, two masked keys with logits 0 and 5, which must weigh
    0. d = 1, q = 1 and k = the logits (values of the run's dtype), so every logit is exact; compared with the
    clause's tolerance."""
    v = np.random.default_rng(7).standard_normal((4, 3))
    for f in FILLS if declared("attention.sdpa", "mask", "threshold") else ():
        near = np.array(approach(f))
        n = len(near)
        logits = np.stack([near, np.roll(near, 1), np.zeros(n), np.full(n, 5.0)], axis=1)       # (n, 4 keys)
        keep = np.broadcast_to(np.array([True, True, False, False]), (n, 1, 4)).copy()
        case = ctx.round({"q": np.ones((n, 1, 1)), "k": logits[..., None], "v": np.broadcast_to(v, (n, 4, 3)).copy()})
        ctx.assert_close("attention.sdpa", fn(**case, mask=_polar(ctx, "attention.sdpa", keep)),
                         R.sdpa(case["q"], case["k"], case["v"], keep),
                         what=f"output with the admitted logits near a finite fill f = {f:g} (masked keys at 0, 5)")


# ---- multi-head attention -----------------------------------------------------------------------
def _weights(draw, shapes):
    return [draw(gaussian(s, scale=1.0 / math.sqrt(s[1]))) for s in shapes]


@st.composite
def _mha_cases(draw, layout="out_in"):
    B, L, M = draw(st.integers(1, 2)), draw(st.integers(1, 4)), draw(st.integers(1, 4))
    D, Dc, heads = draw(st.sampled_from([2, 4])), draw(st.sampled_from([3, 4])), draw(st.sampled_from([1, 2]))
    E, Ev, Do = heads * draw(st.sampled_from([1, 2, 4])), heads * draw(st.sampled_from([1, 2])), \
        draw(st.sampled_from([2, 3]))
    w = _weights(draw, [(E, D), (E, Dc), (Ev, Dc), (Do, Ev)])
    if layout == "in_out":
        w = [m.T.copy() for m in w]
    out = {"x": draw(gaussian((B, L, D))), "context": draw(gaussian((B, M, Dc))),
           "w_q": w[0], "w_k": w[1], "w_v": w[2], "w_o": w[3], "heads": heads}
    if draw(st.booleans()):
        out.update({n: draw(gaussian((s,))) for n, s in (("b_q", E), ("b_k", E), ("b_v", Ev), ("b_o", Do))})
    kind = draw(st.sampled_from(["none", "full", "keys"]))
    if kind != "none":
        out["mask"] = _mask(draw, (B, L, M) if kind == "full" else (B, 1, M))
    return out


def _in_layout(ctx, inp):
    """The case (out_in weights, keep mask) in the target's declared conventions."""
    out = dict(inp)
    if ctx.convention("attention.cross", "weights") == "in_out":
        out.update({n: inp[n].T.copy() for n in ("w_q", "w_k", "w_v", "w_o")})
    if inp.get("mask") is not None:
        out["mask"] = _polar(ctx, "attention.cross", inp["mask"])
    return out


def _lin(x, w, b):
    y = x @ w.T
    return y if b is None else y + b


def _one_token(ctx, fn, inp):
    """With one context token every query gets W_o(W_v c + b_v) + b_o, whatever x (softmax over one key is 1)."""
    c = inp["context"][:, :1]
    case = {k: v for k, v in inp.items() if k != "mask"}
    got = fn(**_in_layout(ctx, {**case, "context": c}))
    want = _lin(_lin(c, inp["w_v"], inp.get("b_v")), inp["w_o"], inp.get("b_o"))
    ctx.assert_close("attention.cross", got, np.broadcast_to(want, got.shape), what="one context token vs W_o(W_v c)")


def _self_equivariance(ctx, fn, inp):
    """Self-attention (context = x) is permutation equivariant."""
    x = inp["x"]
    D = x.shape[-1]
    case = {k: v for k, v in inp.items() if k not in ("mask", "b_k", "b_v")}
    rng = np.random.default_rng(D)
    case.update(context=x, w_k=rng.standard_normal((inp["w_q"].shape[0], D)) / math.sqrt(D),
                w_v=rng.standard_normal((inp["w_v"].shape[0], D)) / math.sqrt(D))
    perm = np.roll(np.arange(x.shape[1]), 1)
    base = fn(**_in_layout(ctx, case))
    got = fn(**_in_layout(ctx, {**case, "x": x[:, perm], "context": x[:, perm]}))
    ctx.assert_close("attention.cross", got, base[:, perm], what="permuted tokens vs permuted output")


def _context_padding(ctx, fn, inp):
    """A key-padding mask (B, 1, M) over the text equals deleting those text tokens."""
    x, c = inp["x"][:1], inp["context"][:1]
    keep = np.zeros(c.shape[1], dtype=bool)
    keep[:: 2] = True
    case = {k: v for k, v in inp.items() if k != "mask"}
    masked = fn(**_in_layout(ctx, {**case, "x": x, "context": c, "mask": keep[None, None, :]}))
    deleted = fn(**_in_layout(ctx, {**case, "x": x, "context": c[:, keep]}))
    ctx.assert_close("attention.cross", masked, deleted, what="masked text tokens vs deleted text tokens")


def _context_admitted_below_fill(ctx, fn, inp):
    """attention.cross's declared threshold, as attention.sdpa's: one batch row per inputs.approach value a of each
    fill in FILLS, one query x = 1, four context tokens with 1×1 projections (W = 1: logit = value = the token),
    two admitted at a and the next such value, two masked at 0 and 5, which must weigh 0."""
    if not declared("attention.cross", "mask", "threshold"):
        return
    one = np.ones((1, 1))
    for f in FILLS:
        near = np.array(approach(f))
        n = len(near)
        c = np.stack([near, np.roll(near, 1), np.zeros(n), np.full(n, 5.0)], axis=1)[..., None]     # (n, 4, 1)
        keep = np.broadcast_to(np.array([True, True, False, False]), (n, 1, 4)).copy()
        case = ctx.round({"x": np.ones((n, 1, 1)), "context": c, "w_q": one, "w_k": one, "w_v": one, "w_o": one,
                          "heads": 1, "mask": keep})
        ctx.assert_close("attention.cross", fn(**_in_layout(ctx, case)), R.attention(**case),
                         what=f"output with the admitted context logits near a finite fill f = {f:g} (masked at 0, 5)")


# ---- joint attention ----------------------------------------------------------------------------
@st.composite
def _joint_cases(draw):
    B, L, M = draw(st.integers(1, 2)), draw(st.integers(1, 4)), draw(st.integers(1, 3))
    D = draw(st.sampled_from([2, 4]))
    heads = draw(st.sampled_from([1, 2]))
    E, Do = heads * draw(st.sampled_from([1, 2])), draw(st.sampled_from([2, 3]))
    shapes = [(E, D), (E, D), (E, D), (Do, E)]
    out = {"x": draw(gaussian((B, L, D))), "c": draw(gaussian((B, M, D))), "w_x": tuple(_weights(draw, shapes)),
           "w_c": tuple(_weights(draw, shapes)), "heads": heads}
    if draw(st.booleans()):
        out["mask_c"] = _mask(draw, (B, M))
    return out


def _shared_weights_is_self_attention(ctx, fn, inp):
    """With w_c = w_x, joint attention is self-attention over the concatenation [x; c]."""
    xc = np.concatenate([inp["x"], inp["c"]], axis=1)
    xo, co = fn(x=inp["x"], c=inp["c"], w_x=inp["w_x"], w_c=inp["w_x"], heads=inp["heads"])
    want = R.attention(xc, xc, *inp["w_x"], inp["heads"])
    L = inp["x"].shape[1]
    ctx.assert_close("attention.joint", xo, want[:, :L], what="image outputs vs self-attention over [x; c]")
    ctx.assert_close("attention.joint", co, want[:, L:], what="text outputs vs self-attention over [x; c]")


def _joint_equivariance(ctx, fn, inp):
    """Permuting the image tokens permutes the image outputs and leaves the text outputs unchanged."""
    perm = np.roll(np.arange(inp["x"].shape[1]), 1)
    xo, co = fn(**inp)
    xp, cp = fn(**{**inp, "x": inp["x"][:, perm]})
    ctx.assert_close("attention.joint", xp, xo[:, perm], what="image outputs under a permutation of the image tokens")
    ctx.assert_close("attention.joint", cp, co, what="text outputs under a permutation of the image tokens")


def _text_padding(ctx, fn, inp):
    """Padded text tokens are deleted keys: the image outputs and the real text rows equal those without them."""
    x, c = inp["x"][:1], inp["c"][:1]
    keep = np.zeros(c.shape[1], dtype=bool)
    keep[::2] = True
    xo, co = fn(x=x, c=c, w_x=inp["w_x"], w_c=inp["w_c"], heads=inp["heads"], mask_c=keep[None, :])
    xd, cd = fn(x=x, c=c[:, keep], w_x=inp["w_x"], w_c=inp["w_c"], heads=inp["heads"])
    ctx.assert_close("attention.joint", xo, xd, what="image outputs: padded text vs deleted text")
    ctx.assert_close("attention.joint", co[:, keep], cd, what="real text rows: padded vs deleted")


# ---- derivations --------------------------------------------------------------------------------
_s = sp.symbols("s0:3", real=True)
_v = sp.symbols("v0:3", real=True)
_c = sp.symbols("c", real=True)


def _softmax_avg(s, v, m=(1, 1, 1)):
    z = sum(mi * sp.exp(si) for mi, si in zip(m, s, strict=True))
    return sum(mi * sp.exp(si) * vi for mi, si, vi in zip(m, s, v, strict=True)) / z


CHECKS = [
    ClauseChecks(
        clause="attention.sdpa",
        cases=_sdpa_cases(),
        proofs=(Proof("softmax is shift-invariant: adding c to every logit of a row changes nothing",
                      lambda: sp.simplify(_softmax_avg([si + _c for si in _s], _v) - _softmax_avg(_s, _v))),
                Proof("a masked key (m = 0) is a deleted key", lambda: sp.simplify(
                    _softmax_avg(_s, _v, (1, 1, 0)) - _softmax_avg(_s[:2], _v[:2], (1, 1)))),
                Proof("one admitted key gets weight 1",
                      lambda: sp.simplify(_softmax_avg(_s[:1], _v[:1], (1,)) - _v[0]))),
        properties=(Property("permutation equivariance (queries) and invariance (keys with values)", _equivariance),
                    Property("a key-padding mask equals deleting those keys", _padding_is_deletion,
                             cases=_padding_cases()),
                    Property("a query with no admitted key outputs 0", _no_key_is_zero),
                    Property("large logits (|s| ~ 10⁴): finite, convex, equal to the reference", _large_logits),
                    Property("admitted logits near a finite fill (−1e4, −65504): masked keys weigh 0",
                             _admitted_below_fill, cases=st.just({}))),
        example=lambda: {"q": np.array([[1.0, 0.0]]), "k": np.array([[1.0, 0.0], [0.0, 1.0], [3.0, 3.0]]),
                         "v": np.array([[1.0], [2.0], [9.0]]), "mask": np.array([[True, True, False]])},
    ),
    ClauseChecks(
        clause="attention.cross",
        cases=_mha_cases(),
        convention_cases=lambda conv: _mha_cases(conv["weights"]),
        properties=(Property("one context token: every query gets W_o(W_v c + b_v) + b_o", _one_token),
                    Property("self-attention (context = x) is permutation equivariant", _self_equivariance),
                    Property("a key-padding mask over the context equals deleting those tokens", _context_padding),
                    Property("admitted context logits near a finite fill (−1e4, −65504): masked tokens weigh 0",
                             _context_admitted_below_fill, cases=st.just({}))),
        example=lambda: {"x": np.array([[[1.0, 0.0]]]), "context": np.array([[[0.0, 1.0], [1.0, 1.0]]]),
                         "w_q": np.eye(2), "w_k": np.eye(2), "w_v": np.eye(2), "w_o": np.eye(2), "heads": 1},
    ),
    ClauseChecks(
        clause="attention.joint",
        cases=_joint_cases(),
        properties=(Property("shared weights: self-attention over [x; c]", _shared_weights_is_self_attention),
                    Property("permuting image tokens permutes image outputs, text outputs unchanged",
                             _joint_equivariance),
                    Property("padded text tokens equal deleted text tokens", _text_padding)),
        example=lambda: {"x": np.array([[[1.0, 0.0]]]), "c": np.array([[[0.0, 1.0]]]),
                         "w_x": (np.eye(2),) * 4, "w_c": (np.eye(2),) * 4, "heads": 1},
    ),
]
