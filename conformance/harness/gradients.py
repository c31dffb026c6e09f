"""Binding a clause whose output is a value and its gradients (vq.straight_through, vq.loss) to a differentiable torch
function: the harness asks for (value, ∂/∂ each input), a library computes only the value.

``with_gradients(fn, wrt=("z", "e"))`` returns the binding: ``fn`` is called with the clause's arguments (after any
``arguments=`` map) except ``upstream``, on fresh leaves for ``wrt``, and the binding returns the value detached and
autograd's gradients, of ⟨upstream, value⟩ when ``upstream`` names the clause's upstream-gradient argument, of the
(scalar) value otherwise; an input the value does not depend on gets zeros.
"""
from __future__ import annotations

import inspect
from collections.abc import Callable


def with_gradients(fn: Callable, wrt: tuple[str, ...], upstream: str | None = None) -> Callable:
    """(value, ∂/∂wrt[0], ∂/∂wrt[1], …) of the torch function ``fn`` by autograd (see the module docstring)."""
    params = list(inspect.signature(fn).parameters.values())
    if upstream is not None:      # the upstream gradient joins the signature before the first defaulted argument
        at = next((i for i, p in enumerate(params) if p.default is not p.empty), len(params))
        params.insert(at, inspect.Parameter(upstream, inspect.Parameter.POSITIONAL_OR_KEYWORD))
    sig = inspect.Signature(params)

    def bound(*args, **kwargs):
        import torch
        call = sig.bind(*args, **kwargs)
        a = dict(call.arguments)
        g = a.pop(upstream) if upstream is not None else None
        leaves = {k: a[k].detach().clone().requires_grad_() for k in wrt}
        with torch.enable_grad():
            out = fn(**{**a, **leaves})
            grads = (torch.autograd.grad(out, tuple(leaves.values()), g, allow_unused=True) if out.requires_grad
                     else (None,) * len(wrt))
        return out.detach(), *(torch.zeros_like(leaves[k]) if d is None else d for k, d in zip(wrt, grads,
                                                                                                  strict=True))

    bound.__signature__ = sig  # type: ignore[attr-defined]
    bound.__name__ = getattr(fn, "__name__", "with_gradients")
    return bound
