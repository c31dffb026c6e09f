"""DiT and U-Net: configs, shapes, identity at initialisation, and agreement of the model's modules with the
clause functions of the float64 reference (reference.dit, reference.attention)."""
import numpy as np
import pytest
import torch

import genspec.reference.attention as RA
import genspec.reference.dit as RD
from genspec.accelerated.models.dit import (
    DIT_CONFIGS,
    DiT,
    DiTBlock,
    DiTConfig,
    JointBlock,
    count_parameters,
    forward_flops,
)
from genspec.accelerated.models.layers import Attention
from genspec.accelerated.models.text import TextEmbedding
from genspec.accelerated.models.unet import UNet, UNetConfig

SMALL = dict(input_size=8, in_channels=4, patch=2, width=32, depth=2, heads=4, num_classes=5, learn_sigma=False,
             text_width=16)


def _text(B=3, M=6, D=16, seed=0):
    g = torch.Generator().manual_seed(seed)
    mask = torch.ones(B, M, dtype=torch.bool)
    mask[0, 3:] = False
    return TextEmbedding(torch.randn(B, M, D, generator=g), mask, torch.randn(B, D, generator=g))


def test_configs_and_parameter_counts():
    assert len(DIT_CONFIGS) == 12 and {c.patch for c in DIT_CONFIGS.values()} == {2, 4, 8}
    xl = count_parameters(DIT_CONFIGS["DiT-XL/2"])                 # built on the meta device
    assert abs(xl - 675e6) / 675e6 < 0.01, xl
    assert abs(count_parameters(DIT_CONFIGS["DiT-B/2"]) - 130e6) / 130e6 < 0.01
    assert abs(count_parameters(DIT_CONFIGS["DiT-S/2"]) - 33e6) / 33e6 < 0.01
    assert DIT_CONFIGS["DiT-XL/2"].tokens == 256 and DIT_CONFIGS["DiT-XL/8"].tokens == 16
    # forward FLOPs: DiT's Table 4 gives 118.6 GFLOPs (multiply-adds) for DiT-XL/2 → 237 GFLOP at 2 per multiply-add
    assert abs(forward_flops(DIT_CONFIGS["DiT-XL/2"]) / 2 - 118.6e9) / 118.6e9 < 0.03


@pytest.mark.parametrize("cond", ["label", "cross", "joint"])
def test_dit_shapes_and_zero_output_at_init(cond):
    torch.manual_seed(0)
    m = DiT(DiTConfig(cond=cond, **SMALL))
    x, t = torch.randn(3, 4, 8, 8), torch.rand(3)
    y = torch.tensor([0, 4, 5]) if cond == "label" else _text()
    out = m(x, t, y)
    assert out.shape == x.shape and torch.equal(out, torch.zeros_like(out))     # zero final layer (DiT)
    out = DiT(DiTConfig(cond="label", **{**SMALL, "learn_sigma": True}))(x, t, torch.tensor([0, 1, 5]))
    assert out.shape == (3, 8, 8, 8)


@pytest.mark.parametrize("cond", ["label", "cross"])
def test_every_dit_block_is_the_identity_at_init(cond):
    torch.manual_seed(0)
    c = DiTConfig(cond=cond, **SMALL)
    x, cvec = torch.randn(3, 16, 32), torch.randn(3, 32)
    text = TextEmbedding(torch.randn(3, 6, 32), _text().mask, torch.randn(3, 32))
    for block in DiT(c).blocks:
        assert torch.equal(block(x, cvec, text), x)
    assert isinstance(DiT(c).blocks[0], DiTBlock)


def test_every_joint_block_is_the_identity_at_init():
    torch.manual_seed(0)
    x, cvec = torch.randn(3, 16, 32), torch.randn(3, 32)
    text = TextEmbedding(torch.randn(3, 6, 32), _text().mask, torch.randn(3, 32))
    for block in DiT(DiTConfig(cond="joint", **SMALL)).blocks:
        assert isinstance(block, JointBlock)
        xo, ho = block(x, cvec, text)
        assert torch.equal(xo, x) and torch.equal(ho, text.tokens)


def _randomise(module, seed=1):
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in module.parameters():
            p.copy_(torch.randn(p.shape, generator=g, dtype=p.dtype) * 0.3)


def test_token_and_time_embedding_agree_with_the_clauses():
    m = DiT(DiTConfig(cond="label", **SMALL)).double()
    x = torch.randn(2, 4, 8, 8, dtype=torch.float64)
    W, b = m.x_embedder.weight.detach().numpy(), m.x_embedder.bias.detach().numpy()
    rows, cols = np.repeat(np.arange(4.0), 4), np.tile(np.arange(4.0), 4)
    pos = np.concatenate([RD.timestep_embedding(rows, 16), RD.timestep_embedding(cols, 16)], axis=1)
    want = RD.patchify(x.numpy(), 2) @ W.T + b + pos
    # atol: the fixed positions are a float32 buffer (|pos| ≤ 1, so rounding ≤ 6e-8)
    np.testing.assert_allclose(m.embed(x).detach().numpy(), want, rtol=1e-12, atol=1e-7)
    t = torch.tensor([0.0, 0.3, 1.0], dtype=torch.float64)
    lin = m.t_embedder.mlp[0]
    got = m.t_embedder.mlp[0](torch.as_tensor(RD.timestep_embedding(1000 * t.numpy(), 256)))
    inner = lin.weight.detach().numpy() @ RD.timestep_embedding(1000 * t.numpy(), 256).T
    np.testing.assert_allclose(got.detach().numpy(), inner.T + lin.bias.detach().numpy(), rtol=1e-12)
    # the whole output is unpatchify of the final layer's tokens
    _randomise(m)
    y = torch.tensor([1, 5])
    out = m(x, torch.tensor([0.2, 0.9], dtype=torch.float64), y)
    assert out.shape == x.shape


def _ref_attention(attn, x, ctx, mask=None):
    w = [getattr(attn, n).weight.detach().numpy() for n in "qkvo"]
    b = [getattr(attn, n).bias.detach().numpy() for n in "qkvo"]
    return RA.attention(x, ctx, *w, attn.heads, *b, mask=mask)


def test_attention_module_agrees_with_the_clause():
    torch.manual_seed(0)
    a = Attention(32, 4, context_dim=16).double()
    x, ctx = torch.randn(2, 5, 32, dtype=torch.float64), torch.randn(2, 7, 16, dtype=torch.float64)
    mask = torch.ones(2, 1, 7, dtype=torch.bool)
    mask[1, 0, 4:] = False
    np.testing.assert_allclose(a(x, ctx, mask).detach().numpy(), _ref_attention(a, x.numpy(), ctx.numpy(),
                                                                                mask.numpy()), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("cond", ["label", "cross"])
def test_dit_block_agrees_with_the_clauses(cond):
    """The block recomputed with reference.dit (adaln, gated_residual) and reference.attention in float64."""
    block = DiT(DiTConfig(cond=cond, **SMALL)).blocks[0].double()
    _randomise(block)
    g = torch.Generator().manual_seed(2)
    x, c = torch.randn(3, 16, 32, generator=g, dtype=torch.float64), torch.randn(3, 32, generator=g,
                                                                                   dtype=torch.float64)
    text = TextEmbedding(torch.randn(3, 6, 32, generator=g, dtype=torch.float64), _text().mask, None)
    got = block(x, c, text).detach().numpy()

    lin = block.adaLN_modulation[1]
    silu = c.numpy() / (1 + np.exp(-c.numpy()))
    mod = silu @ lin.weight.detach().numpy().T + lin.bias.detach().numpy()
    b1, s1, g1, b2, s2, g2 = np.split(mod[:, None, :], 6, axis=-1)
    h = RD.gated_residual(x.numpy(), g1, _ref_attention(block.attn, RD.adaln(x.numpy(), 1 + s1, b1, eps=1e-6),
                                                       RD.adaln(x.numpy(), 1 + s1, b1, eps=1e-6)))
    if cond == "cross":
        ln = block.cross_norm
        n = (h - h.mean(-1, keepdims=True)) / np.sqrt(h.var(-1, keepdims=True) + ln.eps)
        n = n * ln.weight.detach().numpy() + ln.bias.detach().numpy()
        h = h + _ref_attention(block.cross, n, text.tokens.numpy(), text.mask.numpy()[:, None, :])
    mlp = block.mlp
    a = RD.adaln(h, 1 + s2, b2, eps=1e-6)
    z = a @ mlp.fc1.weight.detach().numpy().T + mlp.fc1.bias.detach().numpy()
    z = 0.5 * z * (1 + np.tanh(np.sqrt(2 / np.pi) * (z + 0.044715 * z ** 3)))
    want = RD.gated_residual(h, g2, z @ mlp.fc2.weight.detach().numpy().T + mlp.fc2.bias.detach().numpy())
    np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-10)


def test_joint_block_attention_agrees_with_the_clause():
    block = DiT(DiTConfig(cond="joint", **SMALL)).blocks[0].double()
    _randomise(block)
    g = torch.Generator().manual_seed(3)
    x, h = torch.randn(2, 16, 32, generator=g, dtype=torch.float64), torch.randn(2, 6, 32, generator=g,
                                                                                   dtype=torch.float64)
    mask = _text(B=2).mask
    from genspec.accelerated.attention import joint_attention
    got = joint_attention(x, h, block.x_stream.weights(), block.c_stream.weights(), block.heads, mask_c=mask)
    want = RA.joint_attention(x.numpy(), h.numpy(), [w.detach().numpy() for w in block.x_stream.weights()],
                              [w.detach().numpy() for w in block.c_stream.weights()], block.heads, mask.numpy())
    for a, b in zip(got, want, strict=True):
        np.testing.assert_allclose(a.detach().numpy(), b, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("injection", ["film", "adaln", "add"])
@pytest.mark.parametrize("cond", ["text", "label", "none"])
def test_unet_shapes_and_zero_output_at_init(injection, cond):
    torch.manual_seed(0)
    c = UNetConfig(resolution=64, channels=(8, 16, 16, 32), heads=2, time_injection=injection, cond=cond,
                   text_width=16, num_classes=5)
    m = UNet(c)
    x, t = torch.randn(2, 3, 64, 64), torch.rand(2)
    y = _text(B=2) if cond == "text" else (torch.tensor([0, 5]) if cond == "label" else None)
    out = m(x, t, y)
    assert out.shape == x.shape and torch.equal(out, torch.zeros_like(out))
    # resolutions 64 → 32 → 16 → 8, attention at 16 and 8 only
    assert [lv.attn is not None for lv in m.down] == [False, False, True, True]
    _randomise(m)
    out = m(x, t, y)
    out.square().mean().backward()
    assert all(p.grad is not None for p in m.parameters() if p.requires_grad and p is not getattr(
        getattr(m, "null", None), "token", None) and p is not getattr(getattr(m, "null", None), "pooled", None))


def test_attention_module_bound_as_a_conformance_target_agrees_with_the_reference():
    """Non-square widths (E ≠ Ev ≠ D_out), biases absent and present, a key-padding mask."""
    from genspec.accelerated.models.targets import target
    cross = target.binding("attention.cross")
    g = torch.Generator().manual_seed(4)
    r = lambda *s: torch.randn(*s, generator=g, dtype=torch.float64)
    x, ctx = r(2, 5, 12), r(2, 7, 10)
    w = (r(8, 12), r(8, 10), r(6, 10), r(9, 6))
    mask = torch.rand(2, 1, 7, generator=g) > 0.3
    mask[..., 0] = True
    for b in [(None,) * 4, (r(8), r(8), r(6), r(9))]:
        got = cross(x, ctx, *w, 2, *b, mask=mask)
        want = RA.attention(x.numpy(), ctx.numpy(), *[a.numpy() for a in w], 2,
                            *[None if a is None else a.numpy() for a in b], mask=mask.numpy())
        np.testing.assert_allclose(got.numpy(), want, rtol=1e-10, atol=1e-12)


def test_attention_module_passes_the_conformance_checks():
    from genspec.accelerated.models.targets import target
    from genspec.conformance.harness.api import check
    r = check(target, ["attention.cross"], target_independent=False)["attention.cross"]
    assert r.status == "passed" and r.passed, r.failures


def test_unet_film_resblock_agrees_with_the_clause():
    """The FiLM ResBlock recomputed with reference.dit.film on the block's own intermediate features."""
    from genspec.accelerated.models.unet import ResBlock
    c = UNetConfig(channels=(8,), groups=4)
    blk = ResBlock(8, 8, 16, c).double()
    _randomise(blk)
    g = torch.Generator().manual_seed(6)
    x, e = torch.randn(2, 8, 4, 4, generator=g, dtype=torch.float64), torch.randn(2, 16, generator=g,
                                                                                    dtype=torch.float64)
    h = blk.norm(blk.in_layers(x))
    gamma, beta = blk.emb(e)[:, :, None, None].chunk(2, dim=1)
    want = x + blk.out(torch.as_tensor(RD.film(h.detach().numpy(), 1 + gamma.detach().numpy(),
                                               beta.detach().numpy())))
    torch.testing.assert_close(blk(x, e), want, rtol=1e-12, atol=1e-12)
