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

from genspec.conformance import Target, recorded

from . import require, times

PREDICT = {"velocity": "flow", "epsilon": "noise", "x": "clean"}
FAMILY = {"path": ("rf",), "schedule": ("none",)}


def target() -> Target:
    R = require("rectified_flow_pytorch")

    def flow(f=None, predict="velocity", **kw):   # the module, its network f(x_t, times) and loss recorded
        return R.RectifiedFlow(recorded(f or (lambda x, times: x.new_zeros(x.shape))), predict=PREDICT[predict],
                               loss_fn=recorded(R.rectified_flow.MSELoss()), data_normalize_fn=None,
                               data_unnormalize_fn=None, **kw)

    def step(x, z, t, f=None, predict="velocity"):   # one training step: (the x_t its network sees, target, loss)
        rf = flow(None if f is None else (lambda x_t, times: f), predict)
        loss = rf(x, noise=z, times=times(t, x))
        return rf.model.args[0], rf.loss_fn.args[1], loss

    def convert(x_t, y, t, from_target, to_target, path, schedule):
        rf = flow(lambda x, times: y, from_target)
        return rf.predict_flow(rf.model, x_t, times=times(t, x_t))[1]

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
            "sampler.euler": lambda f, x1, T: flow(lambda x, times: f(x, times), odeint_kwargs=dict(method="euler"))
            .sample(noise=x1, steps=T + 1, data_shape=tuple(x1.shape[1:])),
        },
        conventions={("rf.interpolation", "rf.velocity", "sampler.euler"): {"time": "noise_at_0"},
                     ("rf.loss", "family.loss"): {"reduction": "mse_all_elements"}},
        time={"family.*": "noise_at_0"},
        supports={"family.*": FAMILY | {"target": ("velocity", "epsilon")}, "family.convert": FAMILY | {
            "from_target": ("velocity", "epsilon", "x"), "to_target": ("velocity",)}},
        precision={"sampler.euler": "float32"},   # sample's time grid: torch.linspace(0., 1., steps), float32
    )
