"""Attention (spec/attention.py): the accelerated contract functions against independent constructions, conventions,
bad input, and planted bugs the suite must catch."""
import pytest
import torch

import genspec.accelerated.attention as A
from genspec.spec import SpecInputError


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


# ---- planted bugs: exactly the right clause fails; declared variants conform ---------------------
import numpy as np  # noqa: E402

import genspec.reference.attention as R  # noqa: E402
from genspec.conformance import Target  # noqa: E402
from genspec.conformance.harness.api import check, failing  # noqa: E402
from genspec.conformance.harness.cli import explain_text  # noqa: E402
from genspec.conformance.harness.target import from_modules  # noqa: E402

ATT = ["attention"]


def _target(overrides, conventions=None):
    base = from_modules("accelerated", "accelerated", "torch").bindings
    bindings = {k: v for k, v in base.items() if k.startswith("attention.")}
    bindings.update(overrides)
    return Target(name="planted", backend="torch", bindings=bindings, conventions=conventions or {})


def _sdpa_over_d(q, k, v, mask=None):                                   # scale 1/d instead of 1/√d
    return A.sdpa(q / q.shape[-1] ** 0.5, k, v, mask)


def _interleaved_heads(x, context, w_q, w_k, w_v, w_o, heads, b_q=None, b_k=None, b_v=None, b_o=None, mask=None):
    """Head h takes every heads-th feature (h, h + H, …) of each projection instead of a contiguous slice."""
    def perm(n):
        return torch.arange(n).reshape(n // heads, heads).T.reshape(-1)
    pe, pv = perm(w_q.shape[0]), perm(w_v.shape[0])
    sel = (lambda b, p: None if b is None else b[p])
    return A.attention(x, context, w_q[pe], w_k[pe], w_v[pv], w_o[:, pv], heads, sel(b_q, pe), sel(b_k, pe),
                       sel(b_v, pv), b_o, mask)


def _two_separate_attentions(x, c, w_x, w_c, heads, mask_c=None):
    """Image and text attend only within their own modality: no joint attention."""
    xo = A.attention(x, x, *w_x, heads)
    co = A.attention(c, c, *w_c, heads, mask=None if mask_c is None else mask_c[:, None, :])
    return xo, co


PLANTED = {
    "attention.sdpa": _sdpa_over_d,
    "attention.cross": _interleaved_heads,
    "attention.joint": _two_separate_attentions,
}


@pytest.mark.parametrize("clause", sorted(PLANTED))
def test_planted_bug_fails_exactly_its_clause(clause):
    res = check(_target({clause: PLANTED[clause]}), ATT, target_independent=False, shrink=False)
    assert failing(res) == {clause}, {k: r.failures for k, r in res.items() if r.failures}


def _mha_style_sdpa(q, k, v, mask=None):
    """True = hidden (nn.MultiheadAttention's key_padding_mask polarity)."""
    return A.sdpa(q, k, v, None if mask is None else ~mask)


def _flax_style_attention(x, context, w_q, w_k, w_v, w_o, heads, b_q=None, b_k=None, b_v=None, b_o=None, mask=None):
    """(in, out) kernels as flax.linen.Dense stores them."""
    return A.attention(x, context, w_q.T, w_k.T, w_v.T, w_o.T, heads, b_q, b_k, b_v, b_o, mask)


def test_declared_variants_conform_and_undeclared_fail():
    conv = {"attention.sdpa": {"mask_polarity": "true_masks"}, "attention.cross": {"weights": "in_out"}}
    planted = {"attention.sdpa": _mha_style_sdpa, "attention.cross": _flax_style_attention}
    clauses = ["attention.sdpa", "attention.cross"]
    assert failing(check(_target(planted, conv), clauses, target_independent=False)) == set()
    assert failing(check(_target(planted), clauses, target_independent=False, shrink=False)) == set(clauses)


def test_reference_safe_softmax_and_large_logits():
    q, k, v = np.array([[1e4, 0.0]]), np.array([[1.0, 0.0], [0.999, 0.0]]), np.array([[1.0], [2.0]])
    out = R.sdpa(q, k, v)                                # logits 7071 and 7064: weights e^0 : e^−7.07
    w = 1 / (1 + np.exp(-(1e4 * 0.001) / np.sqrt(2)))
    np.testing.assert_allclose(out, [[w * 1 + (1 - w) * 2]], rtol=1e-13)
    assert np.array_equal(R.sdpa(q, k, v, mask=np.array([[False, False]])), [[0.0]])
    np.testing.assert_allclose(R.sdpa(q, k, v, mask=np.array([[True, False]]), mask_polarity="true_masks"), [[2.0]])


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_accelerated_preserves_dtype(dtype):
    x = torch.randn(1, 3, 4, dtype=dtype)
    w = torch.randn(4, 4, dtype=dtype)
    assert A.sdpa(x, x, x).dtype == dtype
    assert A.attention(x, x, w, w, w, w, 2).dtype == dtype
    assert all(o.dtype == dtype for o in A.joint_attention(x, x, (w,) * 4, (w,) * 4, 2))


@pytest.mark.parametrize("cid", ["attention.sdpa", "attention.cross", "attention.joint"])
def test_explain_renders(cid):
    text = explain_text(cid)
    assert cid in text and "Worked example" in text and "Tolerances" in text
