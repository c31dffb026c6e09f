"""torchcfm 1.0.7 bound to the spec: ``ConditionalFlowMatcher(sigma=0)``, the independent-coupling straight path, and
``VariancePreservingConditionalFlowMatcher(sigma=0)``, the trigonometric vp path.

torchcfm puts noise at t = 0 (x0 noise, x1 data, x_t = t x1 + (1 − t) x0, u_t = x1 − x0): the rf clauses are
bound in their ``time: noise_at_0`` variant, the family clauses with ``time={"family.*": "noise_at_0"}`` (the
harness maps t and the velocity's sign). Its paths are rf and vp-trig, its only target the velocity.
"""
from __future__ import annotations

from conformance import Target

from . import require, times


def target() -> Target:
    tc = require("torchcfm")   # sigma = 0: x_t exactly on the path; the VP matcher's is the trig path cos, sin(πt/2)
    cfm = {"none": tc.ConditionalFlowMatcher(sigma=0.0), "trig": tc.VariancePreservingConditionalFlowMatcher(sigma=0.0)}

    def sample(x, z, t, schedule="none"):  # (t, x_t, u_t): x0 = z is the noise, x1 = x the data
        return cfm[schedule].sample_location_and_conditional_flow(x0=z, x1=x, t=times(t, x))

    return Target(
        name="torchcfm", backend="torch",
        bindings={
            "rf.interpolation": lambda x, z, t: sample(x, z, t)[1],
            "rf.velocity": lambda x, z: cfm["none"].compute_conditional_flow(x0=z, x1=x, t=None, xt=None),
            "fm.convention": lambda x0, x1, t: sample(x1, x0, t)[1:],
            "family.interpolate": lambda x, z, t, path, schedule: sample(x, z, t, schedule)[1],
            "family.target": lambda x, z, t, path, target, schedule: sample(x, z, t, schedule)[2],
        },
        conventions={"rf.interpolation": {"time": "noise_at_0"}, "rf.velocity": {"time": "noise_at_0"}},
        time={"family.*": "noise_at_0"},
        supports={"family.*": {"path": ("rf", "vp"), "schedule": ("none", "trig"), "target": ("velocity",)}},
    )
