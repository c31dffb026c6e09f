"""vector-quantize-pytorch 1.32.0 (lucidrains) bound to the spec: the ``VectorQuantize`` module (nearest-code lookup
and its commitment loss) and its ``straight_through`` estimator.

Conventions, declared: the codebook computes in float32 whatever the input's dtype (``EuclideanCodebook.forward``:
``x = x.float()``), so ``vq.quantize`` declares ``precision="float32"``. ``vq.loss`` is bound in both of the
library's codebook modes, each a variant the spec names: the default EMA update (``ema_update=True``, the commitment
term alone: ``codebook: ema``) and the learnable codebook (``learnable_codebook=True, ema_update=False``: one term
``F.mse_loss(quantize, x)`` through which both are trained, ``codebook: symmetric``), weighted by
``commitment_weight`` = β. Both average over all n·D elements (``F.mse_loss``): ``reduction: mse_all_elements``.
The clause passes the selected entries e_i, so the binding hands the module one candidate per token through its
``codebook_transform_fn`` (the implicit-codebook hook). ``vq.straight_through`` is bound in both of the library's
estimators: ``straight_through`` (what ``rotation_trick=False`` uses) and ``rotate_to``, the rotation trick of Fifty
et al. 2024 (its default for dim > 1: ``estimator: rotation``).
"""
from __future__ import annotations

from genspec.conformance import Module, Target, with_gradients

from . import require


def target() -> Target:
    V = require("vector_quantize_pytorch")

    def straight_through(z, z_q, estimator="straight_through"):
        return getattr(V.vector_quantize_pytorch, "rotate_to" if estimator == "rotation" else estimator)(z, z_q)

    def loss(z, e, beta=0.25, codebook="ema"):          # β = 0: the module's zero buffer, no graph to z or e
        learn = codebook == "symmetric"
        vq = V.VectorQuantize(dim=z.shape[1], codebook_size=1, commitment_weight=beta, rotation_trick=False,
                              learnable_codebook=learn, ema_update=not learn)
        return vq.to(z.dtype)(z, codebook_transform_fn=lambda _: e[None, None, :, None], freeze_codebook=not learn)[2]

    return Target(
        name="vector_quantize_pytorch", backend="torch",
        bindings={
            "vq.quantize": Module(lambda codebook: V.VectorQuantize(*codebook.shape[::-1]).eval(),
                                  weights={"_codebook.embed": "codebook"}, call={"z": 0, "return": 1}),
            "vq.straight_through": with_gradients(straight_through, wrt=("z", "z_q"), upstream="g"),
            "vq.loss": with_gradients(loss, wrt=("z", "e")),
        },
        conventions={"vq.loss": {"reduction": "mse_all_elements"}},
        variants={"vq.loss": {"codebook": ("ema", "symmetric")},
                  "vq.straight_through": {"estimator": ("straight_through", "rotation")}},
        precision={"vq.quantize": "float32"},
    )
