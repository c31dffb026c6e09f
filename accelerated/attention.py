"""Scaled dot-product, multi-head (self/cross) and MM-DiT joint attention in PyTorch (spec/attention.py): the
functions, names and arguments of reference/attention.py, every convention variant.

Uses torch.nn.functional.scaled_dot_product_attention (flash / memory-efficient kernels on CUDA). Half precisions run
in their own dtype there (the kernels accumulate in float32); the declared bfloat16 tolerances cover that.
A query row whose mask admits no key outputs 0 (the spec's convention; PyTorch's safe softmax does the same).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from genspec.spec import validate as V
from genspec.spec.bind import implements
from genspec.spec.errors import SpecInputError

from ._tensors import tensor


def _check_mask(clause: str, name: str, mask, shape) -> None:
    """A bool tensor broadcastable to `shape`."""
    if not isinstance(mask, torch.Tensor) or mask.dtype != torch.bool:
        got = f"dtype {mask.dtype}" if isinstance(mask, torch.Tensor) else type(mask).__name__
        raise SpecInputError(clause, name, "a bool torch.Tensor", got)
    try:
        torch.broadcast_shapes(tuple(mask.shape), tuple(shape))
    except RuntimeError:
        raise SpecInputError(clause, name, f"broadcastable to {tuple(shape)}", f"shape {tuple(mask.shape)}") from None


def _check_matrix(clause, name, w, n_in, dtype, layout="out_in") -> int:
    """A projection as an (out, n_in) matrix of the tokens' dtype ('in_out': its transpose); returns out."""
    w = tensor(clause, name, w, ndim=2)
    w = w if layout == "out_in" else w.T
    if w.shape[1] != n_in or w.dtype != dtype:
        raise SpecInputError(clause, name, f"a projection from width {n_in} of dtype {dtype} ({layout} layout)",
                             f"{tuple(w.shape)} {w.dtype}")
    return w.shape[0]


def _check_vector(clause, name, b, n_out, dtype) -> None:
    if b is None:
        return
    b = tensor(clause, name, b, ndim=1)
    if b.shape[0] != n_out or b.dtype != dtype:
        raise SpecInputError(clause, name, f"a ({n_out},) vector of dtype {dtype}", f"{tuple(b.shape)} {b.dtype}")


def _one_dtype(clause, names, *xs):
    if any(x.dtype != xs[0].dtype for x in xs):
        raise SpecInputError(clause, "/".join(names), "one dtype", ", ".join(str(x.dtype) for x in xs))


def _sdpa(q, k, v, mask):
    out = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
    if mask is not None:        # rows with no admissible key are 0 on every backend
        out = out.masked_fill(~mask.any(dim=-1, keepdim=True), 0.0)
    return out


def _check_sdpa(a: dict) -> None:
    q, k, v, mask = a["q"], a["k"], a["v"], a["mask"]
    if q.shape[-1] == 0:
        raise SpecInputError("attention.sdpa", "q", "a positive feature width d", f"shape {tuple(q.shape)}")
    _one_dtype("attention.sdpa", ("q", "k", "v"), q, k, v)
    if mask is not None:
        _check_mask("attention.sdpa", "mask", mask, (*q.shape[:-1], k.shape[-2]))


@implements("attention.sdpa", unchecked=("mask",), check=_check_sdpa)
def sdpa(q, k, v, mask=None, mask_polarity="true_attends"):
    """softmax(q kᵀ/√d + log mask) v.

    Args:
        q: (..., Lq, d) queries; k: (..., Lk, d) keys; v: (..., Lk, dv) values.
        mask: optional bool, True = may attend ('true_masks': True = hidden), broadcastable to (..., Lq, Lk); a
            key-padding mask is (..., 1, Lk).
    Returns (..., Lq, dv).
    """
    if mask is not None and mask_polarity == "true_masks":
        mask = ~mask
    return _sdpa(q, k, v, mask)


def _split(x, heads):          # (B, L, H·d) → (B, H, L, d)
    B, L, D = x.shape
    return x.reshape(B, L, heads, D // heads).transpose(1, 2)


def _merge(x):                 # (B, H, L, d) → (B, L, H·d)
    B, H, L, d = x.shape
    return x.transpose(1, 2).reshape(B, L, H * d)


def check_projections(c: str, x, context, w_q, w_k, w_v, w_o, heads, b_q=None, b_k=None, b_v=None, b_o=None,
                      mask=None, weights="out_in") -> None:
    """The arguments of `attention` the declaration cannot state (shared with video.factorized_attention)."""
    dt = x.dtype
    _one_dtype(c, ("x", "context"), x, context)
    e_q = _check_matrix(c, "w_q", w_q, x.shape[-1], dt, weights)
    e_k = _check_matrix(c, "w_k", w_k, context.shape[-1], dt, weights)
    e_v = _check_matrix(c, "w_v", w_v, context.shape[-1], dt, weights)
    e_o = _check_matrix(c, "w_o", w_o, e_v, dt, weights)
    if e_q != e_k:
        raise SpecInputError(c, "w_k", f"a projection to the width of w_q, {e_q}", f"{tuple(w_k.shape)}")
    V.heads(c, heads, e_q, e_v)
    for n, b, e in (("b_q", b_q, e_q), ("b_k", b_k, e_k), ("b_v", b_v, e_v), ("b_o", b_o, e_o)):
        _check_vector(c, n, b, e, dt)
    if mask is not None:
        _check_mask(c, "mask", mask, (x.shape[0], x.shape[1], context.shape[1]))


def _check_cross(a: dict) -> None:
    check_projections("attention.cross", **{k: v for k, v in a.items() if k != "mask_polarity"})


@implements("attention.cross", unchecked=("w_q", "w_k", "w_v", "w_o", "mask"), check=_check_cross)
def attention(x, context, w_q, w_k, w_v, w_o, heads, b_q=None, b_k=None, b_v=None, b_o=None, mask=None,
              weights="out_in", mask_polarity="true_attends"):
    """Multi-head attention: concat_h sdpa(x W_qʰᵀ + b_q, c W_kʰᵀ + b_k, c W_vʰᵀ + b_v) W_oᵀ + b_o.

    Args:
        x: (B, L, D) query tokens; context: (B, M, Dc) key/value tokens (self-attention: context = x;
            cross-attention: context = text tokens).
        w_q, w_k: (E, D), (E, Dc); w_v: (Ev, Dc); w_o: (D_out, Ev) — nn.Linear.weight layout (out, in); 'in_out':
            their transposes.
        heads: number of heads; E and Ev are split into heads equal slices (head h uses rows h·E/heads…).
        b_*: optional biases (out,); mask: optional bool broadcastable to (B, L, M), True = may attend
            (key padding: (B, 1, M)).
    Returns (B, L, D_out).
    """
    if weights == "in_out":
        w_q, w_k, w_v, w_o = w_q.T, w_k.T, w_v.T, w_o.T
    if mask is not None:
        mask = ~mask if mask_polarity == "true_masks" else mask
        mask = mask.reshape((1,) * (3 - mask.ndim) + tuple(mask.shape)).unsqueeze(-3)   # (B|1, 1, L|1, M)
    q, k, v = (_split(F.linear(a, w, b), heads) for a, w, b in ((x, w_q, b_q), (context, w_k, b_k),
                                                                  (context, w_v, b_v)))
    return F.linear(_merge(_sdpa(q, k, v, mask)), w_o, b_o)


def _check_stream(cl, name, w, width, dtype):
    """(w_q, w_k, w_v, w_o) of one modality: projections of `width` to one E, and back from E; returns E."""
    V.weight_tuple(cl, name, w, optional=False)
    e = [_check_matrix(cl, f"{name}[{i}]", m, width, dtype) for i, m in enumerate(w[:3])]
    if e[1] != e[0] or e[2] != e[0]:
        raise SpecInputError(cl, name, f"q, k, v projections of one width {e[0]}",
                             f"{tuple(w[1].shape)}, {tuple(w[2].shape)}")
    _check_matrix(cl, f"{name}[3]", w[3], e[0], dtype)
    return e[0]


def _check_joint(a: dict) -> None:
    cl, x, c = "attention.joint", a["x"], a["c"]
    _one_dtype(cl, ("x", "c"), x, c)
    e_x, e_c = _check_stream(cl, "w_x", a["w_x"], x.shape[-1], x.dtype), _check_stream(cl, "w_c", a["w_c"],
                                                                                       c.shape[-1], x.dtype)
    if e_x != e_c:
        raise SpecInputError(cl, "w_c", f"projections to the width of w_x, {e_x}", f"{e_c}")
    V.heads(cl, a["heads"], e_x)
    mask_c, B, M = a["mask_c"], x.shape[0], c.shape[1]
    if mask_c is not None:
        _check_mask(cl, "mask_c", mask_c, (B, M))
        if tuple(mask_c.shape) != (B, M):
            raise SpecInputError(cl, "mask_c", f"shape ({B}, {M})", f"shape {tuple(mask_c.shape)}")


@implements("attention.joint", unchecked=("w_x", "w_c", "mask_c"), check=_check_joint)
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
    B, L = x.shape[0], x.shape[1]
    mask = None
    if mask_c is not None:
        keep_x = torch.ones(B, L, dtype=torch.bool, device=mask_c.device)
        mask = torch.cat([keep_x, mask_c], dim=1)[:, None, None, :]          # (B, 1, 1, L + M)
    q, k, v = (_split(torch.cat([F.linear(x, w_x[i]), F.linear(c, w_c[i])], dim=1), heads) for i in range(3))
    o = _merge(_sdpa(q, k, v, mask))
    return F.linear(o[:, :L], w_x[3]), F.linear(o[:, L:], w_c[3])
