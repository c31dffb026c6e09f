"""Video latents, float64 NumPy reference (spec/video.py; 00, 03, 04): sizes and tokens, space-time patchify,
factorized spatial-then-temporal attention. Sizes are integers in [1, 2²⁰] (spec.bind): beyond a million pixels (or
frames) a side they are input errors, not overflows."""
from __future__ import annotations

import numpy as np

from genspec.spec import validate as V
from genspec.spec.bind import implements
from genspec.spec.errors import SpecInputError

from .attention import attention


@implements("video.tokens")
def video_latent_shape(T, H, W, f_t, f, c, p_t=1, p=1, temporal="divide"):
    """t = T/f_t ('causal': 1 + (T − 1)/f_t), h = H/f, w = W/f; positions t·h·w; tokens (t/p_t)(h/p)(w/p)."""
    frames = T - 1 if temporal == "causal" else T
    if frames % f_t or H % (f * p) or W % (f * p):
        raise SpecInputError("video.tokens", "T/H/W", f"({'T − 1' if temporal == 'causal' else 'T'}) a multiple of "
                             f"f_t = {f_t}, H and W multiples of f·p = {f * p}", f"T = {T}, H = {H}, W = {W}")
    t = frames // f_t + (1 if temporal == "causal" else 0)
    h, w = H // f, W // f
    if t % p_t:
        raise SpecInputError("video.tokens", "p_t", f"a divisor of the latent frames t = {t}", str(p_t))
    return {"latent": (t, h, w, c), "positions": t * h * w, "tokens": (t // p_t) * (h // p) * (w // p)}


@implements("video.patchify")
def patchify(x, p_t, p, layout="nthwc"):
    """X[n, ((τ p + a) p + b) C + c] = x[c, i_t p_t + τ, i p + a, j p + b], n = (i_t h + i) w + j
    ('channel_first': feature ((c p_t + τ) p + a) p + b)."""
    C, T, H, W = x.shape[-4:]
    if T % p_t or H % p or W % p:
        raise SpecInputError("video.patchify", "x", f"T divisible by p_t = {p_t}, H and W by p = {p}",
                             f"shape {x.shape}")
    r = [np.arange(n) for n in (T // p_t, H // p, W // p)]
    if layout == "nthwc":
        it, i, j, tau, a, b, c = np.meshgrid(*r, np.arange(p_t), np.arange(p), np.arange(p), np.arange(C),
                                             indexing="ij")
    else:
        it, i, j, c, tau, a, b = np.meshgrid(*r, np.arange(C), np.arange(p_t), np.arange(p), np.arange(p),
                                             indexing="ij")
    X = x[..., c, it * p_t + tau, i * p + a, j * p + b]
    return X.reshape(*x.shape[:-4], (T // p_t) * (H // p) * (W // p), p_t * p * p * C)


@implements("video.factorized_attention", unchecked=("w_s", "w_t"))
def factorized_attention(x, w_s, w_t, heads):
    """s[b, t] = MHA(x[b, t], x[b, t]; W^s) for each frame, y[b, :, n] = MHA(s[b, :, n]; W^t) for each position n.

    Args: x (B, T, S, D), S = h·w positions per frame; w_s, w_t (w_q, w_k, w_v, w_o) or None to skip that stage.
    """
    cl = "video.factorized_attention"
    w_s, w_t = V.weight_tuple(cl, "w_s", w_s), V.weight_tuple(cl, "w_t", w_t)
    B, T, S, D = x.shape
    y, stage = x, "w_s"
    try:
        if w_s is not None:                     # attend within each frame: the batch is (b, t)
            f = y.reshape(B * T, S, -1)
            y = attention(f, f, *w_s, heads).reshape(B, T, S, -1)
        stage = "w_t"
        if w_t is not None:                     # attend across frames at each position: the batch is (b, n)
            f = y.transpose(0, 2, 1, 3).reshape(B * S, T, -1)
            y = attention(f, f, *w_t, heads).reshape(B, S, T, -1).transpose(0, 2, 1, 3)
    except SpecInputError as e:                 # name this clause, and the stage
        raise SpecInputError(cl, f"{stage}: {e.argument}", e.expected, e.got) from None
    return y
