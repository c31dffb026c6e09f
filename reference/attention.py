"""Attention, float64 NumPy reference (spec/attention.py): scaled dot-product attention with boolean masks,
multi-head self/cross-attention and MM-DiT joint attention, every convention variant.

Tokens are checked by spec.bind from the clauses' symbols (q (..., Lq, d), k (..., Lk, d), v (..., Lk, dv); x
(B, L, D), context (B, M, Dc)); masks, projection matrices (whose layout is a convention) and biases here.
"""
from __future__ import annotations

import numpy as np

from genspec.spec import validate as V
from genspec.spec.bind import implements
from genspec.spec.errors import SpecInputError


def _bool(cl, name, m, shape, polarity="true_attends"):
    """A bool mask broadcastable to `shape`, as True = may attend."""
    m = np.asarray(m)
    if m.dtype != bool:
        raise SpecInputError(cl, name, "a bool array", f"dtype {m.dtype}")
    try:
        np.broadcast_shapes(m.shape, tuple(shape))
    except ValueError:
        raise SpecInputError(cl, name, f"broadcastable to {tuple(shape)}", f"shape {m.shape}") from None
    return ~m if polarity == "true_masks" else m


def _matrix(cl, name, w, n_in, layout="out_in"):
    """A projection as an (out, n_in) matrix ('in_out' matrices are transposed)."""
    w = V.array(cl, name, w, ndim=2)
    w = w if layout == "out_in" else w.T
    if w.shape[1] != n_in:
        raise SpecInputError(cl, name, f"a projection from width {n_in} ({layout} layout)", f"shape {w.shape}")
    return w


def _vector(cl, name, b, n_out):
    if b is None:
        return None
    b = V.array(cl, name, b, ndim=1)
    if b.shape[0] != n_out:
        raise SpecInputError(cl, name, f"a ({n_out},) vector", f"shape {b.shape}")
    return b


def _softmax_attend(q, k, v, keep):
    """Σ_j m_ij e^{s_ij} V_j / Σ_l m_il e^{s_il}, s = q kᵀ/√d, evaluated as e^{s − max s}; rows with no key → 0."""
    s = q @ np.swapaxes(k, -1, -2) / np.sqrt(q.shape[-1])
    if keep is not None:
        s = np.where(np.broadcast_to(keep, s.shape), s, -np.inf)
    top = np.max(s, axis=-1, keepdims=True)
    e = np.exp(s - np.where(np.isfinite(top), top, 0.0))
    z = e.sum(axis=-1, keepdims=True)
    return (e / np.where(z > 0, z, 1.0)) @ v


@implements("attention.sdpa", unchecked=("mask",))
def sdpa(q, k, v, mask=None, mask_polarity="true_attends"):
    """softmax(q kᵀ/√d + log m) v (Vaswani et al. eq. 1); a query with no admitted key gives 0.

    Args: q (..., Lq, d), k (..., Lk, d), v (..., Lk, dv); mask bool, broadcastable to (..., Lq, Lk).
    """
    if q.shape[-1] == 0:
        raise SpecInputError("attention.sdpa", "q", "a positive feature width d", f"shape {q.shape}")
    keep = None if mask is None else _bool("attention.sdpa", "mask", mask, (*q.shape[:-1], k.shape[-2]),
                                           mask_polarity)
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


@implements("attention.cross", unchecked=("w_q", "w_k", "w_v", "w_o", "mask"))
def attention(x, context, w_q, w_k, w_v, w_o, heads, b_q=None, b_k=None, b_v=None, b_o=None, mask=None,
              weights="out_in", mask_polarity="true_attends"):
    """concat_h Attn(x W_qʰᵀ + b_q, c W_kʰᵀ + b_k, c W_vʰᵀ + b_v) W_oᵀ + b_o, heads = contiguous slices of E.

    'in_out' weights are (in, out) matrices (y = x W); 'true_masks' masks are True where a key is hidden.
    """
    cl = "attention.cross"
    wq, wk = _matrix(cl, "w_q", w_q, x.shape[-1], weights), _matrix(cl, "w_k", w_k, context.shape[-1], weights)
    wv = _matrix(cl, "w_v", w_v, context.shape[-1], weights)
    wo = _matrix(cl, "w_o", w_o, wv.shape[0], weights)
    if wq.shape[0] != wk.shape[0]:
        raise SpecInputError(cl, "w_k", f"a projection to the width of w_q, {wq.shape[0]}", f"shape {w_k.shape}")
    V.heads(cl, heads, wq.shape[0], wv.shape[0])
    bq, bk, bv, bo = (_vector(cl, n, b, w.shape[0]) for n, b, w in
                      (("b_q", b_q, wq), ("b_k", b_k, wk), ("b_v", b_v, wv), ("b_o", b_o, wo)))
    keep = None
    if mask is not None:
        keep = _bool(cl, "mask", mask, (x.shape[0], x.shape[1], context.shape[1]), mask_polarity)
        keep = keep.reshape((1,) * (3 - keep.ndim) + keep.shape)[:, None]
    q, k, v = _proj(x, wq, bq), _proj(context, wk, bk), _proj(context, wv, bv)
    return _proj(_merge(_softmax_attend(_heads(q, heads), _heads(k, heads), _heads(v, heads), keep)), wo, bo)


def _stream(cl, name, w, width):
    """(w_q, w_k, w_v, w_o) of one modality: projections of `width` to one E, and back from E."""
    V.weight_tuple(cl, name, w, optional=False)
    ws = [_matrix(cl, f"{name}[{i}]", m, width) for i, m in enumerate(w[:3])]
    if ws[1].shape[0] != ws[0].shape[0] or ws[2].shape[0] != ws[0].shape[0]:
        raise SpecInputError(cl, name, f"q, k, v projections of one width {ws[0].shape[0]}",
                             f"{ws[1].shape}, {ws[2].shape}")
    return (*ws, _matrix(cl, f"{name}[3]", w[3], ws[0].shape[0]))


@implements("attention.joint", unchecked=("w_x", "w_c", "mask_c"))
def joint_attention(x, c, w_x, w_c, heads, mask_c=None):
    """MM-DiT: q, k, v = [x W^x; c W^c] over the L + M tokens, one multi-head attention; x' = o_x W_o^x, c' = o_c W_o^c.
    """
    cl = "attention.joint"
    wx, wc = _stream(cl, "w_x", w_x, x.shape[-1]), _stream(cl, "w_c", w_c, c.shape[-1])
    if wx[0].shape[0] != wc[0].shape[0]:
        raise SpecInputError(cl, "w_c", f"projections to the width of w_x, {wx[0].shape[0]}", f"{wc[0].shape[0]}")
    V.heads(cl, heads, wx[0].shape[0])
    B, L, M = x.shape[0], x.shape[1], c.shape[1]
    keep = None
    if mask_c is not None:
        m = _bool(cl, "mask_c", mask_c, (B, M))
        if m.shape != (B, M):
            raise SpecInputError(cl, "mask_c", f"shape ({B}, {M})", f"shape {m.shape}")
        keep = np.concatenate([np.ones((B, L), dtype=bool), m], axis=1)[:, None, None, :]
    q, k, v = (np.concatenate([x @ wx[i].T, c @ wc[i].T], axis=1) for i in range(3))
    o = _merge(_softmax_attend(_heads(q, heads), _heads(k, heads), _heads(v, heads), keep))
    return o[:, :L] @ wx[3].T, o[:, L:] @ wc[3].T

