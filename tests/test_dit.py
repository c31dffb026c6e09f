"""DiT blocks (spec/dit.py): the accelerated contract functions against independent constructions, conventions,
bad input, and planted bugs the suite must catch."""
import math

import numpy as np
import pytest
import torch

import accelerated.dit as A
from spec import SpecInputError


# ---- the contract (accelerated/dit.py) against independent constructions ------------------------
def test_patchify_layout_is_nhwpqc_and_unpatchify_inverts_it():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(2, 3, 4, 6, generator=g, dtype=torch.float64)
    p = 2
    tok = A.patchify(x, p)
    assert tok.shape == (2, (4 // p) * (6 // p), p * p * 3)
    for i in range(2):
        for j in range(3):
            for a in range(p):
                for b in range(p):
                    for c in range(3):
                        assert tok[1, i * 3 + j, (a * p + b) * 3 + c] == x[1, c, i * p + a, j * p + b]
    assert torch.equal(A.unpatchify(tok, p, 4, 6), x)


def test_patch_embedding_conv_equals_linear_on_patches():
    """Conv2d(C, D, p, stride p) (diffusers' PatchEmbed.proj) = patchify then a linear map whose (D, p·p·C) weight is
    the conv weight (D, C, p, p) permuted to (D, p, p, C)."""
    g = torch.Generator().manual_seed(1)
    C, D, p = 3, 5, 2
    x = torch.randn(2, C, 4, 4, generator=g, dtype=torch.float64)
    w = torch.randn(D, C, p, p, generator=g, dtype=torch.float64)
    b = torch.randn(D, generator=g, dtype=torch.float64)
    conv = torch.nn.functional.conv2d(x, w, b, stride=p).flatten(2).transpose(1, 2)
    lin = A.patchify(x, p) @ w.permute(0, 2, 3, 1).reshape(D, -1).T + b
    torch.testing.assert_close(conv, lin, rtol=1e-13, atol=1e-13)


def test_timestep_embedding_matches_the_formula_and_pads_odd_dims():
    t = torch.tensor([0.0, 1.0, 999.0], dtype=torch.float64)
    e = A.timestep_embedding(t, 7)
    half = 3
    for n, tv in enumerate(t.tolist()):
        for k in range(half):
            f = math.exp(-math.log(10000.0) * k / half)
            assert e[n, k].item() == pytest.approx(math.cos(tv * f), abs=1e-12)
            assert e[n, half + k].item() == pytest.approx(math.sin(tv * f), abs=1e-12)
        assert e[n, 6] == 0
    assert A.timestep_embedding(torch.tensor([3, 5]), 4).dtype == torch.float32


def test_adaln_is_layernorm_then_modulation_and_dit_modulate_maps_to_one_plus_scale():
    g = torch.Generator().manual_seed(2)
    h = torch.randn(2, 5, 8, generator=g, dtype=torch.float64)
    shift, scale = torch.randn(2, 1, 8, generator=g, dtype=torch.float64), torch.randn(2, 1, 8, generator=g,
                                                                                       dtype=torch.float64)
    mu, var = h.mean(-1, keepdim=True), h.var(-1, unbiased=False, keepdim=True)
    want = (h - mu) / torch.sqrt(var + 1e-6) * (1 + scale) + shift
    torch.testing.assert_close(A.adaln(h, 1 + scale, shift), want, rtol=1e-12, atol=1e-12)
    ln = torch.nn.LayerNorm(8, elementwise_affine=False, eps=1e-6, dtype=torch.float64)
    torch.testing.assert_close(A.adaln(h, 1 + scale, shift), ln(h) * (1 + scale) + shift, rtol=1e-12, atol=1e-12)


def test_film_and_gated_residual():
    g = torch.Generator().manual_seed(3)
    h = torch.randn(2, 3, 4, 4, generator=g)
    gamma, beta = torch.randn(2, 3, 1, 1, generator=g), torch.randn(2, 3, 1, 1, generator=g)
    torch.testing.assert_close(A.film(h, gamma, beta), gamma * h + beta)
    x, br = torch.randn(2, 5, 8, generator=g), torch.randn(2, 5, 8, generator=g)
    assert torch.equal(A.gated_residual(x, torch.zeros(2, 1, 8), br), x)


def test_half_precision_is_preserved():
    h = torch.randn(2, 4, 8).to(torch.bfloat16)
    assert A.adaln(h, torch.ones(8, dtype=torch.bfloat16), torch.zeros(8, dtype=torch.bfloat16)).dtype == torch.bfloat16
    assert A.patchify(torch.zeros(1, 3, 4, 4, dtype=torch.bfloat16), 2).dtype == torch.bfloat16


@pytest.mark.parametrize("call", [
    lambda: A.patchify(torch.zeros(1, 3, 5, 4), 2),
    lambda: A.patchify(torch.zeros(1, 3, 4, 4), 0),
    lambda: A.unpatchify(torch.zeros(1, 3, 12), 2, 4, 4),
    lambda: A.timestep_embedding(torch.zeros(2, 2), 8),
    lambda: A.adaln(torch.zeros(2, 4), torch.ones(3), torch.zeros(4)),
    lambda: A.adaln(torch.zeros(2, 4), torch.ones(4), torch.zeros(4), eps=0),
    lambda: A.film(torch.full((2,), np.nan), torch.ones(2), torch.zeros(2)),
])
def test_bad_input_raises_spec_input_error(call):
    with pytest.raises(SpecInputError):
        call()
