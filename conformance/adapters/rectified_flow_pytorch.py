"""rectified-flow-pytorch 0.14.0 (lucidrains) bound to the spec: the ``RectifiedFlow`` module itself, with a network
that returns the clause's prediction and records what the module hands it.

One training step, ``RectifiedFlow.forward(data, noise, times)``, shows the interpolation (the x_t its network sees),
the regression target (what its loss function receives) and the loss; ``predict_flow`` is its conversion of a noise or
clean prediction to the flow; ``sample`` is its ODE sampler (torchdiffeq's ``odeint``, here with ``method="euler"``).

Conventions, declared: noise at t = 0 (``noise.lerp(data, t)``: x_t = (1 − t) z + t x, flow = x − z): the rf clauses
and ``sampler.euler`` in their ``time: noise_at_0`` variant, the family clauses with ``time={"family.*":
"noise_at_0"}``. Its losses are ``F.mse_loss`` (the mean over all elements: ``reduction: mse_all_elements``).
``rf.loss`` has no clock: its f is the spec's v-prediction (z − x), the library regresses on x − z, so the network
returns −f. The data normalisation (x ↦ 2x − 1 by default) is switched off (``data_normalize_fn=None``): it is not
part of the clauses. Paths: rf only (its ``cosmap`` time warp has no clause); targets: the flow, the noise
(``predict="noise"``), the clean data (``predict="clean"``: converted to the flow, its loss is on the flow).
"""
from __future__ import annotations

from genspec.conformance import Target

from . import require, times


def target() -> Target:
    R = require("rectified_flow_pytorch")
    import torch
    from rectified_flow_pytorch.rectified_flow import MSELoss

    class Net(torch.nn.Module):     # the network: f(x_t, times); records the x_t it is given
        def __init__(self, f):
            super().__init__()
            self.f, self.w = f, torch.nn.Parameter(torch.zeros(()))   # a parameter: RectifiedFlow.device reads one

        def forward(self, noised, times):
            self.seen = noised
            return self.f(noised, times)

    class Loss(MSELoss):   # the library's loss; records the target it regresses on
        def forward(self, pred, target, **kw):
            self.target = target
            return super().forward(pred, target)

    PREDICT = {"velocity": "flow", "epsilon": "noise", "x": "clean"}

    def flow(f=None, predict="velocity", **kw):
        f = f if f is not None else (lambda x, t: torch.zeros_like(x))
        return R.RectifiedFlow(Net(f), predict=PREDICT[predict], loss_fn=Loss(), data_normalize_fn=None,
                               data_unnormalize_fn=None, **kw)

    def step(x, z, t, f=None, predict="velocity"):   # one training step: (x_t, target, loss)
        rf = flow(None if f is None else (lambda x_t, _: f), predict)
        loss = rf(x, noise=z, times=times(t, x))
        return rf.model.seen, rf.loss_fn.target, loss

    def convert(x_t, y, t, from_target, to_target, path, schedule):
        rf = flow(lambda x, _: y, from_target)
        return rf.predict_flow(rf.model, x_t, times=times(t, x_t))[1]

    def euler(f, x1, T):
        rf = flow(lambda x, s: f(x, s), odeint_kwargs=dict(method="euler"))
        return rf.sample(noise=x1, steps=T + 1, data_shape=tuple(x1.shape[1:]))

    fam = {"path": ("rf",), "schedule": ("none",)}
    return Target(
        name="rectified_flow_pytorch", backend="torch",
        bindings={
            "rf.interpolation": lambda x, z, t: step(x, z, t)[0],
            "rf.velocity": lambda x, z: step(x, z, 0.5)[1],
            "rf.loss": lambda f, x, z: step(x, z, 0.5, -f)[2],
            "fm.convention": lambda x0, x1, t: step(x1, x0, t)[:2],
            "family.interpolate": lambda x, z, t, path, schedule: step(x, z, t)[0],
            "family.target": lambda x, z, t, path, target, schedule: step(x, z, t, predict=target)[1],
            "family.loss": lambda f, x, z, t, path, target, schedule: step(x, z, t, f, target)[2],
            "family.convert": convert,
            "sampler.euler": euler,
        },
        conventions={"rf.interpolation": {"time": "noise_at_0"}, "rf.velocity": {"time": "noise_at_0"},
                     "sampler.euler": {"time": "noise_at_0"}, "rf.loss": {"reduction": "mse_all_elements"},
                     "family.loss": {"reduction": "mse_all_elements"}},
        time={"family.*": "noise_at_0"},
        supports={"family.*": fam | {"target": ("velocity", "epsilon")},
                  "family.convert": fam | {"from_target": ("velocity", "epsilon", "x"), "to_target": ("velocity",)}},
        precision={"sampler.euler": "float32"},   # sample's time grid: torch.linspace(0., 1., steps), float32
    )
