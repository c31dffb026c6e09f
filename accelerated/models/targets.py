"""The model modules as a conformance target: clause functions computed BY the modules, so that
`genspec conform --target accelerated.models.targets:target` (or conformance.harness.api.check)
checks the modules' wiring
(projections, head split, masks) against the reference, and a third party's attention module can be bound the same
way with `attention_binding(TheirModule, load)`.

    attention.cross  ←  accelerated.models.layers.Attention loaded with the given weights
"""
from __future__ import annotations

from collections.abc import Callable

import torch

from genspec.accelerated.models.layers import Attention
from genspec.conformance.harness.target import Target


def _load_attention(m: Attention, w_q, w_k, w_v, w_o, b_q, b_k, b_v, b_o) -> None:
    with torch.no_grad():
        for lin, w, b in ((m.q, w_q, b_q), (m.k, w_k, b_k), (m.v, w_v, b_v), (m.o, w_o, b_o)):
            lin.weight.copy_(w)
            lin.bias.copy_(torch.zeros_like(lin.bias) if b is None else b)   # no bias ≡ a zero bias


def attention_binding(build: Callable = Attention, load: Callable = _load_attention) -> Callable:
    """A binding of attention.cross that builds a module for the weights' shapes, loads them and calls it.

    build(dim, heads, context_dim, bias, inner, inner_v, out) → module with module(x, context, mask);
    load(module, w_q, w_k, w_v, w_o, b_q, b_k, b_v, b_o) copies the weights in.
    """
    def cross(x, context, w_q, w_k, w_v, w_o, heads, b_q=None, b_k=None, b_v=None, b_o=None, mask=None):
        m = build(x.shape[-1], heads, context_dim=context.shape[-1], bias=True, inner=w_q.shape[0],
                  inner_v=w_v.shape[0], out=w_o.shape[0]).to(device=x.device, dtype=x.dtype)
        load(m, w_q, w_k, w_v, w_o, b_q, b_k, b_v, b_o)
        with torch.no_grad():
            return m(x, context, mask=mask)
    return cross


target = Target(name="genspec.accelerated.models", backend="torch", bindings={"attention.cross": attention_binding()})
