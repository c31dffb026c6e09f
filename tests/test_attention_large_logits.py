"""attention.sdpa's large-logit property (|s| ~ 10⁴) in float32: compared within the declared tolerance plus the
rounding bound of such logits (spec/attention.py), which a correct float32 softmax meets at a near-tie and a hard
(argmax) attention or an unshifted exp(s) does not."""
import numpy as np
import pytest
import torch

import genspec.accelerated.attention as A
import genspec.conformance.checks.attention as C
from genspec.conformance import Target
from genspec.conformance.harness.context import Context

# q·k_0 and q·k_1 ≈ 10⁵ within 1 of each other (found by search: float32 rounding of the logits moves the output by
# 3.7e-3, 100× the old tolerance's atol, within the declared bound of 3.5e-2); the property scales q, k by 100
NEAR_TIE = {"q": np.array([[[-195.06640625, -238.4418487548828]]]) / 100,
            "k": np.array([[[-279.3076477050781, -187.33633422851562],
                            [-279.6515197753906, -187.05311584472656]]]) / 100,
            "v": np.array([[[1.0], [-1.0]]])}


def _run(fn):
    ctx = Context(target=Target(name="t", backend="torch", bindings={"attention.sdpa": fn}), dtype="float32")
    with ctx.checking("attention.sdpa", "property:large logits"):
        C._large_logits(ctx, ctx.wrap("attention.sdpa", fn), NEAR_TIE)


def test_a_float32_softmax_at_a_large_logit_near_tie_passes():
    _run(A.sdpa)


def _hard(q, k, v, mask=None):
    s = q @ k.transpose(-1, -2)
    return torch.nn.functional.one_hot(s.argmax(-1), k.shape[-2]).to(v.dtype) @ v


def _unshifted(q, k, v, mask=None):
    e = torch.exp(q @ k.transpose(-1, -2) / q.shape[-1] ** 0.5)
    return e / e.sum(-1, keepdim=True) @ v


@pytest.mark.parametrize("slip, message", [(_hard, "vs the reference"), (_unshifted, "non-finite")])
def test_a_slip_at_large_logits_fails(slip, message):
    with pytest.raises(AssertionError, match=message):
        _run(slip)
