"""Attention, float64 NumPy reference (spec/attention.py): scaled dot-product attention with boolean masks,
multi-head self/cross-attention and MM-DiT joint attention, every convention variant."""
from __future__ import annotations

import numpy as np

from spec import validate as V
from spec.errors import SpecInputError

POLARITIES = ("true_attends", "true_masks")
WEIGHT_LAYOUTS = ("out_in", "in_out")


def _bool(cl, name, m, shape, polarity):
    m = np.asarray(m)
    if m.dtype != bool:
        raise SpecInputError(cl, name, "a bool array", f"dtype {m.dtype}")
    try:
        np.broadcast_shapes(m.shape, tuple(shape))
    except ValueError:
        raise SpecInputError(cl, name, f"broadcastable to {tuple(shape)}", f"shape {m.shape}") from None
    return ~m if polarity == "true_masks" else m


def _softmax_attend(q, k, v, keep):
    """Σ_j m_ij e^{s_ij} V_j / Σ_l m_il e^{s_il}, s = q kᵀ/√d, evaluated as e^{s − max s}; rows with no key → 0."""
    s = q @ np.swapaxes(k, -1, -2) / np.sqrt(q.shape[-1])
    if keep is not None:
        keep = np.broadcast_to(keep, s.shape)
        s = np.where(keep, s, -np.inf)
    top = np.max(s, axis=-1, keepdims=True)
    top = np.where(np.isfinite(top), top, 0.0)
    e = np.exp(s - top)
    z = e.sum(axis=-1, keepdims=True)
    return (e / np.where(z > 0, z, 1.0)) @ v


def sdpa(q, k, v, mask=None, mask_polarity="true_attends"):
    """softmax(q kᵀ/√d + log m) v (Vaswani et al. eq. 1); a query with no admitted key gives 0."""
    cl = "attention.sdpa"
    q, k, v = (V.array(cl, n, a, min_ndim=2) for n, a in (("q", q), ("k", k), ("v", v)))
    V.choice(cl, "mask_polarity", mask_polarity, POLARITIES)
    if q.shape[-1] != k.shape[-1] or q.shape[-1] == 0:
        raise SpecInputError(cl, "q/k", "one positive feature width d", f"q: {q.shape}, k: {k.shape}")
    if k.shape[-2] != v.shape[-2]:
        raise SpecInputError(cl, "k/v", "one number of keys Lk", f"k: {k.shape}, v: {v.shape}")
    try:
        lead = np.broadcast_shapes(q.shape[:-2], k.shape[:-2], v.shape[:-2])
    except ValueError:
        raise SpecInputError(cl, "q/k/v", "broadcastable leading axes", f"q: {q.shape}, k: {k.shape}, "
                             f"v: {v.shape}") from None
    keep = None if mask is None else _bool(cl, "mask", mask, (*lead, q.shape[-2], k.shape[-2]), mask_polarity)
    return _softmax_attend(q, k, v, keep)


def _proj(x, w, b):
    """x Wᵀ + b for an (out, in) matrix W."""
    y = x @ w.T
    return y if b is None else y + b


def _heads(x, H):            # (B, L, H·d) → (B, H, L, d)
    B, L, E = x.shape
    return x.reshape(B, L, H, E // H).transpose(0, 2, 1, 3)


def _merge(o):               # (B, H, L, d) → (B, L, H·d)
    B, H, L, d = o.shape
    return o.transpose(0, 2, 1, 3).reshape(B, L, H * d)


def attention(x, context, w_q, w_k, w_v, w_o, heads, b_q=None, b_k=None, b_v=None, b_o=None, mask=None,
              weights="out_in", mask_polarity="true_attends"):
    """concat_h Attn(x W_qʰᵀ + b_q, c W_kʰᵀ + b_k, c W_vʰᵀ + b_v) W_oᵀ + b_o, heads = contiguous slices of E.

    'in_out' weights are (in, out) matrices (y = x W); 'true_masks' masks are True where a key is hidden.
    """
    cl = "attention.cross"
    x = V.array(cl, "x", x, ndim=3)
    context = V.array(cl, "context", context, ndim=3)
    V.choice(cl, "weights", weights, WEIGHT_LAYOUTS)
    V.choice(cl, "mask_polarity", mask_polarity, POLARITIES)
    H = V.scalar(cl, "heads", heads, 1, integer=True)
    ws = [V.array(cl, n, w, ndim=2) for n, w in (("w_q", w_q), ("w_k", w_k), ("w_v", w_v), ("w_o", w_o))]
    bs = [None if b is None else V.array(cl, n, b, ndim=1) for n, b in (("b_q", b_q), ("b_k", b_k), ("b_v", b_v),
                                                                        ("b_o", b_o))]
    ws = [w if weights == "out_in" else w.T for w in ws]        # (out, in) from here on
    ins = (("w_q", x.shape[-1]), ("w_k", context.shape[-1]), ("w_v", context.shape[-1]), ("w_o", ws[2].shape[0]))
    for w, (n, width) in zip(ws, ins, strict=True):
        if w.shape[1] != width:
            raise SpecInputError(cl, n, f"a projection from width {width} ({weights} layout)", f"shape {w.shape}")
    for b, w, n in zip(bs, ws, ("b_q", "b_k", "b_v", "b_o"), strict=True):
        if b is not None and b.shape[0] != w.shape[0]:
            raise SpecInputError(cl, n, f"a ({w.shape[0]},) vector", f"shape {b.shape}")
    if ws[0].shape[0] != ws[1].shape[0] or ws[0].shape[0] % H or ws[2].shape[0] % H:
        raise SpecInputError(cl, "heads", "a divisor of one projected width E (and of Ev)",
                             f"heads = {H}, w_q {ws[0].shape}, w_k {ws[1].shape}, w_v {ws[2].shape}")
    if x.shape[0] != context.shape[0]:
        raise SpecInputError(cl, "context", f"batch {x.shape[0]}", f"shape {context.shape}")
    q, k, v = _proj(x, ws[0], bs[0]), _proj(context, ws[1], bs[1]), _proj(context, ws[2], bs[2])
    keep = None
    if mask is not None:
        keep = _bool(cl, "mask", mask, (x.shape[0], x.shape[1], context.shape[1]), mask_polarity)
        keep = keep.reshape((1,) * (3 - keep.ndim) + keep.shape)[:, None]
    o = _merge(_softmax_attend(_heads(q, H), _heads(k, H), _heads(v, H), keep))
    return _proj(o, ws[3], bs[3])


def joint_attention(x, c, w_x, w_c, heads, mask_c=None):
    """MM-DiT: q, k, v = [x W^x; c W^c] over the L + M tokens, one multi-head attention; x' = o_x W_o^x, c' = o_c W_o^c.
    """
    cl = "attention.joint"
    x = V.array(cl, "x", x, ndim=3)
    c = V.array(cl, "c", c, ndim=3)
    H = V.scalar(cl, "heads", heads, 1, integer=True)
    wx = [V.array(cl, f"w_x[{i}]", w, ndim=2) for i, w in enumerate(w_x)]
    wc = [V.array(cl, f"w_c[{i}]", w, ndim=2) for i, w in enumerate(w_c)]
    if len(wx) != 4 or len(wc) != 4:
        raise SpecInputError(cl, "w_x/w_c", "tuples (w_q, w_k, w_v, w_o)", f"{len(wx)}, {len(wc)} matrices")
    B, L, M = x.shape[0], x.shape[1], c.shape[1]
    try:
        q, k, v = (np.concatenate([x @ wx[i].T, c @ wc[i].T], axis=1) for i in range(3))
    except ValueError as e:
        raise SpecInputError(cl, "w_x/w_c", "projections of the token widths to one width E", str(e)) from None
    if q.shape[-1] % H:
        raise SpecInputError(cl, "heads", f"a divisor of E = {q.shape[-1]}", str(H))
    for n, w in (("w_x[3]", wx[3]), ("w_c[3]", wc[3])):
        if w.shape[1] != q.shape[-1]:
            raise SpecInputError(cl, n, f"an output projection from width E = {q.shape[-1]}", f"shape {w.shape}")
    keep = None
    if mask_c is not None:
        m = _bool(cl, "mask_c", mask_c, (B, M), "true_attends")
        if m.shape != (B, M):
            raise SpecInputError(cl, "mask_c", f"shape ({B}, {M})", f"shape {m.shape}")
        keep = np.concatenate([np.ones((B, L), dtype=bool), m], axis=1)[:, None, None, :]
    o = _merge(_softmax_attend(_heads(q, H), _heads(k, H), _heads(v, H), keep))
    return o[:, :L] @ wx[3].T, o[:, L:] @ wc[3].T
