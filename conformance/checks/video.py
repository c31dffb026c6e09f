"""Conformance checks of video latents: sizes and token counts (03's ⚠ 295K vs 76K), space-time patchify, and
factorized spatial-then-temporal attention (locality of each stage, T = 1, cost formula)."""
from __future__ import annotations

import math

import numpy as np
import sympy as sp
from hypothesis import strategies as st

from genspec.reference import attention as RA
from genspec.reference import dit as RD
from genspec.reference import video as R
from genspec.spec.schema import Tolerance

from ..harness.arrays import gaussian
from ..harness.declare import ClauseChecks, Proof, Property

_EXACT = Tolerance(rtol=0.0, atol=0.0)
_F64 = Tolerance(rtol=1e-12, atol=1e-12)


# ---- video.tokens -------------------------------------------------------------------------------
def _token_cases(conv):
    causal = conv.get("temporal", "divide") == "causal"

    @st.composite
    def cases(draw):
        f_t, f, p_t, p = (draw(st.sampled_from(s)) for s in ([1, 2, 4, 8], [1, 2, 8], [1, 2], [1, 2]))
        t = p_t * draw(st.integers(1, 4))
        T = 1 + (t - 1) * f_t if causal else t * f_t
        return {"T": T, "H": f * p * draw(st.integers(1, 6)), "W": f * p * draw(st.integers(1, 6)), "f_t": f_t,
                "f": f, "c": draw(st.sampled_from([4, 16])), "p_t": p_t, "p": p}
    return cases()


def _notes_video(ctx, fn, inp):
    """03: 16 frames of 256², 4× temporal, 8× spatial, c = 16 → 4×32×32×16. ⚠ MovieGen: 256 frames of 768², 8×8×8 →
    32×96×96 = 294,912 positions ('~295K tokens', patch 1); with 2×2 patches 73,728 tokens, which is 03's '76K'
    within 4% — 294,912 is 3.9× it."""
    divide = ctx.convention("video.tokens", "temporal") == "divide"
    if not divide:          # the causal variant encodes 1 + (T − 1)/f_t frames: the notes' frame counts are T − 1 + 1
        got = fn(T=17, H=256, W=256, f_t=4, f=8, c=16, p_t=1, p=1)
        ctx.require("video.tokens", tuple(int(v) for v in got["latent"]) == (5, 32, 32, 16),
                    f"causal 17 frames: latent {got['latent']}, expected (5, 32, 32, 16)")
        return
    got = fn(T=16, H=256, W=256, f_t=4, f=8, c=16, p_t=1, p=1)
    ctx.require("video.tokens", tuple(int(v) for v in got["latent"]) == (4, 32, 32, 16),
                f"16 frames 256²: latent {got['latent']}, expected (4, 32, 32, 16)")
    one = fn(T=256, H=768, W=768, f_t=8, f=8, c=16, p_t=1, p=1)
    two = fn(T=256, H=768, W=768, f_t=8, f=8, c=16, p_t=1, p=2)
    ctx.require("video.tokens", tuple(int(v) for v in one["latent"][:3]) == (32, 96, 96)
                and int(one["positions"]) == 294_912 and int(one["tokens"]) == 294_912,
                f"MovieGen latent {one['latent']}, positions {one['positions']}: expected 32×96×96 = 294,912")
    ctx.require("video.tokens", int(two["tokens"]) == 73_728 and abs(int(two["tokens"]) / 76_000 - 1) < 0.04,
                f"MovieGen with 2×2 patches: {two['tokens']} tokens, expected 73,728 (≈ 03's 76K)")


def _token_product(ctx, fn, inp):
    """tokens · p_t · p² = positions (every latent position lies in exactly one patch). The cases are drawn for the
    default variant (T = t·f_t); a causal target gets the same latent length from T = 1 + (t − 1)·f_t frames."""
    if ctx.convention("video.tokens", "temporal") == "causal":
        inp = {**inp, "T": 1 + (inp["T"] // inp["f_t"] - 1) * inp["f_t"]}
    got = fn(**inp)
    ctx.require("video.tokens", int(got["tokens"]) * inp["p_t"] * inp["p"] ** 2 == int(got["positions"]),
                f"tokens {got['tokens']} · p_t p² ≠ positions {got['positions']}")


# ---- video.patchify -----------------------------------------------------------------------------
@st.composite
def _video(draw):
    p_t, p = draw(st.integers(1, 2)), draw(st.integers(1, 2))
    C, t, h, w = (draw(st.integers(1, 3)) for _ in range(4))
    lead = draw(st.sampled_from([(), (2,)]))
    return {"x": draw(gaussian((*lead, C, t * p_t, h * p, w * p))), "p_t": p_t, "p": p}


def _frame_is_dit_patchify(ctx, fn, inp):
    """With p_t = 1 the tokens of frame τ are dit.patchify of that frame (nthwc ↔ nhwpqc, channel_first ↔ itself)."""
    x, p = inp["x"], inp["p"]
    lay = ctx.convention("video.patchify", "layout")
    out = fn(x=x, p_t=1, p=p)
    T = x.shape[-3]
    n = out.shape[-2] // T
    for tau in range(T):
        want = RD.patchify(x[..., tau, :, :], p, layout="nhwpqc" if lay == "nthwc" else "channel_first")
        ctx.assert_close("video.patchify", out[..., tau * n:(tau + 1) * n, :], want, tol=_EXACT,
                         what=f"frame {tau} tokens vs dit.patchify of the frame")


def _conv3d_is_linear(ctx, fn, inp):
    """A stride-(p_t, p, p) Conv3d equals the linear map W_lin = W.permute(0, 2, 3, 4, 1) (nthwc) on the tokens."""
    x, p_t, p = inp["x"], inp["p_t"], inp["p"]
    C, T, H, W = x.shape[-4:]
    w = np.random.default_rng(x.size).standard_normal((2, C, p_t, p, p))
    lay = ctx.convention("video.patchify", "layout")
    w_lin = (w.transpose(0, 2, 3, 4, 1) if lay == "nthwc" else w).reshape(2, -1)
    conv = np.zeros((*x.shape[:-4], 2, T // p_t, H // p, W // p))
    for tau in range(p_t):
        for a in range(p):
            for b in range(p):
                conv += np.einsum("dc,...cthw->...dthw", w[:, :, tau, a, b], x[..., :, tau::p_t, a::p, b::p])
    want = np.moveaxis(conv.reshape(*conv.shape[:-3], -1), -2, -1)
    ctx.assert_close("video.patchify", fn(x=x, p_t=p_t, p=p) @ w_lin.T, want, tol=_F64,
                     what="tokens @ W_linᵀ vs the stride-(p_t, p, p) Conv3d")


# ---- factorized attention -----------------------------------------------------------------------
@st.composite
def _fact_cases(draw):
    B, T, S, D, heads = (draw(st.integers(1, 2)), draw(st.integers(1, 3)), draw(st.integers(1, 4)),
                         draw(st.sampled_from([2, 4])), draw(st.sampled_from([1, 2])))
    E = heads * draw(st.sampled_from([1, 2]))
    shapes = [(E, D), (E, D), (E, D), (D, E)]

    def ws():
        return tuple(draw(gaussian(s, scale=1.0 / math.sqrt(s[1]))) for s in shapes)
    return {"x": draw(gaussian((B, T, S, D))), "w_s": ws(), "w_t": ws(), "heads": heads}


def _locality(ctx, fn, inp, stage):
    x = inp["x"]
    B, T, S, D = x.shape
    t0, s0 = T - 1, S - 1
    dx = np.zeros_like(x)
    dx[:, t0, s0] = 10.0
    kw = {"w_s": inp["w_s"] if stage == "spatial" else None, "w_t": inp["w_t"] if stage == "temporal" else None,
          "heads": inp["heads"]}
    x2 = ctx.round({"x": x + dx})["x"]
    base, moved = fn(x=x, **kw), fn(x=x2, **kw)
    other = np.ones((T, S), dtype=bool)
    if stage == "temporal":
        other[:, s0] = False            # only position s0 may change, in any frame
    else:
        other[t0, :] = False            # only frame t0 may change, at any position
    where = "position" if stage == "temporal" else "frame"
    ctx.assert_close("video.factorized_attention", moved[:, other], base[:, other],
                     what=f"{stage} attention: outputs outside the perturbed token's {where}")
    tol = ctx.tolerance("video.factorized_attention")
    ref_change = R.factorized_attention(x2, **kw) - R.factorized_attention(x, **kw)
    ctx.assert_close("video.factorized_attention", (moved - base)[:, ~other], ref_change[:, ~other],
                     tol=Tolerance(rtol=tol.rtol, atol=2 * tol.atol + 2 * tol.rtol * float(np.abs(moved).max())),
                     what=f"{stage} attention: the change inside the perturbed token's {where} vs the reference's")


def _temporal_local(ctx, fn, inp):
    """Temporal attention (w_s = None) mixes only tokens at the same spatial position."""
    _locality(ctx, fn, inp, "temporal")


def _spatial_local(ctx, fn, inp):
    """Spatial attention (w_t = None) mixes only tokens of the same frame."""
    _locality(ctx, fn, inp, "spatial")


def _order(ctx, fn, inp):
    """The block is spatial, then temporal: f(x; W^s, W^t) = f(f(x; W^s, ·); ·, W^t)."""
    h = inp["heads"]
    s = fn(x=inp["x"], w_s=inp["w_s"], w_t=None, heads=h)
    ctx.assert_close("video.factorized_attention", fn(x=inp["x"], w_s=inp["w_s"], w_t=inp["w_t"], heads=h),
                     fn(x=s, w_s=None, w_t=inp["w_t"], heads=h), what="the block vs temporal(spatial(x))")


def _single_frame(ctx, fn, inp):
    """T = 1: the block is spatial attention followed by the position-wise map W_oᵗ W_vᵗ (softmax over one key is 1)."""
    x = inp["x"][:, :1]
    B, _, S, D = x.shape
    spatial = RA.attention(x[:, 0], x[:, 0], *inp["w_s"], inp["heads"])
    want = (spatial @ inp["w_t"][2].T @ inp["w_t"][3].T)[:, None]
    ctx.assert_close("video.factorized_attention", fn(x=x, w_s=inp["w_s"], w_t=inp["w_t"], heads=inp["heads"]), want,
                     what="T = 1 vs spatial attention then W_oᵗ W_vᵗ")


T_, S_ = sp.symbols("T S", positive=True, integer=True)
FULL, FACT = (T_ * S_) ** 2, T_ * S_**2 + S_ * T_**2

CHECKS = [
    ClauseChecks(
        clause="video.tokens",
        cases=_token_cases({}),
        convention_cases=_token_cases,
        proofs=(Proof("03: 16 frames 256², 4× temporal, 8× spatial → 4×32×32 (×16 channels)", lambda: [
                    sp.Integer(16 // 4) - 4, sp.Integer(256 // 8) - 32]),
                Proof("⚠ 03: 256 frames 768², 8×8×8 → 32×96×96 = 294,912 ('~295K'); 2×2 patches → 73,728 ('76K')",
                      lambda: [sp.Integer(32 * 96 * 96) - 294_912, sp.Integer(32 * 48 * 48) - 73_728])),
        properties=(Property("the notes' videos: 4×32×32×16; MovieGen 294,912 positions, 73,728 tokens at 2×2",
                             _notes_video, cases=st.just({})),
                    Property("tokens · p_t · p² = positions", _token_product)),
        example=lambda: {"T": 256, "H": 768, "W": 768, "f_t": 8, "f": 8, "c": 16, "p_t": 1, "p": 2},
    ),
    ClauseChecks(
        clause="video.patchify",
        cases=_video(),
        properties=(Property("p_t = 1: each frame's tokens are dit.patchify of the frame", _frame_is_dit_patchify),
                    Property("a stride-(p_t, p, p) Conv3d is a linear map of the tokens", _conv3d_is_linear)),
        example=lambda: {"x": np.arange(16.0).reshape(1, 2, 2, 4), "p_t": 2, "p": 2},
    ),
    ClauseChecks(
        clause="video.factorized_attention",
        cases=_fact_cases(),
        max_examples=15,
        proofs=(Proof("full / factorized = T·S / (S + T)", lambda: sp.simplify(FULL / FACT - T_ * S_ / (S_ + T_))),
                Proof("full − factorized = T·S·((T − 1)(S − 1) − 1) ≥ 0 for T, S ≥ 2",
                      lambda: sp.expand(FULL - FACT - T_ * S_ * ((T_ - 1) * (S_ - 1) - 1))),
                Proof("03's MovieGen latent (T = 32, S = 96·96): 86,973,087,744 pairs vs 2,727,346,176", lambda: [
                    FULL.subs({T_: 32, S_: 9216}) - 86_973_087_744, FACT.subs({T_: 32, S_: 9216}) - 2_727_346_176])),
        properties=(Property("temporal attention mixes only tokens at the same position", _temporal_local),
                    Property("spatial attention mixes only tokens of the same frame", _spatial_local),
                    Property("spatial first, then temporal", _order),
                    Property("T = 1: spatial attention followed by W_oᵗ W_vᵗ", _single_frame)),
        example=lambda: {"x": np.arange(8.0).reshape(1, 2, 2, 2) / 8, "w_s": (np.eye(2),) * 4, "w_t": (np.eye(2),) * 4,
                         "heads": 1},
    ),
]
