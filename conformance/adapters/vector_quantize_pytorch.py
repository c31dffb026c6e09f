"""vector-quantize-pytorch 1.32.0 (lucidrains) bound to the spec: the ``VectorQuantize`` module (nearest-code lookup
and its commitment loss) and its ``straight_through`` estimator.

Conventions, declared: the codebook computes in float32 whatever the input's dtype (``EuclideanCodebook.forward``:
``x = x.float()``), so ``vq.quantize`` declares ``precision="float32"``. Its default codebook update is EMA
(``ema_update=True``): ``vq.loss`` in its ``codebook: ema`` variant, the commitment term alone, weighted by
``commitment_weight`` = β. That term is ``F.mse_loss(quantize, x)``, the mean over all n·D elements, where the clause
averages squared norms over the batch (÷ n): the two agree at D = 1, the declared support (the mean over elements is
a variant the spec does not name yet). The clause passes the selected entries e_i, so the binding hands the module
one candidate per token through its ``codebook_transform_fn`` (the implicit-codebook hook). Its default gradient
estimator for dim > 1 is the rotation trick (Fifty et al. 2024), not the straight-through estimator of
``vq.straight_through``: that clause is bound to the library's ``straight_through`` function (what
``rotation_trick=False`` uses).
"""
from __future__ import annotations

from genspec.conformance import Module, Target, Where

from . import require


def target() -> Target:
    V = require("vector_quantize_pytorch")
    import torch

    def straight_through(z, z_q, g):
        z, z_q = z.clone().requires_grad_(), z_q.clone().requires_grad_()
        out = V.vector_quantize_pytorch.straight_through(z, z_q)
        grads = torch.autograd.grad(out, (z, z_q), g, allow_unused=True)
        return out.detach(), *(torch.zeros_like(g) if d is None else d for d in grads)

    def loss(z, e, beta=0.25):
        z, e = z.clone().requires_grad_(), e.clone().requires_grad_()
        vq = V.VectorQuantize(dim=z.shape[1], codebook_size=1, commitment_weight=beta, rotation_trick=False)
        L = vq.to(z.dtype)(z, codebook_transform_fn=lambda _: e[None, None, :, None, :], freeze_codebook=True)[2]
        grads = torch.autograd.grad(L, (z, e), allow_unused=True)   # β = 0: no commitment term, no graph to z
        return L.detach(), *(torch.zeros_like(z) if d is None else d for d in grads)

    return Target(
        name="vector_quantize_pytorch", backend="torch",
        bindings={
            "vq.quantize": Module(lambda codebook: V.VectorQuantize(*codebook.shape[::-1]).eval(),
                                  weights={"_codebook.embed": "codebook"}, call={"z": 0, "return": 1}),
            "vq.straight_through": straight_through,
            "vq.loss": loss,
        },
        conventions={"vq.loss": {"codebook": "ema"}},
        supports={"vq.loss": {"where": Where("D = 1 (F.mse_loss: the mean over all elements)",
                                             lambda a: a["z"].shape[1] == 1)}},
        precision={"vq.quantize": "float32"},
    )
