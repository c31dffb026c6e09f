"""spec.bind for clauses with operands that broadcast against another argument (γ, β against h: (B, 1, D) against
(B, N, D)). A domain cannot declare that yet — a "..." binds the same trailing shape across symbols — so these
operands are left out of spec.bind's plan and checked here: real arrays (floating-point tensors on the torch side),
broadcastable with the argument they modulate; every other argument is checked by spec.bind as usual.

    @implements_broadcasting("dit.adaln", against="h", operands=("gamma", "beta"))
    def adaln(h, gamma, beta, eps=1e-6, modulation="gamma_beta"): ...
"""
from __future__ import annotations

import functools
import inspect

from . import validate as V
from .errors import SpecInputError


def implements_broadcasting(clause_id: str, *, against: str, operands: tuple[str, ...]):
    def bind(fn):
        from .bind import implements
        sig = inspect.signature(fn)
        kept = [p for p in sig.parameters.values() if p.name not in operands]
        kept.append(inspect.Parameter("operands", inspect.Parameter.VAR_KEYWORD))

        names = [p.name for p in kept]

        def core(*args, **kw):
            kw.update(zip(names, args, strict=False))
            torch_side = checked.backend == "torch"
            for name in operands:
                if torch_side and not V._is_torch(kw[name]):
                    raise SpecInputError(clause_id, name, "a floating-point torch.Tensor", type(kw[name]).__name__)
                kw[name] = V.array(clause_id, name, kw[name])
            V.broadcastable(clause_id, (against, *operands), *(kw[n] for n in (against, *operands)))
            return fn(**kw)

        core.__signature__ = sig.replace(parameters=kept)      # type: ignore[attr-defined]
        core.__module__, core.__name__ = fn.__module__, fn.__name__
        bound = implements(clause_id)(core)

        @functools.wraps(fn)
        def checked(*args, **kwargs):
            try:
                b = sig.bind(*args, **kwargs)
            except TypeError as e:
                raise TypeError(f"{clause_id}: {fn.__name__}{sig}: {e}") from None
            return bound(**b.arguments)

        checked.clause, checked.raw, checked.backend = clause_id, fn, bound.backend  # type: ignore[attr-defined]
        return checked
    return bind
