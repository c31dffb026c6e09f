"""torchcfm 1.0.7 bound to the spec: ``ConditionalFlowMatcher(sigma=0)``, the independent-coupling straight path, and
``VariancePreservingConditionalFlowMatcher(sigma=0)``, the trigonometric vp path.

torchcfm puts noise at t = 0 (x0 noise, x1 data, x_t = t x1 + (1 − t) x0, u_t = x1 − x0): the rf clauses are
bound in their ``time: noise_at_0`` variant, the family clauses with ``time={"family.*": "noise_at_0"}`` (the
harness maps t and the velocity's sign). Its paths are rf and vp-trig, its only target the velocity. Its matchers
return (t, x_t, u_t) and take one t per sample (``layouts``: ``"B"``).
"""
from __future__ import annotations

from genspec.conformance import Target, const

from . import require


def target() -> Target:
    tc = require("torchcfm")   # sigma = 0: x_t exactly on the path; the VP matcher's is the trig path cos, sin(πt/2)
    cfm = {"none": tc.ConditionalFlowMatcher(sigma=0.0), "trig": tc.VariancePreservingConditionalFlowMatcher(sigma=0.0)}
    flow = {k: m.sample_location_and_conditional_flow for k, m in cfm.items()}     # (x0, x1, t) -> (t, x_t, u_t)
    return Target(
        name="torchcfm", backend="torch",
        bindings={"rf.interpolation": flow["none"], "rf.velocity": cfm["none"].compute_conditional_flow,
                  "fm.convention": flow["none"],
                  "family.interpolate": lambda x, z, t, path, schedule: flow[schedule](z, x, t)[1],
                  "family.target": lambda x, z, t, path, target, schedule: flow[schedule](z, x, t)[2]},
        arguments={"rf.interpolation": {"x": "x1", "z": "x0", "return": 1}, "fm.convention": {"return": (1, 2)},
                   "rf.velocity": {"x": "x1", "z": "x0", "t": const(None), "xt": const(None)}},
        conventions={"rf.interpolation": {"time": "noise_at_0"}, "rf.velocity": {"time": "noise_at_0"}},
        time={"family.*": "noise_at_0"}, layouts={"*": {"t": "B"}},
        supports={"family.*": {"path": ("rf", "vp"), "schedule": ("none", "trig"), "target": ("velocity",)}},
    )
