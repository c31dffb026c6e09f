"""flow_matching 1.0.10 (Meta) bound to the spec: ``AffineProbPath`` with ``CondOTScheduler`` (the rf path, also
bound to the rf clauses and fm.convention) and ``VPScheduler`` (the vp path: linear β, β_min = 0.1, β_max = 20),
its target conversions, and ``ODESolver``.

flow_matching puts noise at t = 0 (x_0 noise, x_1 data, X_t = α_t X_1 + σ_t X_0): the family clauses are bound with
``time={"family.*": "noise_at_0"}`` (the harness maps t and the velocity's sign), ``sampler.euler`` and the rf
clauses in their ``time: noise_at_0`` variant. Its targets are the velocity, the noise ε (x_0) and the data x (x_1);
its ``CosineScheduler`` (α = sin(πt/2)) is the vp ``trig`` schedule, not the cosine one with Nichol & Dhariwal's
0.008 offset, and it has no VE path: ``supports`` declares that subset. ``sample`` takes one t per sample, the
conversions t broadcast to x_t (``layouts``).
"""
from __future__ import annotations

from genspec.conformance import Target

from . import require

SUPPORT = {"path": ("rf", "vp"), "schedule": ("none", "linear", "trig"), "target": ("velocity", "epsilon", "x")}
SCHEDULERS = {("rf", "none"): "CondOTScheduler", ("vp", "linear"): "VPScheduler", ("vp", "trig"): "CosineScheduler"}
DEFAULT = {"rf": "none", "vp": "linear"}   # the spec's schedule when none is given
CONVERT = {"velocity": "velocity", "epsilon": "epsilon", "x": "target"}   # the spec's target -> flow_matching's name
FIELD = {"velocity": "dx_t", "epsilon": "x_0", "x": "x_1"}                 # ... -> its PathSample field


def target() -> Target:
    fm = require("flow_matching.path")        # CosineScheduler: α = sin(πt/2), trig in t' = 1 − t
    import torch
    from flow_matching.solver import ODESolver
    paths = {k: fm.AffineProbPath(getattr(fm.scheduler, v)()) for k, v in SCHEDULERS.items()}
    P = lambda path, schedule=None: paths[path, schedule or DEFAULT[path]]
    sample = lambda x, z, t, path="rf", schedule=None: P(path, schedule).sample(x_0=z, x_1=x, t=t)

    def coefficients(t, path, target, schedule):
        s = P(path, schedule).scheduler(t)
        c, d = {"velocity": (s.d_alpha_t, s.d_sigma_t), "x": (1.0, 0.0), "epsilon": (0.0, 1.0)}[target]
        return s.alpha_t, s.sigma_t, c + 0 * t, d + 0 * t               # x_t = α_t x_1 + σ_t x_0; x_1 = x, x_0 = z

    def convert(x_t, y, t, from_target, to_target, path, schedule):
        return y if from_target == to_target else getattr(
            P(path, schedule), f"{CONVERT[from_target]}_to_{CONVERT[to_target]}")(y, x_t, t)

    def euler(f, x1, T):               # s_k = k/T: the spec's grid, not step_size; ODESolver passes one scalar time
        return ODESolver(velocity_model=lambda x, t: f(x, t.expand(len(x)))).sample(
            x_init=x1, step_size=None, method="euler", time_grid=torch.linspace(0.0, 1.0, T + 1, dtype=x1.dtype))

    return Target(
        name="flow_matching", backend="torch",
        bindings={
            "family.affine": coefficients,
            "family.vp_schedule": lambda t, schedule: P("vp", schedule).scheduler(t).alpha_t ** 2,
            "family.interpolate": lambda x, z, t, path, schedule: sample(x, z, t, path, schedule).x_t,
            "family.target": lambda x, z, t, path, target, schedule: getattr(sample(x, z, t, path, schedule),
                                                                             FIELD[target]),
            "family.recover": lambda x_t, y, t, path, target, schedule: tuple(
                convert(x_t, y, t, target, to, path, schedule) for to in ("x", "epsilon")),
            "family.convert": convert, "sampler.euler": euler,
            "rf.interpolation": lambda x, z, t: sample(x, z, t).x_t,
            "rf.velocity": lambda x, z: sample(x, z, torch.zeros(len(x), dtype=x.dtype)).dx_t,   # x_1 − x_0 at any t
            "fm.convention": lambda x0, x1, t: (lambda s: (s.x_t, s.dx_t))(sample(x1, x0, t)),
        },
        conventions={("sampler.euler", "rf.interpolation", "rf.velocity"): {"time": "noise_at_0"}},
        time={"family.*": "noise_at_0"},
        layouts={("family.interpolate", "family.target", "rf.interpolation", "fm.convention"): {"t": "B"},
                 ("family.recover", "family.convert"): {"t": "B ..."}},
        supports={"family.*": {**SUPPORT, "from_target": SUPPORT["target"], "to_target": SUPPORT["target"]},
                  "family.vp_schedule": {"schedule": ("linear", "trig")}},
    )
