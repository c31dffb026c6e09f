"""Context.round on a reversed clock (conformance/harness/context.py): the largest number below 1 of each dtype."""
import numpy as np
import pytest
import torch

from genspec.conformance import Target
from genspec.conformance.harness.context import Context


@pytest.mark.parametrize("dtype, eps", [("float32", 2.0**-24), ("bfloat16", 2.0**-8)])
def test_a_tiny_t_on_the_reversed_clock_becomes_the_largest_number_below_one(dtype, eps):
    """Context.round on a noise_at_0 target: a t > 0 whose 1 − t rounds to 1 becomes 1 − (the dtype's largest
    number below 1), which the dtype holds exactly (bfloat16: 1 − 2^-8, its 8-bit significand; 1 − 2^-9 is not
    representable and rounds back to 1, the singular t' = 1)."""
    ctx = Context(target=Target(name="reversed", bindings={}, time={"family.interpolate": "noise_at_0"}), dtype=dtype)
    ctx.clause = "family.interpolate"
    t = ctx.round({"t": np.array([1e-12, 0.5])})["t"]
    below_one = torch.tensor(1.0 - t, dtype=torch.float64)
    assert float(below_one[0]) == 1.0 - eps < 1.0
    assert torch.equal(below_one.to(getattr(torch, dtype)).double(), below_one)    # t' = 1 − t exact in the dtype
    assert t[1] == 0.5
