"""Scaled dot-product, multi-head (self/cross) and MM-DiT joint attention in PyTorch (spec/attention.py).

Uses torch.nn.functional.scaled_dot_product_attention (flash / memory-efficient kernels on CUDA). Half precisions run
in their own dtype there (the kernels accumulate in float32); the declared bfloat16 tolerances cover that.
A query row whose mask admits no key outputs 0 (the spec's convention; PyTorch's safe softmax does the same).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from spec import validate as V
from spec.errors import SpecInputError

from ._tensors import tensor as _tensor


def _mask(clause: str, name: str, mask, shape) -> torch.Tensor:
    if not isinstance(mask, torch.Tensor) or mask.dtype != torch.bool:
        got = f"dtype {mask.dtype}" if isinstance(mask, torch.Tensor) else type(mask).__name__
        raise SpecInputError(clause, name, "a bool torch.Tensor (True = may attend)", got)
    try:
        torch.broadcast_shapes(tuple(mask.shape), tuple(shape))
    except RuntimeError:
        raise SpecInputError(clause, name, f"broadcastable to {tuple(shape)}", f"shape {tuple(mask.shape)}") from None
    return mask


def _sdpa(q, k, v, mask):
    out = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
    if mask is not None:        # rows with no admissible key are 0 on every backend
        out = out.masked_fill(~mask.any(dim=-1, keepdim=True), 0.0)
    return out


def sdpa(q, k, v, mask=None):
    """softmax(q kᵀ/√d + log mask) v.

    Args:
        q: (..., Lq, d) queries; k: (..., Lk, d) keys; v: (..., Lk, dv) values (leading axes broadcast).
        mask: optional bool, True = may attend, broadcastable to (..., Lq, Lk); a key-padding mask is (..., 1, Lk).
    Returns (..., Lq, dv).
    """
    c = "attention.sdpa"
    q, k, v = _tensor(c, "q", q, 2), _tensor(c, "k", k, 2), _tensor(c, "v", v, 2)
    if q.shape[-1] != k.shape[-1] or q.shape[-1] == 0:
        raise SpecInputError(c, "q/k", "one positive feature width d", f"q: {tuple(q.shape)}, k: {tuple(k.shape)}")
    if k.shape[-2] != v.shape[-2]:
        raise SpecInputError(c, "k/v", "one number of keys Lk", f"k: {tuple(k.shape)}, v: {tuple(v.shape)}")
    if not (q.dtype == k.dtype == v.dtype):
        raise SpecInputError(c, "q/k/v", "one dtype", f"{q.dtype}, {k.dtype}, {v.dtype}")
    try:
        lead = torch.broadcast_shapes(q.shape[:-2], k.shape[:-2], v.shape[:-2])
    except RuntimeError:
        raise SpecInputError(c, "q/k/v", "broadcastable leading axes",
                             f"q: {tuple(q.shape)}, k: {tuple(k.shape)}, v: {tuple(v.shape)}") from None
    if mask is not None:
        mask = _mask(c, "mask", mask, (*lead, q.shape[-2], k.shape[-2]))
    q, k, v = (a.expand(*lead, *a.shape[-2:]) for a in (q, k, v))
    return _sdpa(q, k, v, mask)


def _weight(clause, name, w, n_in, dtype):
    w = _tensor(clause, name, w, ndim=2)
    if w.shape[1] != n_in or w.dtype != dtype:
        raise SpecInputError(clause, name, f"an (out, {n_in}) matrix of dtype {dtype}", f"{tuple(w.shape)} {w.dtype}")
    return w


def _bias(clause, name, b, n_out, dtype):
    if b is None:
        return None
    b = _tensor(clause, name, b, ndim=1)
    if b.shape[0] != n_out or b.dtype != dtype:
        raise SpecInputError(clause, name, f"a ({n_out},) vector of dtype {dtype}", f"{tuple(b.shape)} {b.dtype}")
    return b


def _heads(clause, heads, *widths) -> int:
    heads = V.scalar(clause, "heads", heads, 1, integer=True)
    for w in widths:
        if w % heads:
            raise SpecInputError(clause, "heads", f"a divisor of the projected width {w}", str(heads))
    return heads


def _split(x, heads):          # (B, L, H·d) → (B, H, L, d)
    B, L, D = x.shape
    return x.reshape(B, L, heads, D // heads).transpose(1, 2)


def _merge(x):                 # (B, H, L, d) → (B, L, H·d)
    B, H, L, d = x.shape
    return x.transpose(1, 2).reshape(B, L, H * d)


def attention(x, context, w_q, w_k, w_v, w_o, heads, b_q=None, b_k=None, b_v=None, b_o=None, mask=None):
    """Multi-head attention: concat_h sdpa(x W_qʰ, c W_kʰ, c W_vʰ) W_oᵀ + b_o.

    Args:
        x: (B, L, D) query tokens; context: (B, M, Dc) key/value tokens (self-attention: context = x;
            cross-attention: context = text tokens).
        w_q, w_k: (E, D), (E, Dc); w_v: (Ev, Dc); w_o: (D_out, Ev) — nn.Linear.weight layout (out, in).
        heads: number of heads; E and Ev are split into heads equal slices (head h uses rows h·E/heads…).
        b_*: optional biases (out,); mask: optional bool broadcastable to (B, L, M), True = may attend
            (key padding: (B, 1, M)).
    Returns (B, L, D_out).
    """
    return _mha("attention.cross", x, context, w_q, w_k, w_v, w_o, heads, b_q, b_k, b_v, b_o, mask)


def _mha(c, x, context, w_q, w_k, w_v, w_o, heads, b_q=None, b_k=None, b_v=None, b_o=None, mask=None):
    x = _tensor(c, "x", x, ndim=3)
    context = _tensor(c, "context", context, ndim=3)
    if context.shape[0] != x.shape[0] or context.dtype != x.dtype:
        raise SpecInputError(c, "context", f"(B = {x.shape[0]}, M, Dc) of dtype {x.dtype}",
                             f"{tuple(context.shape)} {context.dtype}")
    dt = x.dtype
    w_q = _weight(c, "w_q", w_q, x.shape[-1], dt)
    w_k = _weight(c, "w_k", w_k, context.shape[-1], dt)
    w_v = _weight(c, "w_v", w_v, context.shape[-1], dt)
    w_o = _weight(c, "w_o", w_o, w_v.shape[0], dt)
    if w_q.shape[0] != w_k.shape[0]:
        raise SpecInputError(c, "w_q/w_k", "one projected width", f"{tuple(w_q.shape)}, {tuple(w_k.shape)}")
    heads = _heads(c, heads, w_q.shape[0], w_v.shape[0])
    b_q, b_k = _bias(c, "b_q", b_q, w_q.shape[0], dt), _bias(c, "b_k", b_k, w_k.shape[0], dt)
    b_v, b_o = _bias(c, "b_v", b_v, w_v.shape[0], dt), _bias(c, "b_o", b_o, w_o.shape[0], dt)
    B, L, M = x.shape[0], x.shape[1], context.shape[1]
    if mask is not None:
        mask = _mask(c, "mask", mask, (B, L, M))
        mask = mask.reshape((1,) * (3 - mask.ndim) + tuple(mask.shape)).unsqueeze(-3)   # (B|1, 1, L|1, M)
    q = _split(F.linear(x, w_q, b_q), heads)
    k = _split(F.linear(context, w_k, b_k), heads)
    v = _split(F.linear(context, w_v, b_v), heads)
    return F.linear(_merge(_sdpa(q, k, v, mask)), w_o, b_o)


def joint_attention(x, c, w_x, w_c, heads, mask_c=None):
    """MM-DiT joint attention (SD3): per-modality projections, one attention over the L + M concatenated tokens.

    [q; k; v] = [x W_{q,k,v}ˣᵀ ; c W_{q,k,v}ᶜᵀ] along the token axis, o = sdpa(q, k, v) per head,
    x_out = o[:L] W_oˣᵀ, c_out = o[L:] W_oᶜᵀ. No biases.

    Args:
        x: (B, L, D) image tokens; c: (B, M, D) text tokens.
        w_x, w_c: tuples (w_q, w_k, w_v, w_o) of (out, in) matrices for each modality (one width E for q, k, v).
        heads: number of heads; mask_c: optional (B, M) bool key padding for the text tokens (True = real token).
    Returns (x_out (B, L, D_out), c_out (B, M, D_out)).
    """
    cl = "attention.joint"
    x = _tensor(cl, "x", x, ndim=3)
    c = _tensor(cl, "c", c, ndim=3)
    if c.shape[0] != x.shape[0] or c.dtype != x.dtype:
        raise SpecInputError(cl, "c", f"(B = {x.shape[0]}, M, D) of dtype {x.dtype}", f"{tuple(c.shape)} {c.dtype}")
    ws = {}
    for name, w, inp in (("w_x", w_x, x), ("w_c", w_c, c)):
        if not isinstance(w, (tuple, list)) or len(w) != 4:
            raise SpecInputError(cl, name, "a tuple (w_q, w_k, w_v, w_o)", type(w).__name__)
        wq = _weight(cl, f"{name}[0]", w[0], inp.shape[-1], x.dtype)
        E = wq.shape[0]
        wk = _weight(cl, f"{name}[1]", w[1], inp.shape[-1], x.dtype)
        wv = _weight(cl, f"{name}[2]", w[2], inp.shape[-1], x.dtype)
        if wk.shape[0] != E or wv.shape[0] != E:
            raise SpecInputError(cl, name, f"q, k, v projections of one width {E}",
                                 f"{tuple(wk.shape)}, {tuple(wv.shape)}")
        wo = _weight(cl, f"{name}[3]", w[3], E, x.dtype)
        ws[name] = (wq, wk, wv, wo)
    if ws["w_x"][0].shape[0] != ws["w_c"][0].shape[0]:
        raise SpecInputError(cl, "w_x/w_c", "one projected width for both modalities",
                             f"{ws['w_x'][0].shape[0]}, {ws['w_c'][0].shape[0]}")
    heads = _heads(cl, heads, ws["w_x"][0].shape[0])
    B, L, M = x.shape[0], x.shape[1], c.shape[1]
    mask = None
    if mask_c is not None:
        mask_c = _mask(cl, "mask_c", mask_c, (B, M))
        if tuple(mask_c.shape) != (B, M):
            raise SpecInputError(cl, "mask_c", f"shape ({B}, {M})", f"shape {tuple(mask_c.shape)}")
        keep_x = torch.ones(B, L, dtype=torch.bool, device=mask_c.device)
        mask = torch.cat([keep_x, mask_c], dim=1)[:, None, None, :]          # (B, 1, 1, L + M)
    q, k, v = (_split(torch.cat([F.linear(x, ws["w_x"][i]), F.linear(c, ws["w_c"][i])], dim=1), heads)
               for i in range(3))
    o = _merge(_sdpa(q, k, v, mask))
    return F.linear(o[:, :L], ws["w_x"][3]), F.linear(o[:, L:], ws["w_c"][3])
