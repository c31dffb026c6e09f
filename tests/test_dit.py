"""DiT blocks (spec/dit.py): the accelerated contract functions against independent constructions, conventions,
bad input, and planted bugs the suite must catch."""
import math

import numpy as np
import pytest
import torch

import genspec.accelerated.dit as A
from genspec.spec import SpecInputError


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


# ---- planted bugs: exactly the right clause fails; declared variants conform ---------------------
import genspec.reference.dit as R  # noqa: E402
from genspec.conformance import Target  # noqa: E402
from genspec.conformance.checks.dit import check_identity_at_init  # noqa: E402
from genspec.conformance.harness.api import check, failing  # noqa: E402
from genspec.conformance.harness.cli import explain_text  # noqa: E402
from genspec.conformance.harness.target import from_modules  # noqa: E402

DIT = ["dit", "unet"]


def _target(overrides, conventions=None):
    base = from_modules("accelerated", "accelerated", "torch").bindings
    bindings = {k: v for k, v in base.items() if k.startswith(("dit.", "unet."))}
    bindings.update(overrides)
    return Target(name="planted", backend="torch", bindings=bindings, conventions=conventions or {})


def _channel_first_patchify(x, p):
    C, H, W = x.shape[-3:]
    y = x.reshape(*x.shape[:-3], C, H // p, p, W // p, p)
    n = x.ndim - 3
    y = y.permute(*range(n), n + 1, n + 3, n, n + 2, n + 4)               # (..., h, w, C, a, b)
    return y.reshape(*x.shape[:-3], (H // p) * (W // p), C * p * p)


def _column_major_unpatchify(x, p, H, W):                                 # patches enumerated column by column
    h, w = H // p, W // p
    y = x.reshape(*x.shape[:-2], w, h, x.shape[-1]).transpose(-3, -2).reshape(x.shape)
    return A.unpatchify(y, p, H, W)


def _diffusers_embedding(t, dim, max_period=10000.0, flip_sin_to_cos=False, downscale_freq_shift=1.0, scale=1.0):
    """diffusers.models.embeddings.get_timestep_embedding, written out (its defaults: sin first, shift 1)."""
    half = dim // 2
    exponent = -math.log(max_period) * torch.arange(half, dtype=torch.float64) / (half - downscale_freq_shift)
    emb = scale * t.to(torch.float64)[:, None] * torch.exp(exponent)[None, :]
    emb = torch.cat([torch.sin(emb), torch.cos(emb)], dim=-1)
    if flip_sin_to_cos:
        emb = torch.cat([emb[:, half:], emb[:, :half]], dim=-1)
    if dim % 2:
        emb = torch.nn.functional.pad(emb, (0, 1, 0, 0))
    return emb.to(t.dtype)


def _unbiased_adaln(h, gamma, beta, eps=1e-6):
    mu, var = h.mean(-1, keepdim=True), h.var(-1, keepdim=True, correction=min(1, h.shape[-1] - 1))   # unbiased
    return gamma * (h - mu) / torch.sqrt(var + eps) + beta


def _dit_modulate(h, gamma, beta, eps=1e-6):
    """DiT's modulate(norm(h), shift, scale) = norm(h) * (1 + scale) + shift, its (scale, shift) in the (γ, β) slots."""
    scale, shift = gamma, beta
    return torch.nn.functional.layer_norm(h, h.shape[-1:], eps=eps) * (1 + scale) + shift


PLANTED = {
    "dit.patchify": _channel_first_patchify,
    "dit.unpatchify": _column_major_unpatchify,
    "dit.timestep_embedding": lambda t, dim, max_period=10000.0: _diffusers_embedding(t, dim, max_period,
                                                                                       downscale_freq_shift=0.0),
    "dit.adaln": _unbiased_adaln,
    "unet.film": lambda h, gamma, beta: gamma * (h + beta),
    "dit.adaln_zero": lambda x, gate, branch: x + (1 + gate) * branch,
}


@pytest.mark.parametrize("clause", sorted(PLANTED))
def test_planted_bug_fails_exactly_its_clause(clause):
    res = check(_target({clause: PLANTED[clause]}), [clause], target_independent=False, shrink=False)
    assert failing(res) == {clause}, {k: r.failures for k, r in res.items()}


def test_all_planted_bugs_together_fail_exactly_their_clauses_and_nothing_else():
    planted = {k: v for k, v in PLANTED.items() if k in ("dit.patchify", "dit.adaln")}
    res = check(_target(planted), DIT, target_independent=False, shrink=False)
    assert failing(res) == set(planted), {k: r.failures for k, r in res.items() if r.failures}


def test_declared_variants_conform():
    """diffusers' get_timestep_embedding (sin first, shift 1), DiT's modulate and channel-first patches conform when
    the target declares those variants."""
    tgt = _target({"dit.timestep_embedding": _diffusers_embedding, "dit.adaln": _dit_modulate,
                   "dit.patchify": _channel_first_patchify},
                  {"dit.timestep_embedding": {"order": "sin_cos", "freq_shift": "shift_1"},
                   "dit.adaln": {"modulation": "one_plus_scale"}, "dit.patchify": {"layout": "channel_first"}})
    res = check(tgt, ["dit.timestep_embedding", "dit.adaln", "dit.patchify"], target_independent=False)
    assert failing(res) == set(), {k: r.failures for k, r in res.items() if r.failures}


def test_times_1000_variant_is_the_embedding_of_1000_t():
    t = np.array([0.0, 0.25, 1.0])
    np.testing.assert_allclose(R.timestep_embedding(t, 8, time_scale="times_1000"), R.timestep_embedding(1000 * t, 8),
                               rtol=0, atol=1e-12)
    np.testing.assert_allclose(R.timestep_embedding(t, 8, order="sin_cos")[:, :4], np.sin(np.outer(t, [1, .1, .01,
                                                                                                       .001])),
                               rtol=0, atol=1e-15)


def test_a_torch_dit_block_with_zero_initialised_modulation_is_the_identity():
    """The helper h10's DiT blocks can be checked with: AdaLN-Zero block built from the accelerated functions."""
    torch.manual_seed(0)
    D, heads = 8, 2
    mod = torch.nn.Linear(D, 6 * D, dtype=torch.float64)
    torch.nn.init.zeros_(mod.weight)
    torch.nn.init.zeros_(mod.bias)                      # AdaLN-Zero: the modulation starts at 0
    w = [torch.randn(D, D, dtype=torch.float64) / D**0.5 for _ in range(4)]
    mlp = torch.nn.Linear(D, D, dtype=torch.float64)
    import genspec.accelerated.attention as AT

    def block(x, c):
        x, c = torch.as_tensor(x), torch.as_tensor(c)
        s1, sc1, g1, s2, sc2, g2 = mod(c)[:, None, :].chunk(6, dim=-1)
        h = A.adaln(x, 1 + sc1, s1)
        x = A.gated_residual(x, g1, AT.attention(h, h, *w, heads))
        return A.gated_residual(x, g2, mlp(A.adaln(x, 1 + sc2, s2))).detach().numpy()

    x, c = torch.randn(2, 5, D, dtype=torch.float64), torch.randn(2, D, dtype=torch.float64)
    assert check_identity_at_init(block, x, c) == 0.0
    torch.nn.init.normal_(mod.weight)                   # trained modulation: no longer the identity
    with pytest.raises(AssertionError, match="dit.adaln_zero"):
        check_identity_at_init(block, x, c)


@pytest.mark.parametrize("cid", ["dit.patchify", "dit.unpatchify", "dit.timestep_embedding", "dit.adaln",
                                 "dit.adaln_zero", "unet.film"])
def test_explain_renders(cid):
    text = explain_text(cid)
    assert cid in text and "Provenance" in text and "Tolerances" in text


@pytest.mark.parametrize("call, clause, arg", [
    (lambda: R.patchify(np.zeros((3, 4, 5)), 2), "dit.patchify", "x"),
    (lambda: R.patchify(np.zeros((3, 4, 4)), 2, layout="nchw"), "dit.patchify", "layout"),
    (lambda: R.unpatchify(np.zeros((4, 12)), 2, 4, 6), "dit.unpatchify", "x"),
    (lambda: R.timestep_embedding(np.zeros(2), 2, freq_shift="shift_1"), "dit.timestep_embedding", "dim"),
    (lambda: R.timestep_embedding(np.zeros(2), 0), "dit.timestep_embedding", "dim"),
    (lambda: R.adaln(np.zeros((2, 4)), np.ones(4), np.zeros(4), eps=-1.0), "dit.adaln", "eps"),
    (lambda: A.adaln(torch.zeros(2, 4), torch.ones(3), torch.zeros(4)), "dit.adaln", "gamma"),
    (lambda: A.gated_residual(torch.zeros(2, 4), torch.zeros(5), torch.zeros(2, 4)), "dit.adaln_zero",
     "gate"),
    (lambda: A.timestep_embedding(torch.zeros(2), 8, max_period=1.0), "dit.timestep_embedding", "max_period"),
])
def test_bad_input_names_clause_and_argument(call, clause, arg):
    with pytest.raises(SpecInputError) as e:
        call()
    assert e.value.clause == clause and e.value.argument == arg


def _embedding_in_bfloat16(t, dim, max_period=10000.0):
    """The phase t·f computed in the input's dtype: in bfloat16, t = 1000 carries an error of up to 4 rad."""
    half = dim // 2
    f = torch.exp(-math.log(max_period) * torch.arange(half, dtype=t.dtype) / half)
    arg = t[:, None] * f[None]
    e = torch.cat([torch.cos(arg), torch.sin(arg)], dim=-1)
    return torch.cat([e, e.new_zeros(e.shape[0], dim % 2)], dim=-1)


def test_a_phase_computed_in_bfloat16_fails_the_bfloat16_tolerance():
    tgt = _target({"dit.timestep_embedding": _embedding_in_bfloat16})
    assert failing(check(tgt, ["dit.timestep_embedding"], dtype="bfloat16", target_independent=False,
                         shrink=False)) == {"dit.timestep_embedding"}
    assert failing(check(tgt, ["dit.timestep_embedding"], dtype="float64", target_independent=False)) == set()


def test_unpatchify_equals_dits_einsum():
    """DiT's models.py: x.reshape(N, h, w, p, p, c); einsum('nhwpqc->nchpwq'); reshape(N, c, h·p, w·p)."""
    g = torch.Generator().manual_seed(4)
    N, h, w, p, c = 2, 3, 2, 2, 4
    x = torch.randn(N, h * w, p * p * c, generator=g, dtype=torch.float64)
    dit = torch.einsum("nhwpqc->nchpwq", x.reshape(N, h, w, p, p, c)).reshape(N, c, h * p, w * p)
    assert torch.equal(A.unpatchify(x, p, h * p, w * p), dit)
    np.testing.assert_array_equal(R.unpatchify(x.numpy(), p, h * p, w * p), dit.numpy())
