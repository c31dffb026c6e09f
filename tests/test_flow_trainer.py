"""The rectified-flow trainer (accelerated/models/flow.py): a small MLP trained with the RF loss on the bimodal 2-D
mixture approaches the oracle velocity and its Euler samples approach the data.

Cost: 2000 Adam steps of batch 512 on one CPU thread (~9 s measured on a quiet core; no test asserts on wall time).
Thresholds have ≥ 2× margin over the measured values (relative error 0.046, energy distance −0.0006 vs a data-vs-data
baseline spread of ±0.0023).
"""
import numpy as np
import pytest
import torch

from genspec.accelerated.metrics import energy_distance, mmd2
from genspec.accelerated.models.flow import (
    FlowConfig,
    VelocityMLP,
    oracle_relative_error,
    sample_distance,
    sample_mixture,
    train_rectified_flow,
)
from genspec.conformance.fixtures import BIMODAL


@pytest.fixture(scope="module")
def trained():
    n = torch.get_num_threads()
    torch.set_num_threads(1)          # 128-wide matmuls: intra-op threads only add latency on a shared 2-core machine
    model, losses, _ = train_rectified_flow(BIMODAL, FlowConfig())
    yield model, losses
    torch.set_num_threads(n)


def test_trainer_approaches_the_oracle_and_the_data(trained):
    model, losses = trained
    rel = oracle_relative_error(model, BIMODAL)
    ed, base = sample_distance(model, BIMODAL)
    untrained = sample_distance(VelocityMLP(FlowConfig()).eval(), BIMODAL)[0]
    # shown only if the test fails (pytest captures it)
    print(f"RF trainer (bimodal 2-D, {FlowConfig().steps} steps, batch {FlowConfig().batch}): "
          f"final loss {losses[-200:].mean():.3f}; ‖f_θ − f*‖/‖f*‖ = {rel:.4f}; energy distance of 2000 Euler "
          f"samples (T = 50) to data {ed:.5f}, data-vs-data baseline {base:.5f}, untrained model {untrained:.3f}")
    assert rel < 0.10
    assert ed < 0.01 and abs(base) < 0.01 and untrained > 0.1
    # the loss cannot go below the irreducible loss E‖v − f*‖² (≈ 3.0 averaged over uniform t on this mixture)
    assert 2.8 < losses[-200:].mean() < 3.3


def test_seeded():
    c = FlowConfig(steps=20, batch=64)
    a, la, _ = train_rectified_flow(BIMODAL, c)
    b, lb, _ = train_rectified_flow(BIMODAL, c)
    np.testing.assert_array_equal(la, lb)
    for p, q in zip(a.parameters(), b.parameters(), strict=True):
        torch.testing.assert_close(p, q, rtol=0, atol=0)


def test_metrics_are_zero_on_one_distribution_and_positive_across():
    g = torch.Generator().manual_seed(0)
    x, y = (sample_mixture(1500, *BIMODAL, generator=g).numpy() for _ in range(2))
    shifted = y + np.array([1.0, 0.0])
    assert abs(energy_distance(x, y)) < 0.01 and energy_distance(x, shifted) > 0.1
    assert abs(mmd2(x, y)) < 0.005 and mmd2(x, shifted) > 0.02
