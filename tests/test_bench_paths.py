"""The fast paths of the performance work give the plain paths' results: the blocked oracle, the stride-0 t, the
in-place Euler update (never visible to a callable that keeps its argument), the blocked conditional MLP."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from genspec.accelerated import optimal as AO
from genspec.accelerated import sampler as AS
from genspec.accelerated.models.conditional import ConditionalMLPConfig, ConditionalVelocityMLP
from genspec.reference import optimal as RO

RNG = np.random.default_rng(5)
W, M = np.array([0.2, 0.5, 0.3]), RNG.uniform(-2, 2, (3, 3))
Q, _ = np.linalg.qr(RNG.standard_normal((3, 3, 3)))
C = Q @ (RNG.uniform(0.05, 2.0, (3, 3))[..., None] * np.swapaxes(Q, 1, 2))
C = 0.5 * (C + np.swapaxes(C, 1, 2))


@pytest.mark.parametrize("target, path", [("velocity", "rf"), ("epsilon", "vp"), ("x", "ve")])
def test_blocked_oracle_matches_reference_at_every_block_size(monkeypatch, target, path):
    n = 301
    x = RNG.standard_normal((n, 3)) * 2
    t = RNG.uniform(0, 1, n)
    t[:3] = [0.0, 1.0, 0.5]                                    # singular points included
    want = RO.optimal_prediction(x, t, W, M, C, target=target, path=path)
    mix = AO.Mixture(W, M, C)
    for block in (9, 64, 1 << 20):                             # 1, 7 and 100+ rows per block, partial last block
        monkeypatch.setattr(AO, "BLOCK", block)
        got = mix.prediction(torch.tensor(x), torch.tensor(t), target=target, path=path).numpy()
        np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-10, equal_nan=True)


def test_uniform_t_and_autograd_path_match(monkeypatch):
    monkeypatch.setattr(AO, "BLOCK", 64)
    x = torch.tensor(RNG.standard_normal((50, 3)), requires_grad=True)
    mix = AO.Mixture(W, M, C)
    full = mix.prediction(x, torch.full((50,), 0.3, dtype=torch.float64))       # autograd path
    strided = mix.prediction(x.detach(), torch.full((1,), 0.3, dtype=torch.float64).expand(50))
    torch.testing.assert_close(full.detach(), strided, rtol=1e-13, atol=1e-13)
    xh, zh = mix.posterior_means(x.detach(), 0.7, 0.3)
    torch.testing.assert_close(strided, zh - xh, rtol=1e-12, atol=1e-12)                  # rf velocity = E[z − x]
    full.sum().backward()                                                                 # differentiable
    assert x.grad is not None and bool(x.grad.isfinite().all())


def test_euler_in_place_update_never_changes_what_f_kept():
    x1 = torch.tensor(RNG.standard_normal((40, 2)))
    kept, views, ptrs = [], [], []

    def keeps(x, t):                       # keeps its argument (the conformance Recorder does this via NumPy)
        kept.append(x.detach().numpy())
        return 0.3 * x - t[:, None]

    def forgets(x, t):
        ptrs.append(x.data_ptr())
        views.append(float(x.detach()[0, 0]))
        return 0.3 * x - t[:, None]

    a, b = AS.euler_sample(keeps, x1, 6), AS.euler_sample(forgets, x1, 6)
    assert torch.equal(a, b)
    np.testing.assert_array_equal(np.array([k[0, 0] for k in kept]), np.array(views))    # states step by step
    assert len(set(ptrs[1:])) == 1 and ptrs[0] == x1.data_ptr()                            # in place after step 0
    assert float(x1[0, 0]) == views[0]                                                     # x1 untouched
    x1g = x1.clone().requires_grad_()
    AS.euler_sample(forgets, x1g, 3).sum().backward()                                      # autograd: out of place
    torch.testing.assert_close(x1g.grad, torch.full_like(x1, (1 - 0.3 / 3) ** 3))


def test_blocked_mlp_matches_one_pass():
    torch.manual_seed(0)
    blocked = ConditionalVelocityMLP(ConditionalMLPConfig(block_rows=64)).eval()
    one = ConditionalVelocityMLP(ConditionalMLPConfig(block_rows=0)).eval()
    one.load_state_dict(blocked.state_dict())
    x, y, t = torch.randn(200, 2), torch.randint(0, 4, (200,)), torch.rand(200)
    torch.testing.assert_close(blocked(x, y, t), one(x, y, t), rtol=1e-6, atol=1e-6)


def test_prediction_field_is_optimal_prediction_validated_once():
    x = torch.tensor(RNG.standard_normal((30, 3)))
    f = AO.prediction_field(W, M, C, target="epsilon", path="vp")
    t = torch.tensor(RNG.uniform(0, 1, 30))
    torch.testing.assert_close(f(x, t), AO.optimal_prediction(x, t, W, M, C, target="epsilon", path="vp"),
                               rtol=0, atol=0)
    from genspec.spec.errors import SpecInputError
    with pytest.raises(SpecInputError, match="x_t"):
        f(x[:, :2], t)
    with pytest.raises(SpecInputError, match="'t'"):
        f(x, t + 1.0)
    with pytest.raises(SpecInputError, match="target"):
        AO.prediction_field(W, M, C, target="nope")


def test_a_mixture_of_another_dtype_is_promoted():
    x = torch.tensor(RNG.standard_normal((20, 3)))
    t = torch.tensor(RNG.uniform(0, 1, 20))
    want = AO.Mixture(W, M, C).prediction(x, t)
    got = AO.Mixture(W, M, C, dtype=torch.float64).prediction(x.float(), t.float())   # as the old code
    assert got.dtype == torch.float32
    torch.testing.assert_close(got.double(), want, rtol=1e-5, atol=1e-5)
