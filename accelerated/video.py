"""Video latents in PyTorch (spec/video.py): sizes and tokens, space-time patchify, factorized attention; the
functions, names and arguments of reference/video.py, every convention variant. Any device, dtype-preserving
(attention as in accelerated/attention.py)."""
from __future__ import annotations

import torch

from genspec.spec import validate as V
from genspec.spec.bind import implements
from genspec.spec.errors import SpecInputError

from ._tensors import tensor as _tensor
from .attention import attention, check_projections


@implements("video.tokens")
def video_latent_shape(T, H, W, f_t, f, c, p_t=1, p=1, temporal="divide"):
    """t = T/f_t ('causal': 1 + (T − 1)/f_t), h = H/f, w = W/f (03); positions t·h·w, tokens (t/p_t)(h/p)(w/p)."""
    first = 1 if temporal == "causal" else 0                   # a causal VAE encodes the first frame alone
    t, rest = divmod(T - first, f_t)
    (h, rest_h), (w, rest_w) = divmod(H, f), divmod(W, f)
    if rest or rest_h or rest_w or h % p or w % p:
        raise SpecInputError("video.tokens", "T/H/W", f"({'T − 1' if first else 'T'}) a multiple of f_t = {f_t}, "
                             f"H and W multiples of f·p = {f * p}", f"T = {T}, H = {H}, W = {W}")
    t += first
    if t % p_t:
        raise SpecInputError("video.tokens", "p_t", f"a divisor of the latent frames t = {t}", str(p_t))
    return {"latent": (t, h, w, c), "positions": t * h * w, "tokens": (t // p_t) * (h // p) * (w // p)}


@implements("video.patchify")
def patchify(x, p_t, p, layout="nthwc"):
    """Video (..., C, T, H, W) → (..., (T/p_t)(H/p)(W/p), p_t·p·p·C); feature ((τ p + a) p + b) C + c ('channel_first':
    ((c p_t + τ) p + a) p + b), token (i_t (H/p) + i)(W/p) + j. Exact."""
    C, T, H, W = x.shape[-4:]
    if T % p_t or H % p or W % p:
        raise SpecInputError("video.patchify", "x", f"T divisible by p_t = {p_t}, H and W by p = {p}",
                             f"shape {tuple(x.shape)}")
    lead = x.shape[:-4]
    n = len(lead)
    y = x.reshape(*lead, C, T // p_t, p_t, H // p, p, W // p, p)            # (..., C, t, τ, h, a, w, b)
    feature = (n + 2, n + 4, n + 6, n) if layout == "nthwc" else (n, n + 2, n + 4, n + 6)
    y = y.permute(*range(n), n + 1, n + 3, n + 5, *feature)
    return y.reshape(*lead, (T // p_t) * (H // p) * (W // p), p_t * p * p * C)


def _check_factorized(a: dict) -> None:
    """Each stage's weights as attention's (the temporal stage reads the spatial stage's output width)."""
    cl, x = "video.factorized_attention", a["x"]
    w_s, w_t = V.weight_tuple(cl, "w_s", a["w_s"]), V.weight_tuple(cl, "w_t", a["w_t"])
    width = x.shape[-1]
    for stage, w in (("w_s", w_s), ("w_t", w_t)):
        if w is None:
            continue
        f = torch.empty((1, 1, width), dtype=x.dtype, device="meta")
        try:
            check_projections(cl, f, f, w[0], w[1], w[2], w[3], a["heads"])
        except SpecInputError as e:             # name the stage
            raise SpecInputError(cl, f"{stage}: {e.argument}", e.expected, e.got) from None
        width = w[3].shape[0]


@implements("video.factorized_attention", unchecked=("w_s", "w_t"), check=_check_factorized)
def factorized_attention(x, w_s, w_t, heads):
    """Spatial self-attention within each frame, then temporal self-attention across frames at each position (03).

    Args:
        x: (B, T, S, D) tokens, S = h·w positions per frame.
        w_s, w_t: (w_q, w_k, w_v, w_o) (out, in) matrices of the spatial / temporal attention, or None to skip.
        heads: number of heads of both.
    Returns (B, T, S, D_out).
    """
    B, T, S, _ = x.shape
    y = x
    if w_s is not None:
        f = y.reshape(B * T, S, -1)
        y = attention.raw(f, f, *w_s, heads).reshape(B, T, S, -1)
    if w_t is not None:
        f = y.transpose(1, 2).reshape(B * S, T, -1)
        y = attention.raw(f, f, *w_t, heads).reshape(B, S, T, -1).transpose(1, 2)
    return y


def unpatchify(x, p_t, p, T, H, W):
    """The exact inverse of `patchify`: tokens (..., (T/p_t)(H/p)(W/p), p_t·p·p·C) → video (..., C, T, H, W), C inferred
    as features / (p_t·p·p). Checks its arguments, then `tokens_to_video` (the video DiT's output layer calls that)."""
    cl = "video.patchify"
    p_t, p = V.scalar(cl, "p_t", p_t, 1, integer=True), V.scalar(cl, "p", p, 1, integer=True)
    x = _tensor(cl, "x", x, 2)
    n_tok, feat = x.shape[-2:]
    if T % p_t or H % p or W % p or n_tok != (T // p_t) * (H // p) * (W // p) or feat % (p_t * p * p):
        raise SpecInputError(cl, "x", f"(..., {(T // p_t) * (H // p) * (W // p)} tokens, a multiple of {p_t * p * p} "
                                      f"features) for T = {T}, H = {H}, W = {W}", f"shape {tuple(x.shape)}")
    return tokens_to_video(x, p_t, p, T, H, W)


def tokens_to_video(x, p_t, p, T, H, W):
    """`unpatchify` without its checks (inside a network, whose shapes are its own)."""
    C, lead = x.shape[-1] // (p_t * p * p), x.shape[:-2]
    n = len(lead)
    y = x.reshape(*lead, T // p_t, H // p, W // p, p_t, p, p, C)
    y = y.permute(*range(n), n + 6, n, n + 3, n + 1, n + 4, n + 2, n + 5)  # (..., C, t, τ, h, a, w, b)
    return y.reshape(*lead, C, T, H, W)
