"""Video latents (spec/video.py): 03's ⚠ token counts, space-time patchify, factorized attention; planted bugs."""
import math

import numpy as np
import pytest
import torch

import genspec.accelerated.attention as AT
import genspec.accelerated.video as A
import genspec.reference.video as R
from genspec.conformance import Target
from genspec.conformance.harness.api import check, failing
from genspec.conformance.harness.cli import explain_text
from genspec.conformance.harness.target import from_modules
from genspec.spec import SpecInputError


def test_the_notes_video_numbers_by_hand():
    assert R.video_latent_shape(16, 256, 256, 4, 8, 16)["latent"] == (4, 32, 32, 16)
    movie = R.video_latent_shape(256, 768, 768, 8, 8, 16)
    assert movie["latent"][:3] == (32, 96, 96) and movie["positions"] == 294_912 == movie["tokens"]   # "~295K"
    assert R.video_latent_shape(256, 768, 768, 8, 8, 16, p=2)["tokens"] == 32 * 48 * 48 == 73_728    # "76K"
    assert R.video_latent_shape(17, 256, 256, 4, 8, 16, temporal="causal")["latent"] == (5, 32, 32, 16)
    for args in ((16, 256, 256, 4, 8, 16), (256, 768, 768, 8, 8, 16, 1, 2), (8, 16, 16, 2, 2, 4, 2, 2)):
        assert A.video_latent_shape(*args) == R.video_latent_shape(*args)


def test_factorized_attention_is_spatial_then_temporal_attention_by_hand():
    g = torch.Generator().manual_seed(0)
    B, T, S, D, heads = 2, 3, 4, 4, 2
    x = torch.randn(B, T, S, D, generator=g, dtype=torch.float64)
    w_s = tuple(torch.randn(D, D, generator=g, dtype=torch.float64) / 2 for _ in range(4))
    w_t = tuple(torch.randn(D, D, generator=g, dtype=torch.float64) / 2 for _ in range(4))
    s = torch.stack([AT.attention(x[:, t], x[:, t], *w_s, heads) for t in range(T)], dim=1)
    y = torch.stack([AT.attention(s[:, :, n], s[:, :, n], *w_t, heads) for n in range(S)], dim=2)
    torch.testing.assert_close(A.factorized_attention(x, w_s, w_t, heads), y, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(R.factorized_attention(x.numpy(), [w.numpy() for w in w_s],
                                                      [w.numpy() for w in w_t], heads), y.numpy(), atol=1e-12)


def test_cost_of_factorized_against_full_attention():
    T, S = 32, 96 * 96
    full, fact = (T * S) ** 2, T * S**2 + S * T**2
    assert full / fact == pytest.approx(T * S / (S + T), rel=1e-15) and round(full / fact, 1) == 31.9


def _target(overrides, conventions=None):
    base = from_modules("accelerated", "accelerated", "torch").bindings
    bindings = {k: v for k, v in base.items() if k.startswith("video.")}
    bindings.update(overrides)
    return Target(name="planted", backend="torch", bindings=bindings, conventions=conventions or {})


def _frame_innermost(x, p_t, p):                   # τ after (a, b) in the features: a wrong layout
    C, T, H, W = x.shape[-4:]
    y = x.reshape(*x.shape[:-4], C, T // p_t, p_t, H // p, p, W // p, p)
    n = x.ndim - 4
    y = y.permute(*range(n), n + 1, n + 3, n + 5, n + 4, n + 6, n + 2, n)
    return y.reshape(*x.shape[:-4], (T // p_t) * (H // p) * (W // p), p_t * p * p * C)


def _temporal_first(x, w_s, w_t, heads):
    return A.factorized_attention(A.factorized_attention(x, None, w_t, heads), w_s, None, heads)


def _patch_ignored(T, H, W, f_t, f, c, p_t=1, p=1):   # counts positions as tokens whatever the patch ("295K")
    out = dict(A.video_latent_shape(T, H, W, f_t, f, c, p_t, p))
    out["tokens"] = out["positions"]
    return out


PLANTED = {"video.patchify": _frame_innermost, "video.factorized_attention": _temporal_first,
           "video.tokens": _patch_ignored}


@pytest.mark.parametrize("clause", sorted(PLANTED))
def test_planted_bug_fails_exactly_its_clause(clause):
    res = check(_target({clause: PLANTED[clause]}), ["video"], target_independent=False, shrink=False)
    assert failing(res) == {clause}, {k: r.failures for k, r in res.items() if r.failures}


def _causal_shape(T, H, W, f_t, f, c, p_t=1, p=1):
    t, h, w = 1 + (T - 1) // f_t, H // f, W // f
    return {"latent": (t, h, w, c), "positions": t * h * w, "tokens": (t // p_t) * (h // p) * (w // p)}


def test_declared_causal_variant_conforms():
    res = check(_target({"video.tokens": _causal_shape}, {"video.tokens": {"temporal": "causal"}}), ["video.tokens"],
                target_independent=False)
    assert failing(res) == set(), res["video.tokens"].failures


@pytest.mark.parametrize("cid", ["video.tokens", "video.patchify", "video.factorized_attention"])
def test_explain_renders(cid):
    text = explain_text(cid)
    assert cid in text and "Worked example" in text and "Tolerances" in text


@pytest.mark.parametrize("call, clause, arg", [
    (lambda: R.video_latent_shape(15, 256, 256, 4, 8, 16), "video.tokens", "T/H/W"),
    (lambda: R.video_latent_shape(16, 256, 256, 4, 8, 16, temporal="causal"), "video.tokens", "T/H/W"),
    (lambda: A.video_latent_shape(16, 256, 256, 4, 8, 16, p_t=3), "video.tokens", "p_t"),
    (lambda: R.patchify(np.zeros((1, 3, 4, 4)), 2, 2), "video.patchify", "x"),
    (lambda: A.patchify(torch.zeros(1, 2, 4, 4), 1, 3), "video.patchify", "x"),
    (lambda: A.factorized_attention(torch.zeros(1, 2, 3), None, None, 1), "video.factorized_attention", "x"),
    (lambda: A.factorized_attention(torch.zeros(1, 2, 3, 4), (torch.eye(4),) * 3, None, 1),
     "video.factorized_attention", "w_s"),
])
def test_bad_input_names_clause_and_argument(call, clause, arg):
    with pytest.raises(SpecInputError) as e:
        call()
    assert e.value.clause == clause and e.value.argument == arg


def test_half_precision_is_preserved():
    x = torch.randn(1, 2, 3, 4, dtype=torch.bfloat16)
    w = tuple(torch.randn(4, 4, dtype=torch.bfloat16) / math.sqrt(4) for _ in range(4))
    assert A.factorized_attention(x, w, w, 2).dtype == torch.bfloat16
    assert A.patchify(torch.zeros(1, 3, 2, 4, 4, dtype=torch.bfloat16), 2, 2).dtype == torch.bfloat16
