"""Vector quantisation and the token-level AR clauses (spec/vq.py): planted bugs, conventions, bad input.

Budget: < 8 s on 2 cores (planted-bug runs of single clauses at the ci profile).
"""
import numpy as np
import pytest
import torch

import genspec.accelerated.vq as A
import genspec.reference.vq as R
from genspec.conformance import Target
from genspec.conformance.harness.api import check, failing
from genspec.conformance.harness.target import from_modules
from genspec.spec import SpecInputError

OURS = ("vq.", "ar.raster_order", "ar.causal_mask", "ar.sampling_distribution", "ar.logit_guidance",
        "ar.plausibility")


def _with(clause, fn, conventions=None):
    base = from_modules("accelerated", "accelerated", "torch")
    bindings = {k: v for k, v in base.bindings.items() if k.startswith(OURS)}
    bindings[clause] = fn
    return Target(name=f"planted:{clause}", backend="torch", bindings=bindings, conventions=conventions or {})


def _expanded_quantize(z, codebook):
    """‖z‖² − 2 z·e + ‖e‖² then argmax instead of argmin."""
    return ((z * z).sum(1, keepdim=True) - 2 * z @ codebook.T + (codebook * codebook).sum(1)).argmax(1)


def _no_stop_gradient(z, z_q, g):
    with torch.enable_grad():
        zz, qq = z.clone().requires_grad_(True), z_q.clone().requires_grad_(True)
        out = zz + (qq - zz)                                          # sg forgotten: the gradient goes to z_q
        gz, gq = torch.autograd.grad(out, (zz, qq), g)
    return out.detach(), gz, gq


def _beta_on_codebook(z, e, beta=0.25):
    with torch.enable_grad():
        zz, ee = z.clone().requires_grad_(True), e.clone().requires_grad_(True)
        L = beta * (zz.detach() - ee).square().sum(1).mean() + (zz - ee.detach()).square().sum(1).mean()
        gz, ge = torch.autograd.grad(L, (zz, ee))
    return L.detach(), gz, ge


PLANTED = {
    "vq.quantize": _expanded_quantize,
    "vq.straight_through": _no_stop_gradient,
    "vq.loss": _beta_on_codebook,                                                    # β on the wrong term
    "ar.raster_order": lambda grid: grid.transpose(1, 2).reshape(grid.shape[0], -1),  # column-major
    "ar.causal_mask": lambda L, device=None: torch.ones(L, L, dtype=torch.bool, device=device).triu(),  # the future
    "ar.sampling_distribution": lambda logits, temperature=1.0, top_k=0: torch.softmax(logits * temperature, 1),
    "ar.logit_guidance": lambda l_y, l_null, w: l_null + w * (l_y - l_null),        # scale form undeclared
    "ar.plausibility": lambda l_y, alpha: l_y >= alpha * l_y.amax(1, keepdim=True),  # α on logits, not on p
}

PLAUSIBILITY_SLIPS = {
    "absolute min-p: p_j ≥ α": lambda l_y, alpha: torch.softmax(l_y, 1) >= alpha,
    "strict: p_j > α max p (α = 1 keeps nothing)": lambda l_y, alpha: (
        torch.softmax(l_y, 1) > alpha * torch.softmax(l_y, 1).amax(1, keepdim=True)),
    "log α on the wrong side: ℓ_j ≥ max ℓ − log α": lambda l_y, alpha: (
        l_y >= l_y.amax(1, keepdim=True) - torch.log(torch.as_tensor(alpha, dtype=l_y.dtype))),
}


@pytest.mark.parametrize("slip", sorted(PLAUSIBILITY_SLIPS))
def test_plausibility_slips_fail(slip):
    res = check(_with("ar.plausibility", PLAUSIBILITY_SLIPS[slip]), ["ar.plausibility"], target_independent=False,
                shrink=False)
    assert failing(res) == {"ar.plausibility"}, slip


@pytest.mark.parametrize("dtype", ["float64", "float32", "bfloat16"])
def test_plausibility_written_from_the_statement_conforms(dtype):
    """p = softmax(ℓ) in the work dtype, then p_j ≥ α max p: the statement's first form, rounding and all."""
    def textbook(l_y, alpha):
        p = torch.softmax(l_y, dim=1)
        return p >= alpha * p.amax(dim=1, keepdim=True)
    res = check(_with("ar.plausibility", textbook), ["ar.plausibility"], dtype=dtype, target_independent=False)
    assert failing(res) == set(), res["ar.plausibility"].failures


@pytest.mark.parametrize("clause", sorted(PLANTED))
def test_planted_bug_fails_exactly_its_clause(clause):
    res = check(_with(clause, PLANTED[clause]), [clause], target_independent=False, shrink=False)
    assert failing(res) == {clause}, {k: r.failures for k, r in res.items() if r.failures}


def test_declared_scale_form_conforms():
    tgt = _with("ar.logit_guidance", PLANTED["ar.logit_guidance"], {"ar.logit_guidance": {"form": "scale"}})
    assert failing(check(tgt, ["ar.logit_guidance"], target_independent=False, shrink=False)) == set()


# ---- the clauses, computed independently ---------------------------------------------------------
def test_quantize_ties_and_nearest():
    cb = np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 0.0], [1.0, 0.0]])
    z = np.array([[0.0, 0.0], [0.5, 0.0], [0.9, 0.1], [-3.0, 0.0]])
    assert R.quantize(z, cb).tolist() == [0, 0, 1, 0]                 # z = (0.5, 0) is equidistant: lowest index
    assert A.quantize(torch.tensor(z), torch.tensor(cb)).tolist() == [0, 0, 1, 0]


def test_loss_variants_and_gradients():
    rng = np.random.default_rng(0)
    z, e = rng.standard_normal((4, 3)), rng.standard_normal((4, 3))
    L, gz, ge = R.vq_loss(z, e, beta=0.5)
    sq = np.mean(np.sum((z - e) ** 2, 1))
    assert L == pytest.approx(1.5 * sq, rel=1e-14)
    np.testing.assert_allclose(gz, 2 * 0.5 * (z - e) / 4, rtol=1e-14)
    np.testing.assert_allclose(ge, 2 * (e - z) / 4, rtol=1e-14)
    L2, gz2, ge2 = R.vq_loss(z, e, beta=0.5, codebook="ema")
    assert L2 == pytest.approx(0.5 * sq, rel=1e-14) and np.all(ge2 == 0)
    np.testing.assert_allclose(gz2, gz, rtol=1e-14)
    La, gza, gea = A.vq_loss(torch.tensor(z), torch.tensor(e), 0.5)
    assert float(La) == pytest.approx(L, rel=1e-14)
    np.testing.assert_allclose(gza.numpy(), gz, rtol=1e-14)
    np.testing.assert_allclose(gea.numpy(), ge, rtol=1e-14)


def test_straight_through_in_a_graph():
    """Decoder gradients reach the encoder output unchanged and never the codebook entry."""
    z = torch.randn(3, 2, requires_grad=True)
    cb = torch.randn(5, 2, requires_grad=True)
    zq = cb[A.quantize(z.detach(), cb.detach())]
    out = A.straight_through_value(z, zq)
    (out * torch.arange(6.0).reshape(3, 2)).sum().backward()
    assert torch.equal(z.grad, torch.arange(6.0).reshape(3, 2))
    assert cb.grad is None                                  # the codebook learns from vq.loss only
    assert torch.allclose(out, zq)


def test_top_k_ties_variants():
    logits = np.array([[3.0, 1.0, 3.0, 1.0, 0.0]])
    keep = R.sampling_probs(logits, top_k=2) > 0
    assert keep.tolist() == [[True, False, True, False, False]]
    keep3 = R.sampling_probs(logits, top_k=3) > 0                    # the 3rd largest (1.0) is tied: both survive
    assert keep3.sum() == 4
    exactly = R.sampling_probs(logits, top_k=3, top_k_ties="exactly_k") > 0
    assert exactly.tolist() == [[True, True, True, False, False]]
    np.testing.assert_allclose(A.sampling_probs(torch.tensor(logits), 1.0, 3).numpy(), R.sampling_probs(logits, 1.0, 3),
                               rtol=1e-14)
    # τ → small: the argmax (ties share the mass)
    np.testing.assert_allclose(R.sampling_probs(logits, temperature=1e-3), [[0.5, 0, 0.5, 0, 0]], atol=1e-300)


def test_logit_guidance_is_llamagen_scale():
    rng = np.random.default_rng(3)
    ly, ln = rng.standard_normal((2, 4)), rng.standard_normal((2, 4))
    s = 4.0
    llamagen = ln + (ly - ln) * s                                     # LlamaGen's line, cfg_scale = s
    np.testing.assert_allclose(R.guided_logits(ly, ln, s, form="scale"), llamagen, rtol=1e-14)
    np.testing.assert_allclose(R.guided_logits(ly, ln, s - 1.0), llamagen, rtol=1e-13)
    got = A.guided_logits(torch.tensor(ly), torch.tensor(ln), s - 1.0).numpy()
    np.testing.assert_allclose(got, llamagen, rtol=1e-13)


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_accelerated_preserves_dtype(dtype):
    z, e = torch.randn(3, 2, dtype=dtype), torch.randn(3, 2, dtype=dtype)
    assert A.vq_loss(z, e)[0].dtype == dtype and A.straight_through(z, e, z)[0].dtype == dtype
    assert A.sampling_probs(z, 0.5, 1).dtype == dtype and A.guided_logits(z, e, 2.0).dtype == dtype
    assert A.quantize(z, e).dtype == torch.long


@pytest.mark.parametrize("call, clause, arg", [
    (lambda: R.quantize(np.ones((2, 3)), np.ones((4, 2))), "vq.quantize", "codebook"),
    (lambda: R.quantize(np.ones((2, 3)), np.ones((0, 3))), "vq.quantize", "codebook"),
    (lambda: R.straight_through(np.ones((2, 3)), np.ones((2, 2)), np.ones((2, 3))), "vq.straight_through", "z_q"),
    (lambda: R.vq_loss(np.ones((2, 3)), np.ones((2, 3)), beta=-1.0), "vq.loss", "beta"),
    (lambda: R.vq_loss(np.ones((2, 3)), np.ones((2, 3)), codebook="kmeans"), "vq.loss", "codebook"),
    (lambda: R.raster_order(np.ones((2, 3, 3))), "ar.raster_order", "grid"),
    (lambda: R.causal_mask(0), "ar.causal_mask", "L"),
    (lambda: R.causal_mask(2.5), "ar.causal_mask", "L"),
    (lambda: R.sampling_probs(np.ones((2, 3)), temperature=0.0), "ar.sampling_distribution", "temperature"),
    (lambda: R.sampling_probs(np.ones((2, 3)), top_k=-1), "ar.sampling_distribution", "top_k"),
    (lambda: R.guided_logits(np.ones((2, 3)), np.ones((2, 3)), 1.0, form="x"), "ar.logit_guidance", "form"),
    (lambda: A.quantize(torch.ones(2, 3), torch.ones(4, 2)), "vq.quantize", "codebook"),
    (lambda: A.raster_order(torch.ones(2, 3, 3)), "ar.raster_order", "grid"),
    (lambda: A.causal_mask(float("nan")), "ar.causal_mask", "L"),
    (lambda: A.sampling_probs(torch.ones(2, 0)), "ar.sampling_distribution", "logits"),
    (lambda: R.plausible_tokens(np.ones((2, 3)), 1.5), "ar.plausibility", "alpha"),
    (lambda: A.plausible_tokens(torch.ones(2, 3), -0.1), "ar.plausibility", "alpha"),
])
def test_bad_input_names_clause_and_argument(call, clause, arg):
    with pytest.raises(SpecInputError) as e:
        call()
    assert e.value.clause == clause and e.value.argument == arg
