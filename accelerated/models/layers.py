"""Layers shared by the image model stack (text encoder, DiT, U-Net): multi-head attention and the MLP.

Attention holds nn.Linear projections (weights (out, in), as the clause function expects) and calls the clause
function `accelerated.attention.attention` (its unchecked body `attention.raw`: the weights are the layer's own),
so the equation softmax(q kᵀ/√d + mask) v lives in one place; on CUDA that function runs torch's SDPA kernels
(flash / memory-efficient).
"""
from __future__ import annotations

import torch
import torch.nn as nn

from genspec.accelerated.attention import attention


class Attention(nn.Module):
    """Multi-head attention: self-attention (context = x) or cross-attention (context = text tokens, width
    context_dim). Projected widths: inner for q and k, inner_v for v, out for the output (all default to dim).
    mask: bool (B, 1, M), True = may attend (a key-padding mask)."""

    def __init__(self, dim: int, heads: int, context_dim: int | None = None, bias: bool = True,
                 inner: int | None = None, inner_v: int | None = None, out: int | None = None):
        super().__init__()
        cd, e = context_dim or dim, inner or dim
        ev = inner_v or e
        if e % heads or ev % heads:
            raise ValueError(f"Attention: projected widths {e}, {ev} are not divisible by heads {heads}")
        self.heads = heads
        self.q = nn.Linear(dim, e, bias=bias)
        self.k = nn.Linear(cd, e, bias=bias)
        self.v = nn.Linear(cd, ev, bias=bias)
        self.o = nn.Linear(ev, out or dim, bias=bias)

    def forward(self, x: torch.Tensor, context: torch.Tensor | None = None,
                mask: torch.Tensor | None = None) -> torch.Tensor:
        c = x if context is None else context
        return attention.raw(x, c, self.q.weight, self.k.weight, self.v.weight, self.o.weight, self.heads,
                         self.q.bias, self.k.bias, self.v.bias, self.o.bias, mask=mask)


class Mlp(nn.Module):
    """Linear → GELU (tanh approximation, as DiT) → Linear, hidden width ratio · dim."""

    def __init__(self, dim: int, ratio: float = 4.0, out: int | None = None):
        super().__init__()
        hidden = int(dim * ratio)
        self.fc1 = nn.Linear(dim, hidden)
        self.act = nn.GELU(approximate="tanh")
        self.fc2 = nn.Linear(hidden, out or dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(self.act(self.fc1(x)))
