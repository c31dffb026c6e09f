"""Conformance checks of the DiT building blocks (dit.*) and the U-Net's FiLM (unet.film).

``check_identity_at_init(block, x, c)`` checks any DiT block built with AdaLN-Zero against dit.adaln_zero's claim.
"""
from __future__ import annotations

import math

import numpy as np
import sympy as sp
from hypothesis import strategies as st

from genspec.reference import attention as RA
from genspec.reference import dit as R
from genspec.spec.schema import Tolerance

from ..harness.arrays import T_EDGES, draw_edges, gaussian
from ..harness.declare import ClauseChecks, Proof, Property

_EXACT = Tolerance(rtol=0.0, atol=0.0)
_F64 = Tolerance(rtol=1e-12, atol=1e-12)


# ---- patchify / unpatchify ----------------------------------------------------------------------
@st.composite
def _image(draw):
    p = draw(st.integers(1, 3))
    C, h, w = draw(st.integers(1, 3)), draw(st.integers(1, 3)), draw(st.integers(1, 3))
    lead = draw(st.sampled_from([(), (2,), (1, 2)]))
    return {"x": draw(gaussian((*lead, C, h * p, w * p))), "p": p}


@st.composite
def _tokens(draw):
    d = draw(_image())
    H, W = d["x"].shape[-2:]
    return {"x": R.patchify(d["x"], d["p"]), "p": d["p"], "H": H, "W": W}


def _conv2d(x, w, p):
    """A stride-p, kernel-p convolution written as sums over the kernel (PatchEmbed.proj, no bias)."""
    D, C = w.shape[:2]
    h, wd = x.shape[-2] // p, x.shape[-1] // p
    out = np.zeros((*x.shape[:-3], D, h, wd))
    for a in range(p):
        for b in range(p):
            out += np.einsum("dc,...chw->...dhw", w[:, :, a, b], x[..., :, a::p, b::p][..., :h, :wd])
    return out


def _conv_is_linear(ctx, fn, inp):
    """Conv2d(C, D, p, stride p) = tokens @ W_linᵀ with W_lin = W.permute(0, 2, 3, 1) (nhwpqc) or W.reshape
    (channel_first)."""
    x, p = inp["x"], inp["p"]
    C = x.shape[-3]
    w = np.random.default_rng(x.size).standard_normal((3, C, p, p))
    lay = ctx.convention("dit.patchify", "layout")
    w_lin = (w.transpose(0, 2, 3, 1) if lay == "nhwpqc" else w).reshape(3, -1)
    conv = _conv2d(x, w, p)
    conv_tokens = np.moveaxis(conv.reshape(*conv.shape[:-2], -1), -2, -1)       # (..., N, D), n = i (W/p) + j
    ctx.assert_close("dit.patchify", fn(x=x, p=p) @ w_lin.T, conv_tokens, tol=_F64,
                     what="tokens @ W_linᵀ vs the stride-p convolution (diffusers' PatchEmbed.proj)")


def _patch_round_trip(ctx, fn, inp):
    """unpatchify(patchify(x)) = x exactly (the reference inverse in the target's layout)."""
    x, p = inp["x"], inp["p"]
    lay = ctx.convention("dit.patchify", "layout")
    back = R.unpatchify(fn(x=x, p=p), p, x.shape[-2], x.shape[-1], layout=lay)
    ctx.assert_close("dit.patchify", back, x, tol=_EXACT, what="unpatchify(patchify(x)) vs x")


def _unpatch_round_trip(ctx, fn, inp):
    """patchify(unpatchify(X)) = X exactly."""
    lay = ctx.convention("dit.unpatchify", "layout")
    x = R.patchify(R.unpatchify(inp["x"], inp["p"], inp["H"], inp["W"]), inp["p"], layout=lay)
    img = fn(x=x, p=inp["p"], H=inp["H"], W=inp["W"])
    ctx.assert_close("dit.unpatchify", R.patchify(img, inp["p"], layout=lay), x, tol=_EXACT,
                     what="patchify(unpatchify(X)) vs X")


# ---- timestep embedding -------------------------------------------------------------------------
def _time_cases(conv):
    high = 1.0 if conv.get("time_scale", "as_given") == "times_1000" else 1000.0
    low_dim = 4 if conv.get("freq_shift", "shift_0") == "shift_1" else 1

    @st.composite
    def cases(draw):
        n = draw(st.integers(1, 4))
        t = np.random.default_rng(draw(st.integers(0, 2**32 - 1))).uniform(0.0, high, n)
        t[: draw(st.integers(0, n))] = draw(st.sampled_from([0.0, high]))      # the ends of the range
        t = draw_edges(draw, t, tuple(high * v for v in T_EDGES))             # within 1e-9..1e-3 of 0 and high
        return {"t": t, "dim": draw(st.sampled_from([low_dim, 5, 8, 9, 16])),
                "max_period": draw(st.sampled_from([10000.0, 100.0]))}
    return cases()


def _grid(ctx):
    """The 51 times of a 50-step sampler in the embedded scale 1000·(1 − k/50), passed in the target's time scale."""
    g = 1.0 - np.arange(51) / 50.0
    return g if ctx.convention("dit.timestep_embedding", "time_scale") == "times_1000" else 1000.0 * g


def _norm(ctx, fn, inp):
    """‖e(t)‖ = √⌊dim/2⌋ for every t (cos² + sin² = 1 per frequency, the odd column is 0)."""
    e = fn(**inp)
    tol = ctx.tolerance("dit.timestep_embedding")
    h = inp["dim"] // 2
    bound = Tolerance(rtol=0.0, atol=math.sqrt(inp["dim"]) * (tol.atol + tol.rtol))
    ctx.assert_close("dit.timestep_embedding", np.linalg.norm(e, axis=1), np.full(e.shape[0], math.sqrt(h)),
                     tol=bound, what="‖e(t)‖ vs √(dim/2)")
    if inp["dim"] % 2:
        ctx.require("dit.timestep_embedding", bool(np.all(e[:, -1] == 0)), "the odd dimension's last column is not 0")


def _distinct(ctx, fn, inp):
    """The embeddings of a 50-step sampler's grid are pairwise distinct, by more than the dtype's tolerance."""
    e = fn(t=_grid(ctx), dim=inp["dim"], max_period=10000.0)
    d = np.linalg.norm(e[:, None, :] - e[None, :, :], axis=-1)
    gap = float(np.min(d[~np.eye(len(d), dtype=bool)]))
    tol = ctx.tolerance("dit.timestep_embedding")
    need = 4 * math.sqrt(inp["dim"]) * (tol.atol + tol.rtol)
    ctx.require("dit.timestep_embedding", gap > need,
                f"two grid times have embeddings {gap:.3g} apart (≤ {need:.3g}, the tolerance): not distinct")


# ---- AdaLN, FiLM, AdaLN-Zero --------------------------------------------------------------------
@st.composite
def _adaln_cases(draw):
    B, N, D = draw(st.integers(1, 2)), draw(st.integers(1, 3)), draw(st.sampled_from([1, 2, 4, 8, 16]))
    h = draw(gaussian((B, N, D), scale=draw(st.sampled_from([1.0, 10.0]))))
    if draw(st.booleans()):
        h[0, 0, :] = 0.75                                   # a constant row: σ² = 0, the output is β
    mshape = draw(st.sampled_from([(B, 1, D), (D,)]))
    return {"h": h, "gamma": draw(gaussian(mshape)), "beta": draw(gaussian(mshape)),
            "eps": draw(st.sampled_from([1e-6, 1e-5]))}


def _constant_row_gives_beta(ctx, fn, inp):
    """A constant row normalises to 0: AdaLN = β there (whatever γ)."""
    h = inp["h"].copy()
    h[..., 0, :] = 0.75
    out = fn(**{**inp, "h": h})
    beta = np.broadcast_to(inp["beta"], h.shape)[..., 0, :]
    ctx.assert_close("dit.adaln", out[..., 0, :], beta, what="AdaLN of a constant row vs β")


def _normalises(ctx, fn, inp):
    """With the identity modulation each row has mean 0 and variance σ²/(σ² + ε)."""
    h = inp["h"]
    one = 1.0 if ctx.convention("dit.adaln", "modulation") == "gamma_beta" else 0.0
    out = fn(h=h, gamma=np.full(h.shape[-1], one), beta=np.zeros(h.shape[-1]), eps=inp["eps"])
    var = h.var(axis=-1)
    tol = ctx.tolerance("dit.adaln")
    ctx.assert_close("dit.adaln", out.mean(axis=-1), np.zeros(var.shape), what="row mean of LN(h)",
                     tol=Tolerance(rtol=0.0, atol=tol.atol + tol.rtol * 4))
    ctx.assert_close("dit.adaln", out.var(axis=-1), var / (var + inp["eps"]), what="row variance of LN(h)",
                     tol=Tolerance(rtol=0.0, atol=8 * (tol.atol + tol.rtol * 4)))


def _modulation_mapping(ctx, fn, inp):
    """DiT's modulate(LN(h), shift, scale) = AdaLN with γ = 1 + scale, β = shift: the target in its declared variant
    against the reference in the other one, through the mapping."""
    h, g, b, eps = inp["h"], inp["gamma"], inp["beta"], inp["eps"]
    if ctx.convention("dit.adaln", "modulation") == "gamma_beta":   # the target takes γ; give it 1 + scale (as rounded)
        gamma = ctx.round({"g": 1.0 + g})["g"]
        got, want = fn(h=h, gamma=gamma, beta=b, eps=eps), R.adaln(h, gamma - 1.0, b, eps, modulation="one_plus_scale")
    else:                                                        # the target takes scale; give it γ − 1 (as rounded)
        scale = ctx.round({"s": g - 1.0})["s"]
        got, want = fn(h=h, gamma=scale, beta=b, eps=eps), R.adaln(h, scale + 1.0, b, eps, modulation="gamma_beta")
    ctx.assert_close("dit.adaln", got, want, what="variant mapping γ = 1 + scale, β = shift")


@st.composite
def _film_cases(draw):
    B, C, H, W = draw(st.integers(1, 2)), draw(st.integers(1, 4)), draw(st.integers(1, 3)), draw(st.integers(1, 3))
    return {"h": draw(gaussian((B, C, H, W))), "gamma": draw(gaussian((B, C, 1, 1))),
            "beta": draw(gaussian((B, C, 1, 1)))}


def _film_identity(ctx, fn, inp):
    """γ = 1, β = 0 returns h exactly."""
    h = inp["h"]
    ctx.assert_close("unet.film", fn(h=h, gamma=np.ones_like(inp["gamma"]), beta=np.zeros_like(inp["beta"])), h,
                     tol=_EXACT, what="FiLM(h; 1, 0) vs h")


def _film_per_channel(ctx, fn, inp):
    """Each channel gets its own (γ_c, β_c): permuting channels of h, γ, β permutes the output."""
    perm = np.roll(np.arange(inp["h"].shape[1]), 1)
    out = fn(**inp)
    got = fn(h=inp["h"][:, perm], gamma=inp["gamma"][:, perm], beta=inp["beta"][:, perm])
    ctx.assert_close("unet.film", got, out[:, perm], what="FiLM with permuted channels")


@st.composite
def _gated_cases(draw):
    B, N, D = draw(st.integers(1, 2)), draw(st.integers(1, 3)), draw(st.integers(1, 8))
    return {"x": draw(gaussian((B, N, D))), "gate": draw(gaussian((B, 1, D))), "branch": draw(gaussian((B, N, D)))}


def check_identity_at_init(block, x, c, *, tol: Tolerance = _EXACT):
    """AdaLN-Zero's claim for any block(x, c) with zero-initialised gates: block(x, c) = x.

    Returns the largest |block(x, c) − x|; raises AssertionError beyond ``tol``.
    """
    out = np.asarray(block(x, c), dtype=np.float64)
    x = np.asarray(x, dtype=np.float64)
    err = float(np.max(np.abs(out - x), initial=0.0))
    bound = tol.atol + tol.rtol * float(np.max(np.abs(x), initial=0.0))
    if out.shape != x.shape or err > bound:
        raise AssertionError(f"dit.adaln_zero: a block with zero-initialised gates is not the identity: "
                             f"max |block(x, c) − x| = {err:.3g} (shape {out.shape} vs {x.shape})")
    return err


def _zero_gate(ctx, fn, inp):
    """gate = 0 returns x exactly for any branch, even a huge one."""
    x = inp["x"]
    for branch in (inp["branch"], 1e30 * inp["branch"]):
        ctx.assert_close("dit.adaln_zero", fn(x=x, gate=np.zeros_like(inp["gate"]), branch=branch), x, tol=_EXACT,
                         what="x + 0 ⊙ F vs x")


def _block_identity(ctx, fn, inp):
    """A DiT block (AdaLN → self-attention → gated residual) whose modulation MLP is zero-initialised is the identity:
    the block is built from the reference's adaln and attention and the target's gated residual."""
    x = inp["x"]
    B, N, D = x.shape
    rng = np.random.default_rng(D)
    w_attn = [rng.standard_normal((D, D)) / math.sqrt(D) for _ in range(4)]
    w_mod = np.zeros((3 * D, 4))                            # adaLN_modulation Linear, zero-initialised (DiT)

    def block(x, c):
        shift, scale, gate = np.split((c @ w_mod.T)[:, None, :], 3, axis=-1)
        h = R.adaln(x, 1.0 + scale, shift)
        return fn(x=x, gate=gate, branch=RA.attention(h, h, *w_attn, 1))

    try:
        check_identity_at_init(block, x, rng.standard_normal((B, 4)))
    except AssertionError as e:
        raise AssertionError(str(e)) from None


# ---- derivations --------------------------------------------------------------------------------
_k, _h, _P, _t = sp.symbols("k h P t", positive=True)
_s, _sh, _n, _g, _b = sp.symbols("s shift n gamma beta", real=True)
_a, _eps = sp.symbols("a epsilon", positive=True)
_h1, _h2, _h3, _c = sp.symbols("h1 h2 h3 c", real=True)


_phase = _t * sp.exp(-sp.log(_P) * _k / _h)                 # t f_k, f_k = exp(−ln(P) k / h)
_cos_sin = sp.lambdify((_t, _k, _h, _P), (sp.cos(_phase), sp.sin(_phase)), "numpy")


def _embedding_from_derivation(t, dim, max_period):
    """[cos(t f_k), sin(t f_k)] (+ a zero column) from the sympy expression of the phase."""
    h = dim // 2
    c, s = _cos_sin(t[:, None], np.arange(h)[None, :], max(h, 1), max_period) if h else (np.zeros((len(t), 0)),) * 2
    return np.concatenate([c, s, np.zeros((len(t), dim % 2))], axis=1)


def _ln(hs, eps):
    mu = sum(hs) / len(hs)
    var = sum((v - mu) ** 2 for v in hs) / len(hs)
    return [(v - mu) / sp.sqrt(var + eps) for v in hs]


def _ln_invariance():
    hs = [_h1, _h2, _h3]
    scaled = _ln([_a * v + _c for v in hs], _a**2 * _eps)
    return [sp.simplify(u - w) for u, w in zip(scaled, _ln(hs, _eps), strict=True)]


CHECKS = [
    ClauseChecks(
        clause="dit.patchify",
        cases=_image(),
        properties=(Property("a stride-p convolution equals a linear map of the tokens (PatchEmbed's weight layout)",
                             _conv_is_linear),
                    Property("unpatchify(patchify(x)) = x", _patch_round_trip)),
        example=lambda: {"x": np.arange(8.0).reshape(2, 2, 2), "p": 2},
    ),
    ClauseChecks(
        clause="dit.unpatchify",
        cases=_tokens(),
        properties=(Property("patchify(unpatchify(X)) = X", _unpatch_round_trip),),
        example=lambda: {"x": np.arange(8.0).reshape(1, 8), "p": 2, "H": 2, "W": 2},
    ),
    ClauseChecks(
        clause="dit.timestep_embedding",
        cases=_time_cases({}),
        convention_cases=_time_cases,
        symbolic=_embedding_from_derivation,
        proofs=(Proof("‖e(t)‖² = h (h = 3): Σ cos² + sin² over the frequencies", lambda: sp.simplify(
                    sum(sp.cos(_t * sp.exp(-sp.log(_P) * j / 3)) ** 2 + sp.sin(_t * sp.exp(-sp.log(_P) * j / 3)) ** 2
                        for j in range(3)) - 3)),
                Proof("f_0 = 1 and, with freq_shift shift_1, f_{h−1} = 1/P exactly", lambda: [
                    sp.exp(-sp.log(_P) * 0 / _h) - 1, sp.simplify(sp.exp(-sp.log(_P) * (_h - 1) / (_h - 1)) - 1 / _P)]),
                Proof("sin_cos is cos_sin with the halves swapped: sin(x) = cos(x − π/2)",
                      lambda: sp.simplify(sp.sin(_t) - sp.cos(_t - sp.pi / 2)))),
        properties=(Property("‖e(t)‖ = √(dim/2), the odd column is 0", _norm),
                    Property("distinct embeddings on a 50-step sampler's grid", _distinct,
                             cases=st.fixed_dictionaries({"dim": st.sampled_from([8, 16, 32])}))),
        example=lambda: {"t": np.array([0.0, 500.0]), "dim": 4, "max_period": 10000.0},
    ),
    ClauseChecks(
        clause="dit.adaln",
        cases=_adaln_cases(),
        proofs=(Proof("DiT's LN(h)(1 + s) + shift is AdaLN with γ = 1 + s, β = shift",
                      lambda: ((1 + _s) * _n + _sh) - (_g * _n + _b).subs({_g: 1 + _s, _b: _sh})),
                Proof("LN(a h + c; a² ε) = LN(h; ε) for a > 0 (D = 3)", _ln_invariance)),
        properties=(Property("a constant row gives β", _constant_row_gives_beta),
                    Property("identity modulation: rows of mean 0 and variance σ²/(σ² + ε)", _normalises),
                    Property("variant mapping γ = 1 + scale, β = shift (DiT's modulate)", _modulation_mapping)),
        example=lambda: {"h": np.array([[1.0, 2.0, 3.0]]), "gamma": np.array([2.0, 2.0, 2.0]),
                         "beta": np.array([0.0, 1.0, 0.0]), "eps": 1e-6},
    ),
    ClauseChecks(
        clause="unet.film",
        cases=_film_cases(),
        properties=(Property("γ = 1, β = 0 is the identity", _film_identity),
                    Property("per-channel modulation: permuting channels permutes the output", _film_per_channel)),
        example=lambda: {"h": np.array([[[[1.0, -1.0]], [[2.0, 0.5]]]]), "gamma": np.array([[[[2.0]], [[0.5]]]]),
                         "beta": np.array([[[[0.0]], [[1.0]]]])},
    ),
    ClauseChecks(
        clause="dit.adaln_zero",
        cases=_gated_cases(),
        properties=(Property("gate = 0 returns x exactly, for any branch", _zero_gate),
                    Property("a DiT block with zero-initialised modulation is the identity", _block_identity)),
        example=lambda: {"x": np.array([[[1.0, 2.0]]]), "gate": np.array([[[0.0, 0.5]]]),
                         "branch": np.array([[[10.0, 10.0]]])},
    ),
]
