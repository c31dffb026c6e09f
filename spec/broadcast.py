"""spec.bind for clauses with arguments a Domain cannot declare yet: operands that broadcast against another
argument (γ, β of shape (B, 1, D) against h of shape (B, N, D): a "..." binds the same trailing shape across
symbols), boolean masks, matrices whose layout is a convention, tuples of matrices. These arguments are left out of
spec.bind's plan; every other argument is checked and converted by spec.bind as usual, before the body runs.

    @implements_except("dit.adaln", "gamma", "beta", broadcast_against="h")   # real arrays broadcastable with h
    def adaln(h, gamma, beta, eps=1e-6, modulation="gamma_beta"): ...

    @implements_except("attention.sdpa", "mask")                           # the body checks the mask
    def sdpa(q, k, v, mask=None, mask_polarity="true_attends"): ...
"""
from __future__ import annotations

import functools
import inspect

from . import validate as V
from .errors import SpecInputError


def implements_except(clause_id: str, *names: str, broadcast_against: str | None = None):
    """spec.bind.implements(clause_id) for every argument but `names`; with broadcast_against, `names` are checked
    here as real arrays (floating-point tensors on the torch side) broadcastable with that argument."""
    def bind(fn):
        from .bind import implements
        sig = inspect.signature(fn)
        kept = [p for p in sig.parameters.values() if p.name not in names]
        order = [p.name for p in kept]

        def core(*args, **kw):
            kw.update(zip(order, args, strict=False))
            if broadcast_against is not None:
                for name in names:
                    if checked.backend == "torch" and not V._is_torch(kw[name]):
                        raise SpecInputError(clause_id, name, "a floating-point torch.Tensor", type(kw[name]).__name__)
                    kw[name] = V.array(clause_id, name, kw[name])
                V.broadcastable(clause_id, (broadcast_against, *names), *(kw[n] for n in (broadcast_against, *names)))
            return fn(**kw)

        core.__signature__ = sig.replace(parameters=[*kept, inspect.Parameter("others", inspect.Parameter.VAR_KEYWORD)])  # type: ignore[attr-defined]
        core.__module__, core.__name__ = fn.__module__, fn.__name__
        bound = implements(clause_id)(core)

        @functools.wraps(fn)
        def checked(*args, **kwargs):
            try:
                b = sig.bind(*args, **kwargs)
            except TypeError as e:
                raise TypeError(f"{clause_id}: {fn.__name__}{sig}: {e}") from None
            b.apply_defaults()
            return bound(**b.arguments)

        checked.clause, checked.raw, checked.backend = clause_id, fn, bound.backend  # type: ignore[attr-defined]
        return checked
    return bind
