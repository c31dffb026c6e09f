"""Attention (spec/attention.py): the accelerated contract functions against independent constructions, conventions,
bad input, and planted bugs the suite must catch."""
import pytest
import torch

import accelerated.attention as A
from spec import SpecInputError


def _naive(q, k, v, mask=None):
    s = q @ k.transpose(-1, -2) / q.shape[-1] ** 0.5
    if mask is not None:
        s = s.masked_fill(~mask, float("-inf"))
    return torch.softmax(s, -1) @ v


def test_sdpa_matches_the_textbook_formula_with_and_without_a_mask():
    g = torch.Generator().manual_seed(0)
    q, k, v = (torch.randn(2, 3, n, 4, generator=g, dtype=torch.float64) for n in (5, 6, 6))
    torch.testing.assert_close(A.sdpa(q, k, v), _naive(q, k, v), rtol=1e-12, atol=1e-12)
    mask = torch.rand(2, 1, 1, 6, generator=g) > 0.3
    mask[..., 0] = True
    torch.testing.assert_close(A.sdpa(q, k, v, mask), _naive(q, k, v, mask), rtol=1e-12, atol=1e-12)


def test_a_query_with_no_admissible_key_outputs_zero():
    q, k, v = torch.randn(1, 2, 4), torch.randn(1, 3, 4), torch.randn(1, 3, 4)
    mask = torch.tensor([[True, True, False], [False, False, False]])
    out = A.sdpa(q, k, v, mask)
    assert torch.equal(out[0, 1], torch.zeros(4))


def test_attention_matches_torch_multihead_attention():
    g = torch.Generator().manual_seed(1)
    D, heads = 8, 2
    mha = torch.nn.MultiheadAttention(D, heads, batch_first=True, dtype=torch.float64)
    x = torch.randn(2, 5, D, generator=g, dtype=torch.float64)
    ctx = torch.randn(2, 3, D, generator=g, dtype=torch.float64)
    wq, wk, wv = mha.in_proj_weight.chunk(3)
    bq, bk, bv = mha.in_proj_bias.chunk(3)
    with torch.no_grad():
        mha.in_proj_bias.normal_(generator=g)
        mha.out_proj.bias.normal_(generator=g)
        want, _ = mha(x, ctx, ctx, need_weights=False)
        got = A.attention(x, ctx, wq, wk, wv, mha.out_proj.weight, heads, bq, bk, bv, mha.out_proj.bias)
        torch.testing.assert_close(got, want, rtol=1e-12, atol=1e-12)
        pad = torch.tensor([[True, True, False], [True, False, False]])
        want, _ = mha(x, ctx, ctx, key_padding_mask=~pad, need_weights=False)
        got = A.attention(x, ctx, wq, wk, wv, mha.out_proj.weight, heads, bq, bk, bv, mha.out_proj.bias,
                          mask=pad[:, None, :])
        torch.testing.assert_close(got, want, rtol=1e-12, atol=1e-12)


def test_joint_attention_is_one_attention_over_the_concatenated_tokens():
    g = torch.Generator().manual_seed(2)
    B, L, M, D, E, heads = 2, 4, 3, 6, 8, 2
    x = torch.randn(B, L, D, generator=g, dtype=torch.float64)
    c = torch.randn(B, M, D, generator=g, dtype=torch.float64)
    w_x = tuple(torch.randn(*s, generator=g, dtype=torch.float64) for s in ((E, D), (E, D), (E, D), (D, E)))
    w_c = tuple(torch.randn(*s, generator=g, dtype=torch.float64) for s in ((E, D), (E, D), (E, D), (D, E)))
    pad = torch.tensor([[True, True, True], [True, False, False]])
    xo, co = A.joint_attention(x, c, w_x, w_c, heads, mask_c=pad)

    def proj(i):
        return torch.cat([x @ w_x[i].T, c @ w_c[i].T], 1).reshape(B, L + M, heads, E // heads).transpose(1, 2)
    keep = torch.cat([torch.ones(B, L, dtype=torch.bool), pad], 1)[:, None, None, :]
    o = _naive(proj(0), proj(1), proj(2), keep).transpose(1, 2).reshape(B, L + M, E)
    torch.testing.assert_close(xo, o[:, :L] @ w_x[3].T, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(co, o[:, L:] @ w_c[3].T, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("call", [
    lambda: A.sdpa(torch.zeros(2, 4), torch.zeros(3, 5), torch.zeros(3, 4)),
    lambda: A.sdpa(torch.zeros(2, 4), torch.zeros(3, 4), torch.zeros(2, 4)),
    lambda: A.sdpa(torch.zeros(2, 4), torch.zeros(3, 4), torch.zeros(3, 4), mask=torch.ones(2, 3)),
    lambda: A.attention(torch.zeros(1, 2, 4), torch.zeros(1, 3, 4), *(torch.zeros(6, 4),) * 3, torch.zeros(4, 6), 4),
    lambda: A.joint_attention(torch.zeros(1, 2, 4), torch.zeros(1, 3, 4), (torch.zeros(4, 4),) * 3,
                              (torch.zeros(4, 4),) * 4, 2),
])
def test_bad_input_raises_spec_input_error(call):
    with pytest.raises(SpecInputError):
        call()
